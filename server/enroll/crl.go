package enroll

import (
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
)

// ErrNoCRL is a CRL asked of a connector whose CA the plugin does not sign
// for (step-ca keeps its own).
var ErrNoCRL = &Error{Code: CodeNotFound, Message: "No certificate revocation list is published for this CA here."}

// CRL is the current revocation list of a connector's CA, signed anew when
// there is none yet or it is due for refresh.
func (c *Core) CRL(connectorName string) (*records.CRL, error) {
	if _, ok := c.crlSigner(connectorName); !ok {
		return nil, ErrNoCRL
	}
	current, err := c.store.CurrentCRL(connectorName)
	if err != nil {
		return nil, err
	}
	if current != nil && c.now().Before(current.ThisUpdate.Add(crlRefresh)) {
		return current, nil
	}
	return c.PublishCRL(connectorName)
}

// PublishCRL signs and records a new revocation list for a connector's CA,
// numbered after the last one: after every revocation, and when the last
// one is due for refresh.
func (c *Core) PublishCRL(connectorName string) (*records.CRL, error) {
	signer, ok := c.crlSigner(connectorName)
	if !ok {
		return nil, ErrNoCRL
	}
	now := c.now()
	revocations, err := c.store.Revocations(connectorName, now)
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
	crl, err := c.store.IssueCRL(connectorName, func(number int64) (*records.CRL, error) {
		der, err := signer.SignCRL(number, entries, now, now.Add(crlValidity))
		if err != nil {
			return nil, err
		}
		return &records.CRL{Number: number, ThisUpdate: now, NextUpdate: now.Add(crlValidity), DER: der}, nil
	})
	if err != nil {
		return nil, err
	}
	c.log.LogInfo("Published a certificate revocation list", "connector", connectorName, "number", crl.Number, "revoked", len(entries))
	return crl, nil
}

// RefreshCRLs signs a new list for every CA whose list is due: a job's
// duty, so that lists stay fresh on a quiet day.
func (c *Core) RefreshCRLs() {
	for name := range c.Connectors {
		if _, ok := c.crlSigner(name); !ok {
			continue
		}
		if _, err := c.CRL(name); err != nil {
			c.log.LogError("Could not refresh a certificate revocation list", "connector", name, "error", err.Error())
		}
	}
}

func (c *Core) crlSigner(name string) (connector.CRLSigner, bool) {
	signer, ok := c.Connectors[name].(connector.CRLSigner)
	return signer, ok
}
