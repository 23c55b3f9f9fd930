package pki

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
)

// MaxCSRBytes bounds an uploaded CSR: an RSA-4096 request with generous
// attributes stays under 8 KiB; anything larger is not a CSR we accept.
const MaxCSRBytes = 16 << 10

// CSRError is a refused certificate signing request, with a message the
// uploader can act on. The message is plain words; the parser's own error,
// when there is one, is Err, for the log.
type CSRError struct {
	Message string
	Err     error
}

func (e *CSRError) Error() string { return e.Message }

// Unwrap returns the underlying parser error, if any.
func (e *CSRError) Unwrap() error { return e.Err }

// Detail is the message with the underlying error, for logging.
func (e *CSRError) Detail() string {
	if e.Err == nil {
		return e.Message
	}
	return e.Message + ": " + e.Err.Error()
}

func csrError(format string, args ...any) error {
	return &CSRError{Message: fmt.Sprintf(format, args...)}
}

// msgUnreadableCSR is the refusal of data that cannot be parsed as a CSR.
// Like every CSRError message it is lower-case without a final stop, for
// the caller to capitalize and end.
const msgUnreadableCSR = "the file is not a certificate signing request (PEM or DER) that can be read"

// ParseCSR reads a CSR given as PEM ("CERTIFICATE REQUEST" or the legacy
// "NEW CERTIFICATE REQUEST") or DER, checks its signature (proof that the
// uploader holds the key) and that its key is one of allowed. The names in
// the CSR are returned as they are: the caller decides the certificate's
// names from the account, never from the CSR.
func ParseCSR(data []byte, allowed []KeyType) (*x509.CertificateRequest, KeyType, error) {
	if len(data) == 0 {
		return nil, "", csrError("the certificate signing request is empty")
	}
	if len(data) > MaxCSRBytes {
		return nil, "", csrError("the certificate signing request is larger than %d bytes", MaxCSRBytes)
	}
	der := data
	if trimmed := bytes.TrimSpace(data); bytes.HasPrefix(trimmed, []byte("-----BEGIN")) {
		block, rest := pem.Decode(trimmed)
		if block == nil {
			return nil, "", csrError("the PEM text cannot be read")
		}
		if block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST" {
			return nil, "", csrError("expected a CERTIFICATE REQUEST, got a PEM %q block", block.Type)
		}
		if len(bytes.TrimSpace(rest)) != 0 {
			return nil, "", csrError("upload one certificate signing request at a time")
		}
		der = block.Bytes
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, "", &CSRError{Message: msgUnreadableCSR, Err: err}
	}
	// The key type first: a DSA request's signature cannot be checked at
	// all, and "unsupported key" says more than "bad signature".
	if csr.PublicKeyAlgorithm == x509.UnknownPublicKeyAlgorithm {
		return nil, "", csrError("the request's key is of a kind that is not supported (use ECDSA or RSA 2048+)")
	}
	keyType, err := KeyTypeOf(csr.PublicKey)
	if err != nil {
		return nil, "", &CSRError{Message: "the request's key is not accepted: " + err.Error(), Err: err}
	}
	if !slices.Contains(allowed, keyType) {
		return nil, "", csrError("this certificate does not accept %s keys (accepted: %v)", keyType, allowed)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, "", &CSRError{Message: "the request's signature does not verify: it was altered or not made with its key", Err: err}
	}
	return csr, keyType, nil
}

// IsCSRError reports whether err is a refusal of the CSR itself.
func IsCSRError(err error) bool {
	var ce *CSRError
	return errors.As(err, &ce)
}
