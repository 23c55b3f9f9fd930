package enroll

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// A revocation pending at its CA is told again at the job's runs, paced and
// bounded so that a CA that keeps refusing is neither hammered nor
// forgotten.
const (
	// firstRevocationRetry and maxRevocationRetry pace the tries: a minute
	// after the first that fails, doubling up to an hour; some thirty
	// tries in the first day, then one an hour.
	firstRevocationRetry = time.Minute
	maxRevocationRetry   = time.Hour
	// RevocationNoticeAfter is how long a revocation may stay pending at
	// its CA, from the revocation, before the system admins are told: long
	// enough for a CA down for maintenance, or one whose provisioner key
	// was just rotated (step-ca answers 401 once, then the connector
	// fetches the new key), to take it on its own; short enough that a
	// certificate revoked here is not trusted elsewhere for long without
	// anyone knowing.
	RevocationNoticeAfter = 24 * time.Hour
	// revokeTimeout bounds one revocation at a CA.
	revokeTimeout = 30 * time.Second
	// retryBatch bounds the revocations told again in one run, the soonest
	// due first.
	retryBatch = 100
)

// revocationRetryDelay is the wait after the given number of failed tries.
func revocationRetryDelay(attempts int) time.Duration {
	return min(firstRevocationRetry<<min(max(attempts-1, 0), 10), maxRevocationRetry)
}

// errSettled stops an update of a revocation that is no longer pending.
var errSettled = errors.New("the revocation is no longer pending at the CA")

// tellCA asks record's CA to revoke it again. nil is the CA's acceptance:
// for step-ca that includes a certificate it has already revoked (someone
// revoked it there by hand), which is what the revocation asks for. A CA
// that does not know the serial has not accepted it: if it did not issue
// the certificate, whoever did still vouches for it, so an administrator
// must look.
func (c *Core) tellCA(ctx context.Context, record *records.Certificate) error {
	conn, ok := c.Connectors[record.Connector]
	if !ok {
		return &connector.Error{Kind: connector.KindMisconfigured, Connector: record.Connector,
			Message: fmt.Sprintf("the CA connector %q is no longer configured", record.Connector)}
	}
	ctx, cancel := context.WithTimeout(ctx, revokeTimeout)
	defer cancel()
	return conn.Revoke(ctx, revokeRequest(record.Serial, record.RevocationReason))
}

// revokeRequest asks a CA to revoke serial for reason, by its RFC 5280 name
// and code.
func revokeRequest(serial, reason string) connector.RevokeRequest {
	return connector.RevokeRequest{Serial: serial, ReasonCode: records.ReasonCode(reason), Reason: reason}
}

// revocationAccepted records that the CA took a pending revocation.
func (c *Core) revocationAccepted(record *records.Certificate) {
	if _, err := c.store.UpdateCertificate(record.Serial, func(rec *records.Certificate) error {
		rec.RevocationPending = false
		rec.RevocationAttempts, rec.RevocationRetryAt, rec.RevocationCAAnswer, rec.RevocationNoticeAt = 0, nil, "", nil
		return nil
	}); err != nil {
		c.log.LogError("Could not record a revocation the CA accepted", "serial", record.Serial, "error", err.Error())
		return
	}
	c.log.LogInfo("A CA accepted a revocation it missed", "serial", record.Serial, "connector", record.Connector, "tries", record.RevocationAttempts+1)
}

// revocationNotAccepted records a try the CA did not accept (cause says
// why): the revocation stays pending, tried again after a delay, and the
// system admins are told once it has been pending RevocationNoticeAfter.
func (c *Core) revocationNotAccepted(record *records.Certificate, cause error) {
	now := c.now()
	answer := caAnswer(cause)
	notify := false
	updated, err := c.store.UpdateCertificate(record.Serial, func(rec *records.Certificate) error {
		if !rec.RevocationPending {
			return errSettled
		}
		rec.RevocationAttempts++
		next := now.Add(revocationRetryDelay(rec.RevocationAttempts))
		rec.RevocationRetryAt = &next
		rec.RevocationCAAnswer = answer
		notify = rec.RevocationNoticeAt == nil && rec.RevokedAt != nil && !now.Before(rec.RevokedAt.Add(RevocationNoticeAfter))
		if notify {
			rec.RevocationNoticeAt = &now
		}
		return nil
	})
	if errors.Is(err, errSettled) {
		return
	}
	if err != nil {
		c.log.LogError("Could not record a try to tell a CA of a revocation", "serial", record.Serial, "error", err.Error())
		return
	}
	fields := []any{"serial", record.Serial, "connector", record.Connector, "tries", updated.RevocationAttempts,
		"next_try", updated.RevocationRetryAt.UTC().Format(time.RFC3339), "error", cause.Error()}
	if ce := connector.AsError(cause); ce != nil && ce.Kind == connector.KindUnavailable {
		c.log.LogWarn("A CA still cannot be reached for a revocation; it stays pending at the CA", fields...)
	} else {
		c.log.LogError("A CA refused a revocation it was told again; it stays pending at the CA and is tried again later", fields...)
	}
	if notify {
		c.log.LogError("A revocation has been pending at its CA for a day; the system admins are told", "serial", record.Serial, "connector", record.Connector)
		c.admins.RevocationNotAccepted(updated)
	}
}

// caAnswer is what a CA's failure says, in words for an administrator:
// a connector's message is safe to show; anything else stays in the log.
func caAnswer(err error) string {
	if ce := connector.AsError(err); ce != nil && ce.Message != "" {
		return ce.Message
	}
	return "an unexpected error (the server log has it)"
}
