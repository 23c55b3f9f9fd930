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

// Revoked is a certificate revoked, and how far the revocation reached.
type Revoked struct {
	Record *records.Certificate
	// AtCA says the CA knows: the plugin signs its list (the built-in CA)
	// or the CA was told. Otherwise only our record changed (Reach says
	// why), and the CA's administrator must revoke it there.
	AtCA bool
	// PendingAtCA says the CA could not be reached: the record is revoked,
	// and a job tells the CA as soon as it answers.
	PendingAtCA bool
	// Siblings are the other valid certificates of a key revoked as
	// compromised, revoked with it.
	Siblings []*records.Certificate
}

// Reach is how far a revocation got, for a door to word: a revocation
// never claims more than happened.
type Reach string

const (
	// ReachCA: the CA lists it (its CRL and OCSP say revoked).
	ReachCA Reach = "ca"
	// ReachPending: our record only, until the job tells the CA.
	ReachPending Reach = "pending"
	// ReachRecordsOnly: a certificate its owner registered, of a CA that
	// keeps its own list: anyone may hold a copy of someone's certificate,
	// so an administrator must revoke it there.
	ReachRecordsOnly Reach = "records_only"
	// ReachUnmanaged: a certificate of a CA this plugin does not talk to.
	ReachUnmanaged Reach = "unmanaged"
)

// Reach says how far the revocation got.
func (r *Revoked) Reach() Reach {
	switch {
	case r.PendingAtCA:
		return ReachPending
	case r.AtCA:
		return ReachCA
	case r.Record.Connector == UnmanagedConnector:
		return ReachUnmanaged
	}
	return ReachRecordsOnly
}

// tellsCA reports whether revoking a record is told to its CA: the plugin
// issued it, or an admin registered it. Anyone may hold a copy of
// someone's certificate, so one its holder registered is not.
func tellsCA(record *records.Certificate) bool {
	if record.Connector == UnmanagedConnector {
		return false
	}
	return record.Origin != records.OriginImported || record.RevocableAtCA
}

// reachesCA reports whether revoking a record reaches its CA: the CA is
// told, or the plugin signs its list (the built-in CA), which names every
// certificate that CA signed once it is revoked here, whoever registered
// it: relying parties ask that list.
func (c *Core) reachesCA(record *records.Certificate) bool {
	return tellsCA(record) || (record.Connector != UnmanagedConnector && c.SignsCRL(record.Connector))
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
	return c.revokeRecord(ctx, record, reason, string(owner.Principal))
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

// reportsCompromise reports whether revoking record for reason marks its
// key compromised now: a valid certificate, or one revoked before for
// another reason (a key found compromised after its certificate was
// replaced is still never certified again).
func reportsCompromise(record *records.Certificate, reason string) bool {
	return reason == records.ReasonKeyCompromise && record.RevocationReason != records.ReasonKeyCompromise
}

// revokeRecord revokes a certificate for reason, by actor (a principal, or
// a word for the plugin's own jobs). For keyCompromise the store marks
// the key, which is never certified again, and revokes its other valid
// certificates (the store leaves those of CAs that keep their own lists
// pending at the CA, which the job tells); their owners and the admins are
// told. The lists that name them are signed before it returns (or within
// crlRevocationWait).
func (c *Core) revokeRecord(ctx context.Context, record *records.Certificate, reason, actor string) (*Revoked, error) {
	serial := record.Serial
	again := record.State == records.CertRevoked
	if again && !reportsCompromise(record, reason) {
		return nil, ErrAlreadyRevoked
	}
	atCA := c.reachesCA(record)
	pending := false
	// A CA told once is not told again: a new reason changes our list only.
	if tellsCA(record) && !again {
		conn, ok := c.Connectors[record.Connector]
		if !ok {
			return nil, &Error{Code: CodeUnavailable, Message: fmt.Sprintf("The CA connector %q that issued this certificate is no longer configured; an administrator must revoke it at that CA.", record.Connector)}
		}
		if err := conn.Revoke(ctx, revokeRequest(serial, reason)); err != nil {
			if ce := connector.AsError(err); ce == nil || ce.Kind != connector.KindUnavailable {
				return nil, err
			}
			// The CA is down: the revocation stands in our records, and
			// the job tells the CA when it is back.
			c.log.LogWarn("The CA could not be told of a revocation; it will be, when it answers", "serial", serial, "connector", record.Connector, "error", err.Error())
			pending = true
		}
	}
	result, err := c.store.RevokeCertificate(records.Revoke{
		Serial: serial, At: c.now(), By: actor, Reason: reason, PendingAtCA: pending, RemoteConnectors: c.remoteConnectors(),
	})
	switch {
	case errors.Is(err, records.ErrAlreadyRevoked):
		return nil, ErrAlreadyRevoked
	case err != nil:
		return nil, err
	}
	// Revoked again for keyCompromise, it is as pending at its CA as it was.
	pending = result.Certificate.RevocationPending
	c.log.LogInfo("Certificate revoked", "by", actor, "serial", serial, "reason", reason, "at_ca", atCA, "revoked_with_it", len(result.Siblings))
	c.publishRevocations(result.Marks)
	if reportsCompromise(record, reason) {
		c.keyCompromised(result.Certificate, result.Siblings)
	}
	return &Revoked{Record: result.Certificate, AtCA: atCA && !pending, PendingAtCA: pending, Siblings: result.Siblings}, nil
}

// remoteConnectors are the connectors whose CAs keep their own revocations.
func (c *Core) remoteConnectors() []string {
	var out []string
	for name := range c.Connectors {
		if !c.SignsCRL(name) {
			out = append(out, name)
		}
	}
	return out
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

// keyCompromised tells each owner of a key revoked as compromised which of
// their certificates went with it, and the administrators all of them.
func (c *Core) keyCompromised(reported *records.Certificate, alsoRevoked []*records.Certificate) {
	var owners []records.Principal
	theirs := map[records.Principal][]*records.Certificate{}
	for _, cert := range append([]*records.Certificate{reported}, alsoRevoked...) {
		if _, seen := theirs[cert.Owner]; !seen {
			owners = append(owners, cert.Owner)
		}
		theirs[cert.Owner] = append(theirs[cert.Owner], cert)
	}
	for _, p := range owners {
		owner, err := c.lookup(p)
		if err != nil {
			c.log.LogWarn("Could not tell an owner of a compromised key", "principal", string(p), "error", err.Error())
			continue
		}
		c.notifierOf(p).KeyCompromised(owner, reported, theirs[p])
	}
	c.admins.KeyCompromised(reported, alsoRevoked)
}
