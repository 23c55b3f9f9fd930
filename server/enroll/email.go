package enroll

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"

	"github.com/clientcerts/mattermost-plugin-certs/server/sealbox"
)

// MailError is a certificate email that could not be sent; Reason is for
// the owner.
type MailError struct {
	Reason string
	Err    error
}

func (e *MailError) Error() string { return "the email could not be sent: " + e.Reason }
func (e *MailError) Unwrap() error { return e.Err }

// EmailDelivery is what became of a certificate sent by email.
type EmailDelivery struct {
	Issued *Issued
	// Request is set when the CA holds the request.
	Request *records.Request
	// Failed is why the email could not be sent; the certificate then
	// waits for its owner behind Pickup.
	Failed error
	Pickup *Link
}

// IssueByEmail makes a certificate for r now and emails it; the passphrase
// is in the answer only. If the email cannot be sent, the certificate waits
// for r to download it instead.
func (c *Core) IssueByEmail(ctx context.Context, r *Requester, profileName string) (*EmailDelivery, error) {
	if !c.EmailDelivery {
		return nil, refuse(CodeForbidden, "Certificates cannot be sent by email on this server.")
	}
	if c.certifiableEmail(r) == "" {
		return nil, refuse(CodeForbidden, "Your account has no verified email address.")
	}
	prof, conn, err := c.ProfileFor(r, profileName)
	if err != nil {
		return nil, err
	}
	approval, err := c.serverKeyNeedsApproval(prof, nil)
	if err != nil {
		return nil, err
	}
	if approval {
		return nil, &Error{Code: CodeForbidden, Next: NextAskApproval,
			Message: fmt.Sprintf("Certificates of profile %s need an approver, so they cannot be emailed at once.", prof.Name),
			Hint:    "Ask for one, and choose email on the page that collects it."}
	}
	if err := c.checkLimits(r, prof, ""); err != nil {
		return nil, err
	}
	outcome, err := c.issueNow(ctx, r, prof, conn, Options{})
	if err != nil {
		return nil, err
	}
	if outcome.Request != nil {
		return &EmailDelivery{Request: outcome.Request}, nil
	}
	issued := outcome.Issued
	delivery := &EmailDelivery{Issued: issued}
	if err := c.mail.SendCertificate(ctx, r, issued); err != nil {
		c.log.LogWarn("Could not email a certificate", "principal", string(r.Principal), "serial", issued.Record.Serial, "error", errorChain(err))
		delivery.Failed = err
		link, holdErr := c.holdForDownload(r, issued)
		if holdErr != nil {
			c.log.LogError("Could not keep a certificate for download", "principal", string(r.Principal), "serial", issued.Record.Serial, "error", holdErr.Error())
			return delivery, fmt.Errorf("your certificate %s was created but %s, and it could not be kept for download; revoke it and ask for a new one",
				issued.Record.Serial, strings.TrimPrefix(err.Error(), "the email "))
		}
		delivery.Pickup = link
	}
	return delivery, nil
}

// holdForDownload keeps an issued certificate and its key (sealed) in a
// request its owner collects with a pickup link.
func (c *Core) holdForDownload(owner *Requester, issued *Issued) (*Link, error) {
	now := c.now()
	req, err := c.keep(owner, issued, newRequestID(), now.Add(PickupLinkLifetime), "kept for download: the email could not be sent")
	if err != nil {
		return nil, err
	}
	return c.mintPickup(owner.Principal, req)
}

// keep records an issued certificate with its key, sealed, in an approved
// request that delivers it until expires.
func (c *Core) keep(owner *Requester, issued *Issued, id string, expires time.Time, reason string) (*records.Request, error) {
	sealed, err := c.sealKey(issued.key)
	if err != nil {
		return nil, err
	}
	chain := make([][]byte, 0, len(issued.chain))
	for _, ch := range issued.chain {
		chain = append(chain, ch.Raw)
	}
	now := c.now()
	record := issued.Record
	req := &records.Request{
		ID: id, Owner: owner.Principal, Profile: record.Profile, Connector: record.Connector,
		State: records.RequestApproved, CreatedAt: now, UpdatedAt: now, ExpiresAt: expires,
		PendingKey: sealed, KeyType: record.KeyType, CertificateDER: record.DER, ChainDER: chain,
		Serial: record.Serial, Reason: reason,
	}
	if err := c.store.CreateRequest(req); err != nil {
		return nil, err
	}
	return req, nil
}

// ResealHeldKeys adds to every key an open request holds (CA-pending, kept
// for download) a copy sealed under newKey, so that changing the
// encryption secret loses none of them; the old copy stays until the
// request closes, in case the change does not take effect.
func ResealHeldKeys(inv Inventory, oldKey, newKey *sealbox.Key, now Clock) error {
	open, err := inv.ListOpenRequests()
	if err != nil {
		return err
	}
	for _, req := range open {
		if _, ok := heldKeyFor(req, oldKey.ID()); !ok {
			continue
		}
		if _, done := heldKeyFor(req, newKey.ID()); done {
			continue
		}
		_, err := inv.UpdateRequest(req.ID, now(), func(r *records.Request) error {
			old, ok := heldKeyFor(r, oldKey.ID())
			if _, done := heldKeyFor(r, newKey.ID()); !ok || done {
				return nil
			}
			der, err := oldKey.Open(old.Sealed, SealContextPendingKey)
			if err != nil {
				return fmt.Errorf("open the key of request %s: %w", r.ID, err)
			}
			sealed, err := newKey.Seal(der, SealContextPendingKey)
			if err != nil {
				return err
			}
			r.PendingKeyCopies = append(r.PendingKeyCopies, records.SealedKey{KeyID: newKey.ID(), Sealed: sealed})
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
