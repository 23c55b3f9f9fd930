package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net/url"
	"slices"
	"time"
)

// randReader is the source of randomness for signatures; a variable so that
// nothing else in the package reaches for crypto/rand directly.
var randReader = rand.Reader

// LeafSpec is what goes into an end-entity certificate. The caller derives it
// from the user's identity and the profile, never from a CSR.
type LeafSpec struct {
	CommonName   string
	Organization []string
	OrgUnit      []string
	Emails       []string
	// URIs name the account itself (its immutable id).
	URIs []*url.URL
	// CRLDistributionPoints are where the CA's CRL is fetched, OCSPServer
	// where its OCSP responder answers.
	CRLDistributionPoints []string
	OCSPServer            []string
	NotBefore             time.Time
	NotAfter              time.Time
	ExtKeyUsages          []x509.ExtKeyUsage
}

// Sign issues a certificate for pub under spec. NotAfter is clamped to the
// CA's own expiry: a leaf must never outlive its issuer.
func (ca *CA) Sign(pub crypto.PublicKey, spec LeafSpec) (*x509.Certificate, error) {
	if spec.CommonName == "" {
		return nil, fmt.Errorf("certificate needs a common name")
	}
	if !spec.NotAfter.After(spec.NotBefore) {
		return nil, fmt.Errorf("certificate validity is empty")
	}
	serial, err := NewSerial()
	if err != nil {
		return nil, err
	}
	notAfter := spec.NotAfter
	if notAfter.After(ca.Certificate.NotAfter) {
		notAfter = ca.Certificate.NotAfter
	}
	if !notAfter.After(spec.NotBefore) {
		return nil, fmt.Errorf("CA certificate %q expires on %s, before the certificate would become valid",
			ca.Certificate.Subject.CommonName, ca.Certificate.NotAfter.UTC().Format(time.RFC3339))
	}
	ekus := spec.ExtKeyUsages
	if len(ekus) == 0 {
		ekus = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	usage := x509.KeyUsageDigitalSignature
	switch pub.(type) {
	case *rsa.PublicKey:
		// RSA key transport (TLS 1.2 RSA kex, S/MIME encryption) needs it.
		usage |= x509.KeyUsageKeyEncipherment
	case *ecdsa.PublicKey:
		if slices.Contains(ekus, x509.ExtKeyUsageEmailProtection) {
			// S/MIME encrypts to an EC key by key agreement (ECDH): without
			// it, mail could be signed with the certificate, not sent
			// encrypted to it.
			usage |= x509.KeyUsageKeyAgreement
		}
	}
	template := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: spec.CommonName, Organization: spec.Organization, OrganizationalUnit: spec.OrgUnit},
		EmailAddresses:        spec.Emails,
		URIs:                  spec.URIs,
		CRLDistributionPoints: spec.CRLDistributionPoints,
		OCSPServer:            spec.OCSPServer,
		NotBefore:             spec.NotBefore.Add(-clockSkew),
		NotAfter:              notAfter,
		KeyUsage:              usage,
		ExtKeyUsage:           ekus,
		BasicConstraintsValid: true,
		IsCA:                  false,
	}
	der, err := x509.CreateCertificate(randReader, template, ca.Certificate, pub, ca.Signer)
	if err != nil {
		return nil, fmt.Errorf("sign certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

// NewCSR builds a certificate signing request for a key the server generated,
// so that server-generated keys and uploaded CSRs reach a CA the same way.
func NewCSR(key crypto.Signer, commonName string, emails []string, uris []*url.URL) (*x509.CertificateRequest, error) {
	der, err := x509.CreateCertificateRequest(randReader, &x509.CertificateRequest{
		Subject:        pkix.Name{CommonName: commonName},
		EmailAddresses: emails,
		URIs:           uris,
	}, key)
	if err != nil {
		return nil, fmt.Errorf("create CSR: %w", err)
	}
	return x509.ParseCertificateRequest(der)
}
