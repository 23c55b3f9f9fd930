package pki

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"math/big"
	"strings"
)

// serialBytes is the amount of randomness in a serial number: 128 bits, above
// the CA/Browser Forum's 64-bit minimum, and well inside RFC 5280's 20 octets.
const serialBytes = 16

// NewSerial returns a random, positive, non-zero serial number.
func NewSerial() (*big.Int, error) {
	buf := make([]byte, serialBytes+1)
	for {
		if _, err := rand.Read(buf[1:]); err != nil {
			return nil, err
		}
		// A leading 0x01 keeps the number positive and at a fixed length of
		// 17 octets, so every serial prints with the same width.
		buf[0] = 0x01
		n := new(big.Int).SetBytes(buf)
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

// FormatSerial prints a serial as lowercase hex without separators: the form
// users see in chat and pass to `/cert revoke`.
func FormatSerial(n *big.Int) string {
	return n.Text(16)
}

// NormalizeSerial accepts a serial as users type it (upper case, colons, a 0x
// prefix) and returns the canonical form, or "" if it is not a hex number.
func NormalizeSerial(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimPrefix(s, "0x")
	s = strings.ReplaceAll(s, ":", "")
	if s == "" || len(s) > 64 || strings.Trim(s, "0123456789abcdef") != "" {
		return ""
	}
	n, ok := new(big.Int).SetString(s, 16)
	if !ok || n.Sign() <= 0 {
		return ""
	}
	return FormatSerial(n)
}

// IssuerID names a certificate's issuer: the SHA-256 of its raw issuer
// name, in hex. With the serial it names a certificate as CRLs and OCSP do.
func IssuerID(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawIssuer)
	return hex.EncodeToString(sum[:])
}

// CRLIssuerID names the CA that signed a revocation list as IssuerID names
// the issuer of its certificates.
func CRLIssuerID(list *x509.RevocationList) string {
	sum := sha256.Sum256(list.RawIssuer)
	return hex.EncodeToString(sum[:])
}

// SubjectID names a CA the way IssuerID names the issuer of the
// certificates it signs: SubjectID(ca) == IssuerID(leaf).
func SubjectID(ca *x509.Certificate) string {
	sum := sha256.Sum256(ca.RawSubject)
	return hex.EncodeToString(sum[:])
}
