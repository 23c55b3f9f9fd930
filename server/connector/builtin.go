package connector

import (
	"context"
	"crypto/x509"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

// TypeBuiltin is the plugin's own CA.
const TypeBuiltin = "builtin"

// Builtin signs with a CA whose key the plugin holds. It never answers
// pending; revocation is recorded by the plugin (CRL and OCSP come from the
// plugin's records).
type Builtin struct {
	name string
	ca   *pki.CA
	now  func() time.Time
	// crlURL and ocspURL are where relying parties check this CA's
	// certificates, written into every certificate; "" writes none.
	crlURL, ocspURL string
	// responder signs OCSP answers: a key of this node's own, delegated by
	// the CA, made on the first request and again before it expires.
	responder *ocspResponder
}

// NewBuiltin returns a connector named name that signs with ca.
func NewBuiltin(name string, ca *pki.CA, now func() time.Time) *Builtin {
	if now == nil {
		now = time.Now
	}
	return &Builtin{name: name, ca: ca, now: now, responder: &ocspResponder{}}
}

// WithRevocation is the connector writing crlURL (its CRL distribution
// point) and ocspURL (its OCSP responder) into every certificate.
func (b *Builtin) WithRevocation(crlURL, ocspURL string) *Builtin {
	copied := *b
	copied.crlURL, copied.ocspURL = crlURL, ocspURL
	return &copied
}

// SignCRL signs the CA's revocation list (see pki.CA.SignCRL).
func (b *Builtin) SignCRL(number int64, revoked []pki.Revoked, thisUpdate, nextUpdate time.Time) ([]byte, error) {
	return b.ca.SignCRL(number, revoked, thisUpdate, nextUpdate)
}

func (b *Builtin) Name() string { return b.name }
func (b *Builtin) Type() string { return TypeBuiltin }

// Sign issues the certificate at once for req.PublicKey. It needs no CSR:
// an uploaded one has been checked by the caller (see SignRequest), and its
// names are ignored in favour of req.Subject.
func (b *Builtin) Sign(_ context.Context, req SignRequest) (*Result, error) {
	if req.PublicKey == nil {
		return nil, &Error{Kind: KindRejected, Connector: b.name, Message: "no public key to certify"}
	}
	now := b.now()
	if !now.Before(b.ca.Certificate.NotAfter) {
		return nil, &Error{Kind: KindMisconfigured, Connector: b.name, Message: "the CA certificate has expired; an administrator must renew it"}
	}
	cert, err := b.ca.Sign(req.PublicKey, pki.LeafSpec{
		CommonName:            req.Subject.CommonName,
		Organization:          req.Subject.Organization,
		OrgUnit:               req.Subject.OrganizationalUnit,
		Emails:                req.Subject.Emails,
		URIs:                  req.Subject.URIs,
		CRLDistributionPoints: urlList(b.crlURL),
		OCSPServer:            urlList(b.ocspURL),
		NotBefore:             now,
		NotAfter:              now.Add(req.Profile.Validity),
		ExtKeyUsages:          req.Profile.ExtKeyUsages,
	})
	if err != nil {
		return nil, &Error{Kind: KindRejected, Connector: b.name, Message: "the certificate could not be signed", Err: err}
	}
	return &Result{Status: StatusIssued, Certificate: cert, Chain: b.ca.Chain}, nil
}

// Poll never finds anything: the built-in CA does not leave requests pending.
func (b *Builtin) Poll(context.Context, string) (*Result, error) {
	return nil, &Error{Kind: KindUnsupported, Connector: b.name, Message: "the built-in CA has no pending requests"}
}

// Revoke has nothing to tell a remote CA: the plugin's record is the
// revocation, and the built-in CA's CRL is built from the records.
func (b *Builtin) Revoke(context.Context, RevokeRequest) error { return nil }

// Chain returns the issuing CA and the chain up to the root.
func (b *Builtin) Chain(context.Context) ([]*x509.Certificate, error) {
	return b.ca.Chain, nil
}

func urlList(u string) []string {
	if u == "" {
		return nil
	}
	return []string{u}
}

const (
	// responderValidity is how long a delegated OCSP key is certified for;
	// a new one is made when less than responderRenewal is left.
	responderValidity = 30 * 24 * time.Hour
	responderRenewal  = 7 * 24 * time.Hour
	// ocspValidity is how long an OCSP answer may be cached.
	ocspValidity = time.Hour
)

// ocspResponder holds this node's delegated OCSP key. Each node has its
// own: any of them answers validly, and no key is stored anywhere.
type ocspResponder struct {
	mu      sync.Mutex
	current *pki.OCSPResponder
}

func (r *ocspResponder) get(ca *pki.CA, now time.Time) (*pki.OCSPResponder, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.current == nil || now.Add(responderRenewal).After(r.current.Certificate.NotAfter) {
		next, err := ca.NewOCSPResponder(now, responderValidity)
		if err != nil {
			return nil, err
		}
		r.current = next
	}
	return r.current, nil
}

// AnswersOCSP reports whether an OCSP request asks about this CA's
// certificates.
func (b *Builtin) AnswersOCSP(req *ocsp.Request) bool { return pki.IssuedBy(req, b.ca) }

// SignOCSP signs the answer about one of this CA's certificates.
func (b *Builtin) SignOCSP(answer pki.OCSPAnswer, req *ocsp.Request) ([]byte, time.Time, error) {
	now := b.now()
	responder, err := b.responder.get(b.ca, now)
	if err != nil {
		return nil, time.Time{}, err
	}
	next := now.Add(ocspValidity)
	der, err := responder.SignOCSP(b.ca, answer, req.HashAlgorithm, now, next)
	return der, next, err
}
