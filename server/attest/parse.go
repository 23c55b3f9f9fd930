package attest

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// Bounds of an uploaded attestation: a YubiKey's is two certificates of
// about a kilobyte each; newer devices add an intermediate or two.
const (
	MaxUploadBytes        = 64 << 10
	MaxUploadCertificates = 8
)

// Roots are the attestation roots the administrator trusts, e.g. the Yubico
// PIV attestation root CA. They do not change once parsed, so one value may
// serve concurrent checks; a nil *Roots has no roots.
type Roots struct {
	pool  *x509.CertPool
	certs []*x509.Certificate
}

// ParseRoots reads the administrator's PEM list of CERTIFICATE blocks. Each
// must be a CA certificate; text around or between blocks is refused. Blank
// text gives empty Roots.
func ParseRoots(pemText string) (*Roots, error) {
	roots := &Roots{pool: x509.NewCertPool()}
	blocks, err := splitPEM([]byte(pemText))
	if err != nil {
		return nil, fmt.Errorf("attestation roots: %w", err)
	}
	for i, block := range blocks {
		n := i + 1
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("attestation root %d: a %q PEM block is not a certificate", n, block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("attestation root %d: %w", n, err)
		}
		// A root that may not sign is a pasted leaf, most likely an
		// attestation certificate where its root was meant.
		if !cert.BasicConstraintsValid || !cert.IsCA {
			return nil, fmt.Errorf("attestation root %d (%s) is not a CA certificate", n, cert.Subject)
		}
		roots.pool.AddCert(cert)
		roots.certs = append(roots.certs, cert)
	}
	return roots, nil
}

// Len is the number of roots.
func (r *Roots) Len() int {
	if r == nil {
		return 0
	}
	return len(r.certs)
}

// Subjects are the roots' subjects, in configuration order, for display.
func (r *Roots) Subjects() []string {
	if r == nil {
		return nil
	}
	subjects := make([]string, len(r.certs))
	for i, c := range r.certs {
		subjects[i] = c.Subject.String()
	}
	return subjects
}

// ParseCertificates reads an uploaded attestation: one or more PEM
// CERTIFICATE blocks, or a single DER certificate. The first certificate is
// the attestation certificate, the rest its intermediates. Errors are
// *Error, for the user.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	if len(data) > MaxUploadBytes {
		return nil, &Error{Message: fmt.Sprintf("the attestation upload is too large (at most %d KiB)", MaxUploadBytes>>10)}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &Error{Message: "the attestation upload is empty"}
	}
	if !bytes.Contains(data, pemBegin) {
		cert, err := x509.ParseCertificate(data)
		if err != nil {
			return nil, &Error{Message: "the attestation upload is neither PEM certificates nor a DER certificate", Err: err}
		}
		return []*x509.Certificate{cert}, nil
	}
	blocks, err := splitPEM(data)
	if err != nil {
		return nil, &Error{Message: "the attestation upload is not valid PEM", Err: err}
	}
	if len(blocks) > MaxUploadCertificates {
		return nil, &Error{Message: fmt.Sprintf("the attestation upload has %d certificates; at most %d are accepted", len(blocks), MaxUploadCertificates)}
	}
	certs := make([]*x509.Certificate, 0, len(blocks))
	for i, block := range blocks {
		if block.Type != "CERTIFICATE" {
			return nil, &Error{Message: fmt.Sprintf("block %d of the attestation upload is a %q, not a certificate", i+1, block.Type)}
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, &Error{Message: fmt.Sprintf("certificate %d of the attestation upload is not valid", i+1), Err: err}
		}
		certs = append(certs, cert)
	}
	return certs, nil
}

var pemBegin = []byte("-----BEGIN")

// splitPEM decodes every PEM block of data. Unlike a loop over pem.Decode,
// which silently skips whatever it cannot read, it refuses text around or
// between blocks and a block it cannot decode, so a paste that lost a line
// is reported rather than half-used.
func splitPEM(data []byte) ([]*pem.Block, error) {
	var blocks []*pem.Block
	rest := data
	for {
		start := bytes.Index(rest, pemBegin)
		if start < 0 {
			break
		}
		n := len(blocks) + 1
		if len(bytes.TrimSpace(rest[:start])) > 0 {
			return nil, unexpectedText(n)
		}
		rest = rest[start:]
		block, after := pem.Decode(rest)
		// pem.Decode skips a malformed block and returns the next one; a
		// block that ends past the next BEGIN line is such a skip.
		next := bytes.Index(rest[len(pemBegin):], pemBegin)
		consumed := len(rest) - len(after)
		if block == nil || (next >= 0 && consumed > next+len(pemBegin)) {
			return nil, fmt.Errorf("block %d is not valid PEM", n)
		}
		blocks = append(blocks, block)
		rest = after
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, unexpectedText(len(blocks) + 1)
	}
	return blocks, nil
}

func unexpectedText(block int) error {
	if block == 1 {
		return errors.New("unexpected text where a PEM block was expected")
	}
	return fmt.Errorf("unexpected text after PEM block %d", block-1)
}
