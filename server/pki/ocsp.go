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

// SignedOCSP is a signed OCSP response about one certificate, with the
// times it holds, to the second as it encodes them.
type SignedOCSP struct {
	DER        []byte
	ThisUpdate time.Time
	NextUpdate time.Time
}

// SignOCSP signs a response for one certificate of ca, produced at
// thisUpdate and good until nextUpdate. x/crypto/ocsp would take
// producedAt from the wall clock: here it follows the caller's clock, as
// thisUpdate does, so that the responder certificate the caller picked for
// that time is valid at both.
func (r *OCSPResponder) SignOCSP(ca *CA, answer OCSPAnswer, hash crypto.Hash, thisUpdate, nextUpdate time.Time) (*SignedOCSP, error) {
	thisUpdate, nextUpdate = thisUpdate.UTC().Truncate(time.Second), nextUpdate.UTC().Truncate(time.Second)
	id, err := ocspCertID(ca.Certificate, hash, answer.Serial)
	if err != nil {
		return nil, err
	}
	single := ocspSingleResponse{CertID: id, ThisUpdate: thisUpdate, NextUpdate: nextUpdate}
	switch answer.Status {
	case OCSPGood:
		single.Good = true
	case OCSPRevoked:
		single.Revoked = ocspRevokedInfo{RevocationTime: answer.RevokedAt.UTC().Truncate(time.Second), Reason: asn1.Enumerated(answer.ReasonCode)}
	default:
		single.Unknown = true
	}
	tbs, err := asn1.Marshal(ocspResponseData{
		ResponderID: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, IsCompound: true, Bytes: r.Certificate.RawSubject},
		ProducedAt:  thisUpdate,
		Responses:   []ocspSingleResponse{single},
	})
	if err != nil {
		return nil, err
	}
	digest, algorithm, err := ocspSignatureAlgorithm(r.Signer.Public())
	if err != nil {
		return nil, err
	}
	h := digest.New()
	h.Write(tbs)
	signature, err := r.Signer.Sign(randReader, h.Sum(nil), digest)
	if err != nil {
		return nil, fmt.Errorf("sign the OCSP response: %w", err)
	}
	basic, err := asn1.Marshal(ocspBasicResponse{
		TBSResponseData:    asn1.RawValue{FullBytes: tbs},
		SignatureAlgorithm: algorithm,
		Signature:          asn1.BitString{Bytes: signature, BitLength: 8 * len(signature)},
		Certificates:       []asn1.RawValue{{FullBytes: r.Certificate.Raw}},
	})
	if err != nil {
		return nil, err
	}
	der, err := asn1.Marshal(ocspResponse{
		Status:   asn1.Enumerated(ocsp.Success),
		Response: ocspResponseBytes{ResponseType: oidOCSPBasic, Response: basic},
	})
	if err != nil {
		return nil, err
	}
	return &SignedOCSP{DER: der, ThisUpdate: thisUpdate, NextUpdate: nextUpdate}, nil
}

// The structures of an OCSP response (RFC 6960 4.2.1), as x/crypto/ocsp
// encodes them.
type (
	ocspResponse struct {
		Status   asn1.Enumerated
		Response ocspResponseBytes `asn1:"explicit,tag:0,optional"`
	}
	ocspResponseBytes struct {
		ResponseType asn1.ObjectIdentifier
		Response     []byte
	}
	ocspBasicResponse struct {
		TBSResponseData    asn1.RawValue
		SignatureAlgorithm pkix.AlgorithmIdentifier
		Signature          asn1.BitString
		Certificates       []asn1.RawValue `asn1:"explicit,tag:0,optional"`
	}
	ocspResponseData struct {
		Version     int `asn1:"optional,default:0,explicit,tag:0"`
		ResponderID asn1.RawValue
		ProducedAt  time.Time `asn1:"generalized"`
		Responses   []ocspSingleResponse
	}
	ocspSingleResponse struct {
		CertID     ocspCertIDFields
		Good       asn1.Flag       `asn1:"tag:0,optional"`
		Revoked    ocspRevokedInfo `asn1:"tag:1,optional"`
		Unknown    asn1.Flag       `asn1:"tag:2,optional"`
		ThisUpdate time.Time       `asn1:"generalized"`
		NextUpdate time.Time       `asn1:"generalized,explicit,tag:0,optional"`
	}
	ocspCertIDFields struct {
		HashAlgorithm pkix.AlgorithmIdentifier
		NameHash      []byte
		IssuerKeyHash []byte
		SerialNumber  *big.Int
	}
	ocspRevokedInfo struct {
		RevocationTime time.Time       `asn1:"generalized"`
		Reason         asn1.Enumerated `asn1:"explicit,tag:0,optional"`
	}
)

var (
	oidOCSPBasic            = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 1}
	oidECDSAWithSHA256      = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA384      = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSAWithSHA512      = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	ocspCertIDHashAlgorithm = map[crypto.Hash]asn1.ObjectIdentifier{
		crypto.SHA1:   {1, 3, 14, 3, 2, 26},
		crypto.SHA256: {2, 16, 840, 1, 101, 3, 4, 2, 1},
		crypto.SHA384: {2, 16, 840, 1, 101, 3, 4, 2, 2},
		crypto.SHA512: {2, 16, 840, 1, 101, 3, 4, 2, 3},
	}
)

// ocspCertID names serial of issuer as a request does, with hash: the
// answer repeats the request's choice.
func ocspCertID(issuer *x509.Certificate, hash crypto.Hash, serial *big.Int) (ocspCertIDFields, error) {
	oid, ok := ocspCertIDHashAlgorithm[hash]
	if !ok || !hash.Available() {
		return ocspCertIDFields{}, fmt.Errorf("OCSP: unsupported hash %v", hash)
	}
	key, err := subjectPublicKeyBits(issuer)
	if err != nil {
		return ocspCertIDFields{}, err
	}
	name := hash.New()
	name.Write(issuer.RawSubject)
	keyHash := hash.New()
	keyHash.Write(key)
	return ocspCertIDFields{
		HashAlgorithm: pkix.AlgorithmIdentifier{Algorithm: oid, Parameters: asn1.NullRawValue},
		NameHash:      name.Sum(nil),
		IssuerKeyHash: keyHash.Sum(nil),
		SerialNumber:  serial,
	}, nil
}

// ocspSignatureAlgorithm is how a responder key signs: the responders this
// package makes have ECDSA keys.
func ocspSignatureAlgorithm(pub crypto.PublicKey) (crypto.Hash, pkix.AlgorithmIdentifier, error) {
	key, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return 0, pkix.AlgorithmIdentifier{}, fmt.Errorf("OCSP: the responder key is a %T, not ECDSA", pub)
	}
	switch key.Curve {
	case elliptic.P256():
		return crypto.SHA256, pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA256}, nil
	case elliptic.P384():
		return crypto.SHA384, pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA384}, nil
	case elliptic.P521():
		return crypto.SHA512, pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA512}, nil
	}
	return 0, pkix.AlgorithmIdentifier{}, fmt.Errorf("OCSP: unsupported responder curve %s", key.Curve.Params().Name)
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
