package pki

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"time"
)

// Lifetimes of the built-in hierarchy. The issuing CA outlives any leaf the
// plugin will sign for years, and leaves are clamped to it anyway.
const (
	RootValidity    = 20 * 365 * 24 * time.Hour
	IssuingValidity = 10 * 365 * 24 * time.Hour
	// clockSkew backdates NotBefore so a client whose clock is a little behind
	// does not reject a certificate it has just received.
	clockSkew = time.Minute
)

// CA is a signing certificate authority: the certificate that signs leaves,
// its private key, and the chain from it up to (and including) the root.
type CA struct {
	Certificate *x509.Certificate
	Signer      crypto.Signer
	// Chain starts with Certificate and ends with the root.
	Chain []*x509.Certificate
}

// Hierarchy is a freshly generated root and issuing CA, with both keys, so the
// caller can keep the root key sealed for later (a new issuing CA, a root CRL).
type Hierarchy struct {
	Root       *x509.Certificate
	RootKey    crypto.Signer
	Issuing    *x509.Certificate
	IssuingKey crypto.Signer
}

// CA returns the issuing CA of the hierarchy.
func (h *Hierarchy) CA() *CA {
	return &CA{Certificate: h.Issuing, Signer: h.IssuingKey, Chain: []*x509.Certificate{h.Issuing, h.Root}}
}

// GenerateHierarchy creates a root CA and an issuing CA below it, both with
// ECDSA P-256 keys (fast to sign with, accepted everywhere client
// certificates are used). organization names the owner in both subjects.
func GenerateHierarchy(organization string, now time.Time) (*Hierarchy, error) {
	rootKey, err := GenerateKey(KeyECDSAP256)
	if err != nil {
		return nil, err
	}
	issuingKey, err := GenerateKey(KeyECDSAP256)
	if err != nil {
		return nil, err
	}
	org := []string(nil)
	if organization != "" {
		org = []string{organization}
	}

	rootTemplate, err := caTemplate(pkix.Name{Organization: org, CommonName: "Client Certificates Root CA"}, now, RootValidity, 1)
	if err != nil {
		return nil, err
	}
	rootDER, err := x509.CreateCertificate(randReader, rootTemplate, rootTemplate, rootKey.Public(), rootKey)
	if err != nil {
		return nil, fmt.Errorf("sign root CA: %w", err)
	}
	root, err := x509.ParseCertificate(rootDER)
	if err != nil {
		return nil, err
	}

	issuing, err := NewIssuingCA(root, rootKey, issuingKey, org, 1, now, now.Add(IssuingValidity))
	if err != nil {
		return nil, err
	}
	return &Hierarchy{Root: root, RootKey: rootKey, Issuing: issuing.Certificate, IssuingKey: issuingKey}, nil
}

// IssuingCAName is the common name of generation n of the built-in issuing
// CA. The first keeps the name it always had; later ones carry their number,
// so that every generation has its own subject and thus its own issuer name
// in certificates, CRLs and OCSP requests.
func IssuingCAName(generation int) string {
	if generation <= 1 {
		return "Client Certificates Issuing CA"
	}
	return fmt.Sprintf("Client Certificates Issuing CA G%d", generation)
}

// NewIssuingCA certifies key as generation of the issuing CA below root,
// until notAfter (never past the root's own expiry).
func NewIssuingCA(root *x509.Certificate, rootKey, key crypto.Signer, organization []string, generation int, now, notAfter time.Time) (*CA, error) {
	if notAfter.After(root.NotAfter) {
		notAfter = root.NotAfter
	}
	template, err := caTemplate(pkix.Name{Organization: organization, CommonName: IssuingCAName(generation)}, now, notAfter.Sub(now), 0)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(randReader, template, root, key.Public(), rootKey)
	if err != nil {
		return nil, fmt.Errorf("sign issuing CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Certificate: cert, Signer: key, Chain: []*x509.Certificate{cert, root}}, nil
}

func caTemplate(subject pkix.Name, now time.Time, validity time.Duration, maxPathLen int) (*x509.Certificate, error) {
	serial, err := NewSerial()
	if err != nil {
		return nil, err
	}
	return &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subject,
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            maxPathLen,
		MaxPathLenZero:        maxPathLen == 0,
	}, nil
}

// NewCA checks that a certificate chain and a private key form a usable
// signing CA and returns it. chain[0] is the signing certificate; the rest, if
// any, lead to the root. now is used to refuse an expired CA.
func NewCA(chain []*x509.Certificate, key crypto.Signer, now time.Time) (*CA, error) {
	if len(chain) == 0 {
		return nil, fmt.Errorf("no CA certificate")
	}
	cert := chain[0]
	if !cert.BasicConstraintsValid || !cert.IsCA {
		return nil, fmt.Errorf("certificate %q is not a CA (basic constraints CA:TRUE missing)", cert.Subject.CommonName)
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("certificate %q may not sign certificates (key usage keyCertSign missing)", cert.Subject.CommonName)
	}
	if now.After(cert.NotAfter) {
		return nil, fmt.Errorf("CA certificate %q expired on %s", cert.Subject.CommonName, cert.NotAfter.UTC().Format(time.RFC3339))
	}
	if !PublicKeysEqual(cert.PublicKey, key.Public()) {
		return nil, fmt.Errorf("the private key does not match CA certificate %q", cert.Subject.CommonName)
	}
	for i := 1; i < len(chain); i++ {
		if err := chain[i-1].CheckSignatureFrom(chain[i]); err != nil {
			return nil, fmt.Errorf("CA chain is out of order or broken at %q: %w", chain[i-1].Subject.CommonName, err)
		}
	}
	return &CA{Certificate: cert, Signer: key, Chain: chain}, nil
}

// PublicKeysEqual reports whether two public keys are the same key.
func PublicKeysEqual(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}
