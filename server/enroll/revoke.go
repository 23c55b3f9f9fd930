package enroll

import (
	"context"
	"errors"
	"fmt"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"

	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
)

var (
	// ErrNotOwner hides whether a serial exists from someone who does not
	// own it.
	ErrNotOwner = &Error{Code: CodeNotFound, Message: "No certificate with this serial belongs to you."}
	// ErrAlreadyRevoked is a second revocation.
	ErrAlreadyRevoked = &Error{Code: CodeConflict, Message: "This certificate is already revoked."}
)

// Revoked is a certificate revoked by its owner.
type Revoked struct {
	Record *records.Certificate
	// AtCA says the CA was told; otherwise only our record changed, and
	// the CA's administrator must revoke it there.
	AtCA bool
	// PendingAtCA says the CA could not be reached: the record is revoked,
	// and a job tells the CA as soon as it answers.
	PendingAtCA bool
}

// RevokesAtCA reports whether revoking a record reaches its CA: the
// plugin issued it, or an admin registered it.
func RevokesAtCA(record *records.Certificate) bool {
	if record.Connector == UnmanagedConnector {
		return false
	}
	return record.Origin != records.OriginImported || record.RevocableAtCA
}

// Revoke revokes a certificate that owner holds, for one of the RFC 5280
// reasons (records.Reasons): at the CA first, then in the record, so a CA
// that refuses leaves the record honest; then the CA's CRL is signed anew,
// where the plugin signs it.
func (c *Core) Revoke(ctx context.Context, owner *Requester, serial, reason string) (*Revoked, error) {
	reason, err := records.ParseReason(reason)
	if err != nil {
		return nil, &Error{Code: CodeInvalid, Message: capitalize(err.Error()) + ".", Err: err}
	}
	record, err := c.ownCertificate(owner, serial)
	if err != nil {
		return nil, err
	}
	return c.revokeRecord(ctx, record, reason, owner.ID)
}

// ownCertificate is owner's certificate with serial; ErrNotOwner when there
// is none, or it is someone else's.
func (c *Core) ownCertificate(owner *Requester, serial string) (*records.Certificate, error) {
	record, err := c.store.GetCertificate(serial)
	if errors.Is(err, records.ErrNotFound) || (err == nil && record.Owner != owner.Principal) {
		return nil, ErrNotOwner
	}
	return record, err
}

// revokeRecord revokes a certificate for reason, by actor (an account id,
// or a word for the plugin's own jobs).
func (c *Core) revokeRecord(ctx context.Context, record *records.Certificate, reason, actor string) (*Revoked, error) {
	serial := record.Serial
	if record.State == records.CertRevoked {
		return nil, ErrAlreadyRevoked
	}
	atCA := RevokesAtCA(record)
	pending := false
	if atCA {
		conn, ok := c.Connectors[record.Connector]
		if !ok {
			return nil, &Error{Code: CodeUnavailable, Message: fmt.Sprintf("The CA connector %q that issued this certificate is no longer configured; an administrator must revoke it at that CA.", record.Connector)}
		}
		if err := conn.Revoke(ctx, connector.RevokeRequest{Serial: serial, ReasonCode: records.ReasonCode(reason), Reason: reason}); err != nil {
			if ce := connector.AsError(err); ce == nil || ce.Kind != connector.KindUnavailable {
				return nil, err
			}
			// The CA is down: the revocation stands in our records, and
			// the job tells the CA when it is back.
			c.log.LogWarn("The CA could not be told of a revocation; it will be, when it answers", "serial", serial, "connector", record.Connector, "error", err.Error())
			pending = true
		}
	}
	now := c.now()
	updated, err := c.store.UpdateCertificate(serial, func(rec *records.Certificate) error {
		if rec.State == records.CertRevoked {
			return ErrAlreadyRevoked
		}
		rec.State = records.CertRevoked
		rec.RevokedAt = &now
		rec.RevokedBy = actor
		rec.RevocationReason = reason
		rec.RevocationPending = pending
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.log.LogInfo("Certificate revoked", "by", actor, "serial", serial, "reason", reason, "at_ca", atCA)
	if atCA {
		if c.SignsCRL(record.Connector) {
			// The list of the CA that issued it: after a renewal, that may
			// be one the current CA took over from.
			if _, err := c.PublishCRL(record.Connector, record.Issuer); err != nil && !errors.Is(err, ErrNoCRL) {
				// The job signs it at its next run.
				c.log.LogError("Could not publish the revocation list after a revocation", "connector", record.Connector, "error", err.Error())
			}
		}
	}
	return &Revoked{Record: updated, AtCA: atCA && !pending, PendingAtCA: pending}, nil
}

// RetryRevocations tells the CAs the revocations they have not accepted:
// those they could not take when they were made, and those they refused
// since. Only the CA's acceptance ends one; a refusal leaves it pending as
// silence does, to be told again later (revocationRetryDelay), and once one
// has been pending for RevocationNoticeAfter the system admins are told,
// once. A job's duty.
func (c *Core) RetryRevocations(ctx context.Context) {
	pending, err := c.store.PendingRevocations(retryBatch)
	if err != nil {
		c.log.LogError("Could not list the revocations pending at a CA", "error", err.Error())
		return
	}
	for _, record := range pending {
		if record.RevocationRetryAt != nil && c.now().Before(*record.RevocationRetryAt) {
			continue
		}
		if err := c.tellCA(ctx, record); err != nil {
			c.revocationNotAccepted(record, err)
			continue
		}
		c.revocationAccepted(record)
	}
}

// Certificates lists the owner's certificates, oldest first.
func (c *Core) Certificates(owner records.Principal) ([]*records.Certificate, error) {
	return c.store.ListCertificates(owner)
}

// Requests lists the owner's requests, oldest first.
func (c *Core) Requests(owner records.Principal) ([]*records.Request, error) {
	return c.store.ListRequests(owner)
}
