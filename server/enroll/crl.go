package enroll

import (
	"errors"
	"fmt"
	"math/big"
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
	// crlRevocationWait bounds how long a revocation waits for the list
	// that names it before its caller is answered; the list is signed all
	// the same, and the job signs any list still behind.
	crlRevocationWait = 10 * time.Second
	// crlServeWait bounds how long a request for a list that is behind
	// waits for the next one before it is served the current one.
	crlServeWait = 3 * time.Second
)

// ErrNoCRL is a CRL asked of a connector whose CA the plugin does not sign
// for (step-ca keeps its own), or of an issuing CA it does not know.
var ErrNoCRL = &Error{Code: CodeNotFound, Message: "No certificate revocation list is published for this CA here."}

// crlScope names the list of one issuing CA of a connector in the store.
func crlScope(connectorName string, ca connector.IssuingCA) records.CRLScope {
	return records.CRLScope{Connector: connectorName, Issuer: pki.SubjectID(ca.CA.Certificate)}
}

// CRL is the current revocation list of generation of a connector's
// issuing CA (0 or 1 for the first), with its bytes. A list that is due
// (none yet, old, or behind a revocation) is signed first; one that is
// behind but still valid is served as it is if the next one takes longer
// than crlServeWait, so that a slow signer never leaves relying parties
// without a list.
func (c *Core) CRL(connectorName string, generation int) (*records.CRL, error) {
	ca, ok := c.crlIssuer(connectorName, func(is connector.IssuingCA) bool { return is.Generation == max(generation, 1) })
	if !ok {
		return nil, ErrNoCRL
	}
	scope := crlScope(connectorName, ca)
	current, err := c.store.CurrentCRL(scope)
	if err != nil {
		return nil, err
	}
	if c.crlDue(current) {
		wait := crlServeWait
		if !current.Signed() || !c.now().Before(current.NextUpdate) {
			wait = crlRevocationWait
		}
		signed, err := c.crls.await(c, connectorName, ca, 0, wait)
		switch {
		case err == nil && signed != nil:
			current = signed
		case !current.Signed() || !c.now().Before(current.NextUpdate):
			if err == nil {
				err = errors.New("the revocation list is being signed")
			}
			return nil, err
		default:
			c.log.LogWarn("Serving a revocation list that is behind while the next one is signed", "connector", connectorName,
				"number", current.Number, "error", errorText(err))
		}
	}
	der, err := c.crls.bytes(c.store, scope, current)
	if errors.Is(err, records.ErrNotFound) {
		// Another node signed a newer one meanwhile.
		if current, err = c.store.CurrentCRL(scope); err == nil && current.Signed() {
			der, err = c.crls.bytes(c.store, scope, current)
		}
	}
	if err != nil {
		return nil, err
	}
	served := *current
	served.DER = der
	return &served, nil
}

func errorText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// crlDue reports whether a CA's list must be signed: there is none, it is
// behind a revocation, or it is old enough to refresh.
func (c *Core) crlDue(current *records.CRL) bool {
	return !current.Signed() || current.Behind() || !c.now().Before(current.ThisUpdate.Add(crlRefresh))
}

// publishRevocations has the lists of the CAs a revocation marked signed
// anew, and waits, at most crlRevocationWait, for those that name it.
func (c *Core) publishRevocations(marks []records.CRLMark) {
	for _, mark := range marks {
		ca, ok := c.crlIssuer(mark.Scope.Connector, func(is connector.IssuingCA) bool { return pki.SubjectID(is.CA.Certificate) == mark.Scope.Issuer })
		if !ok {
			continue // a CA that keeps its own list (step-ca)
		}
		if _, err := c.crls.await(c, mark.Scope.Connector, ca, mark.Revision, crlRevocationWait); err != nil {
			// The job signs it at its next run.
			c.log.LogError("Could not publish the revocation list after a revocation", "connector", mark.Scope.Connector,
				"generation", ca.Generation, "error", err.Error())
		}
	}
}

// signCRL signs ca's list when it is due, from the revocations the store
// reads for it: each issuing CA lists only what it issued.
func (c *Core) signCRL(connectorName string, ca connector.IssuingCA) (*records.CRL, error) {
	now := c.now()
	var entries int
	crl, err := c.store.IssueCRL(crlScope(connectorName, ca), now, c.crlDue, func(number int64, revoked []records.Revocation) (*records.CRL, error) {
		list := make([]pki.Revoked, 0, len(revoked))
		for _, r := range revoked {
			serial, ok := new(big.Int).SetString(r.Serial, 16)
			if !ok {
				return nil, fmt.Errorf("revoked certificate %q has no hexadecimal serial", r.Serial)
			}
			list = append(list, pki.Revoked{Serial: serial, RevokedAt: time.UnixMilli(r.RevokedAt), ReasonCode: records.ReasonCode(r.Reason)})
		}
		der, err := ca.CA.SignCRL(number, list, now, now.Add(crlValidity))
		if err != nil {
			return nil, err
		}
		entries = len(list)
		return &records.CRL{ThisUpdate: now, NextUpdate: now.Add(crlValidity), DER: der}, nil
	})
	if err != nil {
		return nil, err
	}
	if crl.DER != nil {
		c.log.LogInfo("Published a certificate revocation list", "connector", connectorName, "generation", ca.Generation,
			"number", crl.Number, "revoked", entries, "bytes", len(crl.DER))
	}
	return crl, nil
}

// RefreshCRLs signs a new list for every CA whose list is due (none yet,
// old, or behind a revocation whose own signing failed), those a CA took
// over from included: a job's duty.
func (c *Core) RefreshCRLs() {
	for name, conn := range c.Connectors {
		signer, ok := connector.Capability[connector.CRLSigner](conn)
		if !ok {
			continue
		}
		for _, ca := range signer.CRLIssuers() {
			current, err := c.store.CurrentCRL(crlScope(name, ca))
			if err == nil && !c.crlDue(current) {
				continue
			}
			if err == nil {
				_, err = c.crls.await(c, name, ca, 0, crlRevocationWait)
			}
			if err != nil {
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
