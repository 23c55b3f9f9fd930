package connector

import (
	"context"
	"crypto/x509"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

// TypeBuiltin is the plugin's own CA.
const TypeBuiltin = "builtin"

// Builtin signs with a CA whose key the plugin holds. It never answers
// pending; revocation is recorded by the plugin (CRL and OCSP come from the
// plugin's records).
type Builtin struct {
	name string
	// ca signs; issuers are it and the issuing CAs it took over from that
	// have not expired, current first: each still signs its own CRL and
	// OCSP answers.
	ca      *pki.CA
	issuers []*issuer
	now     func() time.Time
	// crlURL and ocspURL are where relying parties check this CA's
	// certificates, written into every certificate; "" writes none.
	crlURL, ocspURL string
}

// IssuingCA is one generation of a CA that renews itself: the first is 1,
// and a CA that does not renew itself is always 1.
type IssuingCA struct {
	CA         *pki.CA
	Generation int
}

// issuer is an IssuingCA with its OCSP responder: a key of this node's
// own, delegated by that CA, made on the first request and again before it
// expires.
type issuer struct {
	IssuingCA
	responder *ocspResponder
}

// NewBuiltin returns a connector named name that signs with ca.
func NewBuiltin(name string, ca *pki.CA, now func() time.Time) *Builtin {
	return NewBuiltinGenerations(name, IssuingCA{CA: ca, Generation: 1}, nil, now)
}

// NewBuiltinGenerations returns a connector named name that signs with
// current and still answers for the certificates of previous (newest
// first): their CRLs and OCSP answers, and their chains in Chains.
func NewBuiltinGenerations(name string, current IssuingCA, previous []IssuingCA, now func() time.Time) *Builtin {
	if now == nil {
		now = time.Now
	}
	b := &Builtin{name: name, ca: current.CA, now: now}
	for _, ca := range append([]IssuingCA{current}, previous...) {
		b.issuers = append(b.issuers, &issuer{IssuingCA: ca, responder: &ocspResponder{}})
	}
	return b
}

// WithRevocation is the connector writing crlURL (its CRL distribution
// point) and ocspURL (its OCSP responder) into every certificate.
func (b *Builtin) WithRevocation(crlURL, ocspURL string) *Builtin {
	copied := *b
	copied.crlURL, copied.ocspURL = crlURL, ocspURL
	return &copied
}

// CRLIssuers are the CAs whose lists the plugin signs: the current one
// first, then those it took over from, each signing its own (direct) list.
// One that has expired since is left out: so have its certificates.
func (b *Builtin) CRLIssuers() []IssuingCA {
	now := b.now()
	out := make([]IssuingCA, 0, len(b.issuers))
	for i, is := range b.issuers {
		if i == 0 || now.Before(is.CA.Certificate.NotAfter) {
			out = append(out, is.IssuingCA)
		}
	}
	return out
}

// Generation numbers the issuing CA that signs now.
func (b *Builtin) Generation() int { return b.issuers[0].Generation }

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

// TrustChain is what relying parties need to trust every certificate
// still valid: the current issuing CA first, then the issuing CAs it took
// over from (newest first), then the rest of the current chain up to the
// root. Each issuing CA appears once and the root last.
func (b *Builtin) TrustChain(context.Context) ([]*x509.Certificate, error) {
	out := []*x509.Certificate{b.ca.Certificate}
	for _, is := range b.issuers[1:] {
		out = append(out, is.CA.Certificate)
	}
	return append(out, b.ca.Chain[1:]...), nil
}

func urlList(u string) []string {
	if u == "" {
		return nil
	}
	return []string{u}
}
