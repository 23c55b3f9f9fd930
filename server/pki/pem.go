package pki

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/youmark/pkcs8"
)

// EncodeCertificatesPEM writes certificates as concatenated PEM blocks,
// into one buffer of the size they take.
func EncodeCertificatesPEM(certs []*x509.Certificate) []byte {
	size := 0
	for _, c := range certs {
		size += certificatePEMSize(len(c.Raw))
	}
	out := bytes.NewBuffer(make([]byte, 0, size))
	for _, c := range certs {
		// Writing to memory cannot fail.
		_ = pem.Encode(out, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return out.Bytes()
}

// certificatePEMSize is the length of the PEM block of a certificate of
// derLen bytes: its two armour lines and its base64 in lines of 64.
func certificatePEMSize(derLen int) int {
	const armour = len("-----BEGIN CERTIFICATE-----\n") + len("-----END CERTIFICATE-----\n")
	text := base64.StdEncoding.EncodedLen(derLen)
	return armour + text + (text+63)/64
}

// ParseCertificatesPEM reads every CERTIFICATE block in data, in order.
func ParseCertificatesPEM(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("unexpected PEM block %q where a certificate was expected", block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("no PEM certificate found")
	}
	if strings.TrimSpace(string(rest)) != "" {
		return nil, fmt.Errorf("unexpected data after the last certificate")
	}
	return certs, nil
}

// ParsePrivateKeyPEM reads an unencrypted PKCS#8, PKCS#1 or SEC 1 private key.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("no PEM private key found")
	}
	if x509.IsEncryptedPEMBlock(block) { //nolint:staticcheck // detecting the legacy format to refuse it
		return nil, fmt.Errorf("the private key is encrypted; paste it unencrypted (the plugin encrypts it at rest)")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("unexpected PEM block %q where a private key was expected", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported private key type %T", key)
	}
	return signer, nil
}

// MarshalPrivateKey encodes a key as PKCS#8 DER.
func MarshalPrivateKey(key crypto.Signer) ([]byte, error) {
	return x509.MarshalPKCS8PrivateKey(key)
}

// ParsePrivateKeyDER reads a PKCS#8 DER key written by MarshalPrivateKey.
func ParsePrivateKeyDER(der []byte) (crypto.Signer, error) {
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported private key type %T", key)
	}
	return signer, nil
}

// Fingerprint is the lowercase hex SHA-256 of a certificate's DER encoding.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}

// PublicKeyFingerprint is the hex SHA-256 of a public key's
// SubjectPublicKeyInfo: the same key gives the same fingerprint in a CSR and
// in any certificate for it.
func PublicKeyFingerprint(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

// keyPEMIterations is the PBKDF2 round count of EncryptedPrivateKeyPEM. The
// passphrases it protects are random (NewPassphrase: about 148 bits), so
// stretching them adds nothing an attacker would notice; the count is that of
// the PKCS#12 file the same passphrase opens (go-pkcs12 and OpenSSL use
// 2048), so the PEM copy is no weaker than the file beside it. Libraries'
// defaults (600,000 in go.step.sm/crypto) are for passwords people choose,
// and cost about 80 times a whole enrollment.
const keyPEMIterations = 2048

// EncryptedPrivateKeyPEM encodes key as an encrypted PKCS#8 PEM block
// ("ENCRYPTED PRIVATE KEY": PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC), the form
// OpenSSL, NSS and Java read with a passphrase. Only for random passphrases:
// see keyPEMIterations.
func EncryptedPrivateKeyPEM(key crypto.Signer, passphrase string) ([]byte, error) {
	der, err := pkcs8.MarshalPrivateKey(key, []byte(passphrase), &pkcs8.Opts{
		Cipher: pkcs8.AES256CBC,
		KDFOpts: pkcs8.PBKDF2Opts{
			SaltSize:       16,
			IterationCount: keyPEMIterations,
			HMACHash:       crypto.SHA256,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("encrypt private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: der}), nil
}
