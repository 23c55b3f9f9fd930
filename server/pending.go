package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pkg/errors"

	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
	"github.com/clientcerts/mattermost-plugin-certs/server/sealbox"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

// A CA may answer "pending" (its own approval, e.g. AD CS). The request then
// waits in state waiting_ca; the background job asks the CA again with
// backoff, and once it issues, the owner gets a pickup link. A key the server
// generated is kept sealed in the request meanwhile and dropped at pickup.

const (
	sealContextPendingKey = "request/pending-key"
	firstPollDelay        = time.Minute
	maxPollDelay          = time.Hour
)

// errWaitingForCA is returned by issuance when the CA left the request
// pending; Request says which.
type errWaitingForCA struct{ Request *store.Request }

func (e *errWaitingForCA) Error() string {
	return "the certificate authority must approve request " + e.Request.ID
}

// pollDelay grows 1, 2, 4 … minutes up to an hour.
func pollDelay(polls int) time.Duration {
	d := firstPollDelay << min(polls, 10)
	return min(d, maxPollDelay)
}

// pendingWork is what the plugin keeps while the CA holds a request: the
// server-generated key (sealed) or the user's CSR.
type pendingWork struct {
	key         crypto.Signer
	keyType     pki.KeyType
	csr         *checkedCSR
	caRequestID string
}

// holdForCA records that the CA holds a request. A server-generated key is
// sealed into the request so the certificate can be delivered with it
// later; a CSR is kept as it is.
func (p *Plugin) holdForCA(s *services, user *model.User, prof *profile.Profile, conn connector.Connector,
	pending *store.Request, work pendingWork) (*store.Request, error) {
	var sealedKey *store.SealedKey
	keyType := work.keyType
	if work.key != nil {
		var err error
		if sealedKey, err = sealPendingKey(s, work.key); err != nil {
			return nil, err
		}
	}
	now := p.now()
	next := now.Add(pollDelay(0))
	hold := func(r *store.Request) {
		r.State = store.RequestWaitingCA
		r.CARequestID = work.caRequestID
		r.PendingKey = sealedKey
		r.NextPoll = &next
		r.ExpiresAt = now.Add(requestLifetime)
		if work.csr != nil {
			r.CSRPEM = csrPEM(work.csr.csr)
			r.Attestation = work.csr.attestation
			keyType = work.csr.keyType
		}
		r.KeyType = string(keyType)
	}
	if pending != nil {
		return p.store.MoveRequest(pending.ID, now, []store.RequestState{store.RequestApproved}, store.RequestWaitingCA, func(r *store.Request) error {
			hold(r)
			return nil
		})
	}
	req := &store.Request{
		ID: newRequestID(), Owner: store.MattermostUser(user.Id), Profile: prof.Name, Connector: conn.Name(),
		CreatedAt: now, UpdatedAt: now,
	}
	hold(req)
	if err := p.store.CreateRequest(req); err != nil {
		return nil, err
	}
	return req, nil
}

// sealPendingKey seals a server-generated key that must wait in a request.
func sealPendingKey(s *services, key crypto.Signer) (*store.SealedKey, error) {
	sealKey, err := sealbox.NewKey(s.config.EncryptionSecret)
	if err != nil {
		return nil, err
	}
	der, err := pki.MarshalPrivateKey(key)
	if err != nil {
		return nil, err
	}
	sealed, err := sealKey.Seal(der, sealContextPendingKey)
	if err != nil {
		return nil, err
	}
	return &store.SealedKey{KeyID: sealKey.ID(), Sealed: sealed}, nil
}

