package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"time"

	"golang.org/x/crypto/ocsp"
)

// OCSP status of a certificate, as a responder answers it.
const (
	OCSPGood    = ocsp.Good
	OCSPRevoked = ocsp.Revoked
	OCSPUnknown = ocsp.Unknown
)

// oidOCSPNoCheck marks a responder certificate relying parties need not
// check for revocation (RFC 6960 4.2.2.2.1).
var oidOCSPNoCheck = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}

// OCSPResponder is a certificate the CA delegated OCSP signing to, with its
// key: the CA's own key then signs nothing but certificates and CRLs.
type OCSPResponder struct {
	Certificate *x509.Certificate
	Signer      crypto.Signer
}

// NewOCSPResponder delegates OCSP signing to a new key for validity.
func (ca *CA) NewOCSPResponder(now time.Time, validity time.Duration) (*OCSPResponder, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), randReader)
	if err != nil {
		return nil, err
	}
	serial, err := NewSerial()
	if err != nil {
		return nil, err
	}
	noCheck, err := asn1.Marshal(asn1.NullRawValue)
	if err != nil {
		return nil, err
	}
	notAfter := now.Add(validity)
	if notAfter.After(ca.Certificate.NotAfter) {
		notAfter = ca.Certificate.NotAfter
	}
	template := &x509.Certificate{
		SerialNumber:    serial,
		Subject:         pkix.Name{CommonName: ca.Certificate.Subject.CommonName + " OCSP Responder", Organization: ca.Certificate.Subject.Organization},
		NotBefore:       now.Add(-clockSkew),
		NotAfter:        notAfter,
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtKeyUsage:     []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning},
		ExtraExtensions: []pkix.Extension{{Id: oidOCSPNoCheck, Value: noCheck}},
	}
	der, err := x509.CreateCertificate(randReader, template, ca.Certificate, key.Public(), ca.Signer)
	if err != nil {
		return nil, fmt.Errorf("create the OCSP responder certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &OCSPResponder{Certificate: cert, Signer: key}, nil
}

// OCSPAnswer is what a responder says of one certificate.
type OCSPAnswer struct {
	Serial     *big.Int
	Status     int
	RevokedAt  time.Time
	ReasonCode int
}

// SignOCSP signs a response for one certificate of ca, good until
// nextUpdate.
func (r *OCSPResponder) SignOCSP(ca *CA, answer OCSPAnswer, hash crypto.Hash, thisUpdate, nextUpdate time.Time) ([]byte, error) {
	template := ocsp.Response{
		Status:       answer.Status,
		SerialNumber: answer.Serial,
		ThisUpdate:   thisUpdate.UTC(),
		NextUpdate:   nextUpdate.UTC(),
		Certificate:  r.Certificate,
		IssuerHash:   hash,
	}
	if answer.Status == OCSPRevoked {
		template.RevokedAt = answer.RevokedAt.UTC()
		template.RevocationReason = answer.ReasonCode
	}
	return ocsp.CreateResponse(ca.Certificate, r.Certificate, template, r.Signer)
}

// ParseOCSPRequest reads an OCSP request (RFC 6960).
func ParseOCSPRequest(der []byte) (*ocsp.Request, error) {
	return ocsp.ParseRequest(der)
}

// OCSPMalformed is the unsigned answer to a request that cannot be read.
func OCSPMalformed() []byte { return ocsp.MalformedRequestErrorResponse }

// OCSPUnauthorized is the unsigned answer to a request for a CA this
// responder does not answer for.
func OCSPUnauthorized() []byte { return ocsp.UnauthorizedErrorResponse }

// IssuedBy reports whether an OCSP request names ca as the issuer.
func IssuedBy(req *ocsp.Request, ca *CA) bool {
	if !req.HashAlgorithm.Available() {
		return false
	}
	name := req.HashAlgorithm.New()
	name.Write(ca.Certificate.RawSubject)
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(ca.Certificate.RawSubjectPublicKeyInfo, &spki); err != nil {
		return false
	}
	key := req.HashAlgorithm.New()
	key.Write(spki.PublicKey.RightAlign())
	return bytes.Equal(name.Sum(nil), req.IssuerNameHash) && bytes.Equal(key.Sum(nil), req.IssuerKeyHash)
}
