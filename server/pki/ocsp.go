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

// responderBackdate backdates a responder certificate: for clocks a little
// behind, and for the answers x/crypto/ocsp marks produced at the minute
// the server's clock is in, which may be up to a minute before the
// responder was made.
const responderBackdate = 2 * clockSkew

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
		NotBefore:       now.Add(-responderBackdate),
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

// SignedOCSP is a signed OCSP response about one certificate, with the
// times it holds, to the second as it encodes them.
type SignedOCSP struct {
	DER        []byte
	ThisUpdate time.Time
	NextUpdate time.Time
}

// ocspCertIDHashes are the hashes a request may name its CA with (RFC
// 6960 and RFC 5019); the answer repeats the request's choice.
var ocspCertIDHashes = map[crypto.Hash]bool{crypto.SHA1: true, crypto.SHA256: true, crypto.SHA384: true, crypto.SHA512: true}

// SignOCSP signs a response for one certificate of ca, good from
// thisUpdate until nextUpdate, with x/crypto/ocsp. That library stamps
// producedAt from the server's own clock, to the minute; the responder
// certificate is backdated by more than that (NewOCSPResponder), so it is
// valid then.
func (r *OCSPResponder) SignOCSP(ca *CA, answer OCSPAnswer, hash crypto.Hash, thisUpdate, nextUpdate time.Time) (*SignedOCSP, error) {
	if !ocspCertIDHashes[hash] {
		return nil, fmt.Errorf("OCSP: unsupported hash %v", hash)
	}
	thisUpdate, nextUpdate = thisUpdate.UTC().Truncate(time.Second), nextUpdate.UTC().Truncate(time.Second)
	template := ocsp.Response{
		Status:       answer.Status,
		SerialNumber: answer.Serial,
		ThisUpdate:   thisUpdate,
		NextUpdate:   nextUpdate,
		Certificate:  r.Certificate,
		IssuerHash:   hash,
	}
	if answer.Status == OCSPRevoked {
		template.RevokedAt = answer.RevokedAt.UTC()
		template.RevocationReason = answer.ReasonCode
	}
	der, err := ocsp.CreateResponse(ca.Certificate, r.Certificate, template, r.Signer)
	if err != nil {
		return nil, fmt.Errorf("sign the OCSP response: %w", err)
	}
	return &SignedOCSP{DER: der, ThisUpdate: thisUpdate, NextUpdate: nextUpdate}, nil
}

// subjectPublicKeyBits is the public key of a certificate as the key hash
// of an OCSP CertID covers it: the BIT STRING's bits, without algorithm.
func subjectPublicKeyBits(cert *x509.Certificate) ([]byte, error) {
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(cert.RawSubjectPublicKeyInfo, &spki); err != nil {
		return nil, err
	}
	return spki.PublicKey.RightAlign(), nil
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
	bits, err := subjectPublicKeyBits(ca.Certificate)
	if err != nil {
		return false
	}
	key := req.HashAlgorithm.New()
	key.Write(bits)
	return bytes.Equal(name.Sum(nil), req.IssuerNameHash) && bytes.Equal(key.Sum(nil), req.IssuerKeyHash)
}