// collectHeld returns the key and certificate of a request for a
// server-generated key that the CA has issued since.
func (p *Plugin) collectHeld(s *services, req *store.Request) (crypto.Signer, *x509.Certificate, []*x509.Certificate, error) {
	if req.PendingKey == nil || len(req.CertificateDER) == 0 {
		return nil, nil, nil, errors.New("the request holds no issued certificate")
	}
	sealKey, err := sealbox.NewKey(s.config.EncryptionSecret)
	if err != nil {
		return nil, nil, nil, err
	}
	der, err := sealKey.Open(req.PendingKey.Sealed, sealContextPendingKey)
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
func heldCertificate(req *store.Request) (*x509.Certificate, []*x509.Certificate, error) {
	cert, err := x509.ParseCertificate(req.CertificateDER)
	if err != nil {
		return nil, nil, err
	}
	chain := make([]*x509.Certificate, 0, len(req.ChainDER))
	for _, d := range req.ChainDER {
		c, err := x509.ParseCertificate(d)
		if err != nil {
			return nil, nil, err
		}
		chain = append(chain, c)
	}
	return cert, chain, nil
}

// pollCA asks the CA about one request it holds and acts on the answer.
func (p *Plugin) pollCA(ctx context.Context, s *services, req *store.Request) {
	now := p.now()
	if req.NextPoll != nil && now.Before(*req.NextPoll) {
		return
	}
	conn, ok := s.connectors[req.Connector]
	if !ok {
		return
	}
	result, err := conn.Poll(ctx, req.CARequestID)
	if err != nil || result.Status == connector.StatusPending {
		if err != nil {
			p.API.LogWarn("Could not ask the CA about a pending request", "request", req.ID, "connector", req.Connector, "error", err.Error())
		}
		next := now.Add(pollDelay(req.Polls + 1))
		_, _ = p.store.UpdateRequest(req.ID, now, func(r *store.Request) error {
			r.Polls++
			r.NextPoll = &next
			return nil
		})
		return
	}
	owner, appErr := p.API.GetUser(req.Owner.MattermostUserID())
	switch result.Status {
	case connector.StatusDenied:
		denied, err := p.store.MoveRequest(req.ID, now, []store.RequestState{store.RequestWaitingCA}, store.RequestDenied, func(r *store.Request) error {
			r.Reason = "the certificate authority refused it: " + result.Reason
			r.PendingKey = nil
			return nil
		})
		if err == nil {
			p.releaseRequestKey(denied)
		}
		if err == nil && appErr == nil {
			p.notifyUser(owner, "Certificate request denied", fmt.Sprintf("The certificate authority refused your request `%s`: %s", denied.ID, result.Reason))
		}
	case connector.StatusIssued:
		chain := make([][]byte, 0, len(result.Chain))
		for _, c := range result.Chain {
			chain = append(chain, c.Raw)
		}
		ready, err := p.store.MoveRequest(req.ID, now, []store.RequestState{store.RequestWaitingCA}, store.RequestApproved, func(r *store.Request) error {
			r.CertificateDER = result.Certificate.Raw
			r.ChainDER = chain
			r.ExpiresAt = now.Add(requestLifetime)
			return nil
		})
		if err != nil || appErr != nil {
			return
		}
		link, expires, err := p.mintPickupLink(s, owner.Id, ready.Profile, ready.ID)
		if err != nil {
			p.API.LogError("Could not make a pickup link", "request", ready.ID, "error", err.Error())
			return
		}
		p.notifyUser(owner, "Certificate ready", fmt.Sprintf(
			"The certificate authority issued your request `%s`. [Collect my certificate](%s)\n\n"+
				"The link works once and expires at %s; `/cert pickup %s` gives a new one.",
			ready.ID, link, expires.UTC().Format(time.RFC1123), ready.ID))
	}
}

// pollWaitingRequests is the job's second duty: ask CAs about the requests
// they hold.
func (p *Plugin) pollWaitingRequests(open []*store.Request) {
	s, err := p.getServices()
	if err != nil {
		return
	}
	for _, req := range open {
		if req.State != store.RequestWaitingCA || !p.now().Before(req.ExpiresAt) {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		p.pollCA(ctx, s, req)
		cancel()
	}
}
