package enroll

import (
	"fmt"
	"math/big"
	"strconv"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

const (
	// crlValidity is how long a CRL is good for (its NextUpdate).
	crlValidity = 7 * 24 * time.Hour
	// crlRefresh is the age at which a new CRL is signed even without a
	// revocation: well before NextUpdate, so that a relying party never
	// holds an expired list.
	crlRefresh = crlValidity / 2
)

// ErrNoCRL is a CRL asked of a connector whose CA the plugin does not sign
// for (step-ca keeps its own), or of an issuing CA it does not know.
var ErrNoCRL = &Error{Code: CodeNotFound, Message: "No certificate revocation list is published for this CA here."}

// CRLList names the stored list of one issuing CA of a connector: the
// first generation keeps the connector's name (and its numbering from
// before CAs renewed themselves), later ones add theirs.
func CRLList(connectorName string, generation int) string {
	if generation <= 1 {
		return connectorName
	}
	return connectorName + ":" + strconv.Itoa(generation)
}

// CRL is the current revocation list of generation of a connector's
// issuing CA (0 or 1 for the first), signed anew when there is none yet or
// it is due for refresh.
func (c *Core) CRL(connectorName string, generation int) (*records.CRL, error) {
	ca, ok := c.crlIssuer(connectorName, func(is connector.IssuingCA) bool { return is.Generation == max(generation, 1) })
	if !ok {
		return nil, ErrNoCRL
	}
	current, err := c.store.CurrentCRL(CRLList(connectorName, ca.Generation))
	if err != nil {
		return nil, err
	}
	if current != nil && c.now().Before(current.ThisUpdate.Add(crlRefresh)) {
		return current, nil
	}
	return c.publishCRL(connectorName, ca)
}

// PublishCRL signs and records a new revocation list of the CA of a
// connector that issued certificates under issuer (pki.IssuerID),
// numbered after its last one: after every revocation.
func (c *Core) PublishCRL(connectorName, issuer string) (*records.CRL, error) {
	ca, ok := c.crlIssuer(connectorName, func(is connector.IssuingCA) bool { return pki.SubjectID(is.CA.Certificate) == issuer })
	if !ok {
		return nil, ErrNoCRL
	}
	return c.publishCRL(connectorName, ca)
}

// publishCRL signs a list of ca's revoked certificates with ca's own key:
// each issuing CA lists only what it issued.
func (c *Core) publishCRL(connectorName string, ca connector.IssuingCA) (*records.CRL, error) {
	now := c.now()
	revocations, err := c.store.Revocations(connectorName, pki.SubjectID(ca.CA.Certificate), now)
	if err != nil {
		return nil, err
	}
	entries := make([]pki.Revoked, 0, len(revocations))
	for _, r := range revocations {
		serial, ok := new(big.Int).SetString(r.Serial, 16)
		if !ok {
			return nil, fmt.Errorf("revoked certificate %q has no hexadecimal serial", r.Serial)
		}
		entries = append(entries, pki.Revoked{Serial: serial, RevokedAt: time.UnixMilli(r.RevokedAt), ReasonCode: records.ReasonCode(r.Reason)})
	}
	crl, err := c.store.IssueCRL(CRLList(connectorName, ca.Generation), func(number int64) (*records.CRL, error) {
		der, err := ca.CA.SignCRL(number, entries, now, now.Add(crlValidity))
		if err != nil {
			return nil, err
		}
		return &records.CRL{Number: number, ThisUpdate: now, NextUpdate: now.Add(crlValidity), DER: der}, nil
	})
	if err != nil {
		return nil, err
	}
	c.log.LogInfo("Published a certificate revocation list", "connector", connectorName, "generation", ca.Generation, "number", crl.Number, "revoked", len(entries))
	return crl, nil
}

// RefreshCRLs signs a new list for every CA whose list is due, those a CA
// took over from included: a job's duty, so that lists stay fresh on a
// quiet day.
func (c *Core) RefreshCRLs() {
	for name, conn := range c.Connectors {
		signer, ok := connector.Capability[connector.CRLSigner](conn)
		if !ok {
			continue
		}
		for _, ca := range signer.CRLIssuers() {
			if _, err := c.CRL(name, ca.Generation); err != nil {
				c.log.LogError("Could not refresh a certificate revocation list", "connector", name, "generation", ca.Generation, "error", err.Error())
			}
		}
	}
}

// SignsCRL reports whether the plugin signs the lists of a connector's CA.
func (c *Core) SignsCRL(name string) bool {
	_, ok := connector.Capability[connector.CRLSigner](c.Connectors[name])
	return ok
}

func (c *Core) crlIssuer(name string, match func(connector.IssuingCA) bool) (connector.IssuingCA, bool) {
	signer, ok := connector.Capability[connector.CRLSigner](c.Connectors[name])
	if !ok {
		return connector.IssuingCA{}, false
	}
	for _, ca := range signer.CRLIssuers() {
		if match(ca) {
			return ca, true
		}
	}
	return connector.IssuingCA{}, false
}
