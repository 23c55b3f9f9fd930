package pki

import (
	"crypto"
	"crypto/x509"
	"fmt"

	"software.sslmate.com/src/go-pkcs12"
)

// PKCS12Format selects the encryption of a PKCS#12 file.
type PKCS12Format string

const (
	// PKCS12Compatible is 3DES + SHA-1 MAC: imports everywhere, including
	// macOS Keychain, iOS, Android and older Windows.
	PKCS12Compatible PKCS12Format = "compatible"
	// PKCS12Modern is AES-256 + PBKDF2/SHA-256: OpenSSL 3, NSS, Windows 10+,
	// Java 12+, but not every macOS release.
	PKCS12Modern PKCS12Format = "modern"
)

// ParsePKCS12Format returns the format named s.
func ParsePKCS12Format(s string) (PKCS12Format, error) {
	switch PKCS12Format(s) {
	case PKCS12Compatible, PKCS12Modern:
		return PKCS12Format(s), nil
	}
	return "", fmt.Errorf("unknown PKCS#12 format %q (accepted: %s, %s)", s, PKCS12Compatible, PKCS12Modern)
}

// EncodePKCS12 bundles the key, its certificate and the CA chain into a
// PKCS#12 file protected by passphrase.
func EncodePKCS12(format PKCS12Format, key crypto.PrivateKey, leaf *x509.Certificate, chain []*x509.Certificate, passphrase string) ([]byte, error) {
	var encoder *pkcs12.Encoder
	switch format {
	case PKCS12Compatible:
		encoder = pkcs12.LegacyDES
	case PKCS12Modern:
		encoder = pkcs12.Modern2023
	default:
		return nil, fmt.Errorf("unknown PKCS#12 format %q", format)
	}
	data, err := encoder.Encode(key, leaf, chain, passphrase)
	if err != nil {
		return nil, fmt.Errorf("encode PKCS#12: %w", err)
	}
	return data, nil
}
