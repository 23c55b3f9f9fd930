package enroll

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"

	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
)

// A CA may answer "pending" (its own approval, e.g. AD CS). The request then
// waits in state waiting_ca; the background job asks the CA again with
// backoff, and once it issues, the owner gets a pickup link. A key the server
// generated is kept sealed in the request meanwhile and dropped at pickup.

const (
	// SealContextPendingKey binds a sealed held key to its use.
	SealContextPendingKey = "request/pending-key"
	firstPollDelay        = time.Minute
	maxPollDelay          = time.Hour
	// pollTimeout bounds one question to a CA.
	pollTimeout = 30 * time.Second
)

// CARefusalPrefix starts the reason of a request the CA refused.
const CARefusalPrefix = "the certificate authority refused it: "

// errWaitingForCA is returned by issuance when the CA left the request
// pending; Request says which.
type errWaitingForCA struct{ Request *records.Request }

func (e *errWaitingForCA) Error() string {
	return "the certificate authority must approve request " + e.Request.ID
}

// pollDelay grows 1, 2, 4 … minutes up to an hour.
func pollDelay(polls int) time.Duration {
	d := firstPollDelay << min(polls, 10)
	return min(d, maxPollDelay)
}

// pendingWork is what the core keeps while the CA holds a request: the
// server-generated key (sealed) or the requester's CSR.
type pendingWork struct {
	key         crypto.Signer
	keyType     pki.KeyType
	csr         *checkedCSR
	caRequestID string
	// renews is the certificate the new one is to replace, if any.
	renews string
}

// holdForCA records that the CA holds a request. A server-generated key is
// sealed into the request so the certificate can be delivered with it
// later; a CSR is kept as it is.
func (c *Core) holdForCA(owner *Requester, prof *profile.Profile, conn connector.Connector,
	pending *records.Request, work pendingWork) (*records.Request, error) {
	var sealedKey *records.SealedKey
	keyType := work.keyType
	if work.key != nil {
		var err error
		if sealedKey, err = c.sealKey(work.key); err != nil {
			return nil, err
		}
	}
	now := c.now()
	next := now.Add(pollDelay(0))
	hold := func(r *records.Request) {
		r.State = records.RequestWaitingCA
		r.CARequestID = work.caRequestID
		r.PendingKey = sealedKey
		r.NextPoll = &next
		r.ExpiresAt = now.Add(RequestLifetime)
		if work.csr != nil {
			r.CSRPEM = csrPEM(work.csr.csr)
			r.Attestation = work.csr.attestation
			keyType = work.csr.keyType
		}
		r.KeyType = string(keyType)
	}
	if pending != nil {
		return c.store.MoveRequest(pending.ID, now, []records.RequestState{records.RequestApproved}, records.RequestWaitingCA, func(r *records.Request) error {
			hold(r)
			return nil
		})
	}
	req := &records.Request{
		ID: newRequestID(), Owner: owner.Principal, Profile: prof.Name, Connector: conn.Name(),
		CreatedAt: now, UpdatedAt: now, Renews: work.renews,
	}
	hold(req)
	if err := c.store.CreateRequest(req); err != nil {
		return nil, err
	}
	return req, nil
}

// sealKey seals a server-generated key that must wait in a request.
func (c *Core) sealKey(key crypto.Signer) (*records.SealedKey, error) {
	der, err := pki.MarshalPrivateKey(key)
	if err != nil {
		return nil, err
	}
	sealed, err := c.SealKey.Seal(der, SealContextPendingKey)
	if err != nil {
		return nil, err
	}
	return &records.SealedKey{KeyID: c.SealKey.ID(), Sealed: sealed}, nil
}

// collectHeld returns the key and certificate of a request for a
// server-generated key that the CA has issued since.
func (c *Core) collectHeld(req *records.Request) (crypto.Signer, *x509.Certificate, []*x509.Certificate, error) {
	if req.PendingKey == nil || len(req.CertificateDER) == 0 {
		return nil, nil, nil, errors.New("the request holds no issued certificate")
	}
	sealed, ok := heldKeyFor(req, c.SealKey.ID())
	if !ok {
		return nil, nil, nil, fmt.Errorf("the key of request %s was sealed under another encryption secret", req.ID)
	}
	der, err := c.SealKey.Open(sealed.Sealed, SealContextPendingKey)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("the key of request %s cannot be decrypted: %w", req.ID, err)
	}
	key, err := pki.ParsePrivateKeyDER(der)
	if err != nil {
		return nil, nil, nil, err
	}
	cert, chain, err := heldCertificate(req)
	if err != nil {
		return nil, nil, nil, err
	}
	return key, cert, chain, nil
}

