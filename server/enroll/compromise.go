package enroll

import (
	"context"
	"crypto/x509"
	"errors"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// A key revoked for keyCompromise is never certified again: the store
// refuses every record of a certificate for it (records.ErrCompromisedKey),
// and revokes its other certificates with it. The checks here refuse
// earlier, in words, before a link is used or a CA signs.

// ErrCompromisedKey is a certificate asked for a key revoked as
// compromised.
var ErrCompromisedKey = &Error{Code: CodeRefused,
	Message: "This key was revoked because it was compromised, so it is never certified again.",
	Next:    NextNewKey,
	Hint:    "Make a new key (on a smart card or YubiKey: a new key in its slot) and send the CSR of that one."}

// actorKeyCompromise is who revokes a certificate of a compromised key
// that the job found still valid.
const actorKeyCompromise = "key-compromise"

// refuseCompromisedKey refuses a key revoked as compromised.
func (c *Core) refuseCompromisedKey(fingerprint string) error {
	if fingerprint == "" {
		return nil
	}
	serial, err := c.store.CompromisedKey(fingerprint)
	if err != nil {
		return err
	}
	if serial != "" {
		c.log.LogWarn("A compromised key was sent to be certified again", "key_fingerprint", fingerprint, "revoked", serial)
		return ErrCompromisedKey
	}
	return nil
}

// discardSigned deals with a certificate a CA signed that is never
// delivered because its key was found compromised meanwhile: a CA that
// keeps its own list is told to revoke it; the plugin's own CA has nothing
// to do, as nobody holds it and no list or OCSP answer names it.
func (c *Core) discardSigned(ctx context.Context, conn connector.Connector, cert *x509.Certificate) {
	if c.SignsCRL(conn.Name()) {
		return
	}
	serial := pki.FormatSerial(cert.SerialNumber)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := conn.Revoke(ctx, revokeRequest(serial, records.ReasonKeyCompromise))
	if err != nil {
		c.log.LogError("A certificate a CA signed for a compromised key could not be revoked there; an administrator must revoke it at the CA",
			"serial", serial, "connector", conn.Name(), "error", err.Error())
		return
	}
	c.log.LogWarn("A certificate a CA signed for a compromised key was revoked there, undelivered", "serial", serial, "connector", conn.Name())
}

// closeCompromised cancels a request whose key was reported compromised
// while it waited, and discards what a CA signed for it meanwhile.
func (c *Core) closeCompromised(ctx context.Context, conn connector.Connector, req *records.Request) {
	if cert, _, err := heldCertificate(req); err == nil {
		c.discardSigned(ctx, conn, cert)
	}
	const why = "its key was revoked as compromised"
	closed, err := c.store.MoveRequest(req.ID, c.now(), []records.RequestState{records.RequestApproved, records.RequestWaitingCA},
		records.RequestCancelled, func(r *records.Request) error {
			r.Reason = why
			return nil
		})
	if err != nil {
		c.log.LogWarn("Could not close a request whose key is compromised", "request", req.ID, "error", err.Error())
		return
	}
	c.closeRequest(closed, "closed: "+why)
}

// RevokeCompromisedLeftovers revokes valid certificates of keys revoked as
// compromised: none should be, as each such revocation revokes the key's
// other certificates; this catches records made by an earlier version. A
// job's duty.
func (c *Core) RevokeCompromisedLeftovers(ctx context.Context) {
	leftovers, err := c.store.CompromisedValid(100)
	if err != nil {
		c.log.LogError("Could not look for valid certificates of compromised keys", "error", err.Error())
		return
	}
	for _, record := range leftovers {
		_, err := c.revokeRecord(ctx, record, records.ReasonKeyCompromise, actorKeyCompromise)
		if err != nil && !errors.Is(err, ErrAlreadyRevoked) {
			c.log.LogError("Could not revoke a certificate of a compromised key", "serial", record.Serial, "error", err.Error())
		}
	}
}
