// Package connector defines how the plugin talks to certificate authorities.
// Every CA (the built-in one, step-ca, AD CS, Vault, EST) is a Connector: it
// signs a CSR under a profile and answers with a certificate, or with
// "pending" and a request id to ask about later.
package connector

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

// Subject is the identity a certificate is issued to. The plugin derives it
// from the requester's account and the profile; a CSR's own names are never
// trusted.
type Subject struct {
	CommonName         string
	Organization       []string
	OrganizationalUnit []string
	Emails             []string
	// URIs name the account itself: its immutable id.
	URIs []*url.URL
}

// Profile is the part of a certificate profile a CA needs to sign.
type Profile struct {
	Name         string
	Validity     time.Duration
	ExtKeyUsages []x509.ExtKeyUsage
}

// SignRequest asks a CA for a certificate for one public key. Make it with
// ForCSR or ForGeneratedKey.
type SignRequest struct {
	// PublicKey is the key to certify.
	PublicKey crypto.PublicKey
	// CSR proves that the requester holds the key. An uploaded CSR has been
	// checked by the caller (pki.ParseCSR), so connectors do not check it
	// again. For a key the plugin has just generated, CSR is nil and newCSR
	// makes one for a CA that wants it: the built-in CA needs none, and a
	// CSR costs a signature and its verification.
	CSR     *x509.CertificateRequest
	newCSR  func() (*x509.CertificateRequest, error)
	Subject Subject
	Profile Profile
}

// ForCSR asks for a certificate for the key of csr, which the caller has
// checked.
func ForCSR(csr *x509.CertificateRequest, subject Subject, profile Profile) SignRequest {
	return SignRequest{PublicKey: csr.PublicKey, CSR: csr, Subject: subject, Profile: profile}
}

// ForGeneratedKey asks for a certificate for a key the plugin generated.
func ForGeneratedKey(key crypto.Signer, subject Subject, profile Profile) SignRequest {
	return SignRequest{
		PublicKey: key.Public(),
		newCSR: func() (*x509.CertificateRequest, error) {
			return pki.NewCSR(key, subject.CommonName, subject.Emails, subject.URIs)
		},
		Subject: subject,
		Profile: profile,
	}
}

// CertificateRequest is the request's CSR, made now for a generated key.
func (r SignRequest) CertificateRequest() (*x509.CertificateRequest, error) {
	switch {
	case r.CSR != nil:
		return r.CSR, nil
	case r.newCSR != nil:
		return r.newCSR()
	}
	return nil, errors.New("no certificate signing request")
}

// Status is where a request stands at the CA.
type Status string

const (
	StatusIssued  Status = "issued"
	StatusPending Status = "pending"
	StatusDenied  Status = "denied"
)

// Result is a CA's answer. Issued results carry the certificate and the chain
// above it (issuing CA first); pending results carry the CA's request id.
type Result struct {
	Status      Status
	Certificate *x509.Certificate
	Chain       []*x509.Certificate
	RequestID   string
	// Reason explains a denial, in words the user can be shown.
	Reason string
}

// RevokeRequest asks a CA to revoke a certificate it issued.
type RevokeRequest struct {
	Serial string
	// ReasonCode is an RFC 5280 CRLReason (0 unspecified, 1 keyCompromise, ...).
	ReasonCode int
	Reason     string
}

// CRLSigner is a connector whose CA's revocation list the plugin makes
// from its own records (the built-in CA).
type CRLSigner interface {
	// CRLIssuers are the CAs that sign a list, current first: each lists
	// the certificates it issued (RFC 5280 direct CRLs).
	CRLIssuers() []IssuingCA
}

// TrustChainer is a connector whose CA has more certificates to trust than
// its current chain: the issuing CAs it took over from, while their
// certificates are valid.
type TrustChainer interface {
	TrustChain(ctx context.Context) ([]*x509.Certificate, error)
}

// OCSPSigner is a connector whose CA's OCSP answers the plugin signs from
// its own records (the built-in CA).
type OCSPSigner interface {
	// AnswersOCSP says whether the request names one of the connector's
	// CAs, and which: as pki.IssuerID names their certificates' issuer.
	AnswersOCSP(req *ocsp.Request) (string, bool)
	// SignOCSP signs an answer; its thisUpdate and nextUpdate say from
	// when and until when it may be cached.
	SignOCSP(answer pki.OCSPAnswer, req *ocsp.Request) (*pki.SignedOCSP, error)
}

// Wrapper is a connector that wraps another, to observe or adapt it; the
// optional interfaces above are looked for through it (Capability).
type Wrapper interface {
	Unwrap() Connector
}

// Capability returns conn, or the first connector it wraps, that has the
// optional interface T: a wrapper need not repeat every interface of what
// it wraps.
func Capability[T any](conn Connector) (T, bool) {
	for conn != nil {
		if c, ok := conn.(T); ok {
			return c, true
		}
		w, ok := conn.(Wrapper)
		if !ok {
			break
		}
		conn = w.Unwrap()
	}
	var none T
	return none, false
}

// Connector is one configured certificate authority.
type Connector interface {
	// Name is the connector's configured name.
	Name() string
	// Type is the connector kind ("builtin", "stepca", ...).
	Type() string
	// Sign asks the CA to sign req.
	Sign(ctx context.Context, req SignRequest) (*Result, error)
	// Poll asks about a request the CA left pending.
	Poll(ctx context.Context, requestID string) (*Result, error)
	// Revoke revokes a certificate at the CA.
	Revoke(ctx context.Context, req RevokeRequest) error
	// Chain returns the CA certificates clients need to trust, issuing CA
	// first and the root last.
	Chain(ctx context.Context) ([]*x509.Certificate, error)
}

// Kind classifies connector failures by who can fix them.
type Kind string

const (
	// KindUnavailable: the CA could not be reached or timed out. Retrying
	// later may work.
	KindUnavailable Kind = "unavailable"
	// KindRejected: the CA refused this request (policy, duration, names).
	KindRejected Kind = "rejected"
	// KindMisconfigured: the connector's settings are wrong; an admin must act.
	KindMisconfigured Kind = "misconfigured"
	// KindUnsupported: the connector cannot do this operation.
	KindUnsupported Kind = "unsupported"
)

// Error is a connector failure with a message safe to show the user and the
// underlying cause for the admin's log.
type Error struct {
	Kind      Kind
	Connector string
	Message   string
	Err       error

	// field is the configuration setting at fault (a StepCAConfig field
	// name), when the failure shows one to be wrong; Check reports it.
	field string
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("CA connector %q: %s: %v", e.Connector, e.Message, e.Err)
	}
	return fmt.Sprintf("CA connector %q: %s", e.Connector, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether the user may try the same request again later.
func (e *Error) Retryable() bool {
	return e.Kind == KindUnavailable || e.Kind == KindMisconfigured
}

// AsError returns err as a connector *Error, or nil.
func AsError(err error) *Error {
	var ce *Error
	if errors.As(err, &ce) {
		return ce
	}
	return nil
}