// heldCertificate parses the certificate and chain a request holds.
func heldCertificate(req *records.Request) (*x509.Certificate, []*x509.Certificate, error) {
	cert, err := x509.ParseCertificate(req.CertificateDER)
	if err != nil {
		return nil, nil, err
	}
	chain := make([]*x509.Certificate, 0, len(req.ChainDER))
	for _, d := range req.ChainDER {
		ch, err := x509.ParseCertificate(d)
		if err != nil {
			return nil, nil, err
		}
		chain = append(chain, ch)
	}
	return cert, chain, nil
}

// pollCA asks the CA about one request it holds and acts on the answer.
func (c *Core) pollCA(ctx context.Context, req *records.Request) {
	now := c.now()
	if req.NextPoll != nil && now.Before(*req.NextPoll) {
		return
	}
	conn, ok := c.Connectors[req.Connector]
	if !ok {
		return
	}
	result, err := conn.Poll(ctx, req.CARequestID)
	if err != nil || result.Status == connector.StatusPending {
		if err != nil {
			c.log.LogWarn("Could not ask the CA about a pending request", "request", req.ID, "connector", req.Connector, "error", err.Error())
		}
		next := now.Add(pollDelay(req.Polls + 1))
		_, _ = c.store.UpdateRequest(req.ID, now, func(r *records.Request) error {
			r.Polls++
			r.NextPoll = &next
			return nil
		})
		return
	}
	owner, lookupErr := c.lookup(req.Owner)
	switch result.Status {
	case connector.StatusDenied:
		denied, err := c.store.MoveRequest(req.ID, now, []records.RequestState{records.RequestWaitingCA}, records.RequestDenied, func(r *records.Request) error {
			r.Reason = CARefusalPrefix + result.Reason
			r.PendingKey, r.PendingKeyCopies = nil, nil
			return nil
		})
		if err != nil {
			return
		}
		c.releaseRequestKey(denied)
		if lookupErr == nil {
			c.notifierOf(owner.Principal).RequestDenied(owner, denied, "")
		}
	case connector.StatusIssued:
		chain := make([][]byte, 0, len(result.Chain))
		for _, ch := range result.Chain {
			chain = append(chain, ch.Raw)
		}
		ready, err := c.store.MoveRequest(req.ID, now, []records.RequestState{records.RequestWaitingCA}, records.RequestApproved, func(r *records.Request) error {
			r.CertificateDER = result.Certificate.Raw
			r.ChainDER = chain
			r.ExpiresAt = now.Add(RequestLifetime)
			return nil
		})
		if err != nil || lookupErr != nil {
			return
		}
		link, err := c.mintPickup(owner.Principal, ready)
		if err != nil {
			c.log.LogError("Could not make a pickup link", "request", ready.ID, "error", err.Error())
			return
		}
		c.notifierOf(owner.Principal).CertificateReady(owner, ready, link)
	}
}

// PollWaitingRequests asks CAs about the requests they hold.
func (c *Core) PollWaitingRequests(open []*records.Request) {
	for _, req := range open {
		if req.State != records.RequestWaitingCA || !c.now().Before(req.ExpiresAt) {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), pollTimeout)
		c.pollCA(ctx, req)
		cancel()
	}
}

// ExpireRequests ends the open requests whose time is up and tells their
// owners.
func (c *Core) ExpireRequests(open []*records.Request) {
	now := c.now()
	for _, req := range open {
		if !now.After(req.ExpiresAt) {
			continue
		}
		expired, err := c.store.MoveRequest(req.ID, now, nil, records.RequestExpired, func(r *records.Request) error {
			if !now.After(r.ExpiresAt) {
				return &records.ErrTransition{From: r.State, To: records.RequestExpired}
			}
			r.PendingKey, r.PendingKeyCopies = nil, nil
			return nil
		})
		if err != nil {
			continue // decided or collected meanwhile
		}
		c.releaseRequestKey(expired)
		c.closeRequest(expired, "expired without a decision")
		if owner, err := c.lookup(expired.Owner); err == nil {
			c.notifierOf(owner.Principal).RequestExpired(owner, expired)
		}
		c.log.LogInfo("Certificate request expired", "request", expired.ID)
	}
}

// heldKeyFor is the copy of a request's held key sealed under keyID.
func heldKeyFor(req *records.Request, keyID string) (records.SealedKey, bool) {
	if req.PendingKey == nil {
		return records.SealedKey{}, false
	}
	if req.PendingKey.KeyID == keyID {
		return *req.PendingKey, true
	}
	for _, c := range req.PendingKeyCopies {
		if c.KeyID == keyID {
			return c, true
		}
	}
	return records.SealedKey{}, false
}
