// Package attest checks hardware key attestations uploaded with a
// certificate signing request.
//
// A CSR proves only that its sender holds the private key; it says nothing
// about where that key lives. A key generated in software can be copied off
// the laptop it was made on, and every certificate issued for it goes with
// it. A hardware token such as a YubiKey can instead sign a statement — an
// attestation certificate, chained to its manufacturer's root — that a key
// was generated inside the token and cannot leave it. Checking that chain,
// and that the attested key is the CSR's key, lets a certificate profile
// insist on non-exportable keys and lets the plugin record which device holds
// each one.
//
// The package knows nothing of Mattermost: the plugin supplies the policy of
// the certificate profile, the roots the administrator trusts, and what the
// user uploaded.
package attest

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Policy is how a certificate profile treats attestations.
type Policy string

const (
	// PolicyIgnore does not ask for an attestation; anything uploaded is not
	// looked at.
	PolicyIgnore Policy = "ignore"
	// PolicyVerifyIfPresent verifies an attestation when one is uploaded and
	// accepts a CSR without one.
	PolicyVerifyIfPresent Policy = "verify_if_present"
	// PolicyRequire refuses a CSR without an attestation that verifies.
	PolicyRequire Policy = "require"
)

// ParsePolicy reads a policy from configuration; empty means PolicyIgnore.
func ParsePolicy(s string) (Policy, error) {
	switch p := Policy(strings.ToLower(strings.TrimSpace(s))); p {
	case "":
		return PolicyIgnore, nil
	case PolicyIgnore, PolicyVerifyIfPresent, PolicyRequire:
		return p, nil
	default:
		return "", fmt.Errorf("unknown attestation policy %q (use %q, %q or %q)", s, PolicyIgnore, PolicyVerifyIfPresent, PolicyRequire)
	}
}

// Error is a refusal of the user's upload. Its text is Message alone, worded
// for the user to act on; Err, when set, is the technical cause (e.g. the
// crypto/x509 verification error) for the administrator's log, reached with
// errors.Unwrap.
type Error struct {
	Message string
	Err     error
}

func (e *Error) Error() string { return e.Message }

func (e *Error) Unwrap() error { return e.Err }

// IsError reports whether err is, or wraps, a refusal (*Error) rather than a
// failure of the caller or the server.
func IsError(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// Messages of refusals, worded for the user who uploaded the CSR.
const (
	msgRequired       = "this certificate profile requires a hardware attestation; upload the attestation certificate and its intermediate with the CSR"
	msgNoRootsRequire = "attestation is required but no trusted attestation roots are configured; contact your administrator"
	msgNoRootsUpload  = "the attestation cannot be checked because no trusted attestation roots are configured; upload the CSR without it, or contact your administrator"
	msgUntrusted      = "the attestation does not chain to a trusted attestation root"
	msgOnlyLeaf       = msgUntrusted + "; upload the attestation intermediate (the certificate in the token's f9 slot) after the attestation certificate"
	msgWrongOrder     = "the attestation certificate must come first in the upload, followed by its intermediate"
	msgWrongKey       = "the attested key is not the key of the certificate signing request"
	msgLeafExpired    = "the attestation certificate has expired"
	msgLeafNotYet     = "the attestation certificate is not valid yet"
	msgCritical       = "a certificate of the attestation carries a critical extension that cannot be checked"
)

// Evidence is what the user uploaded: the attestation certificate first,
// then its intermediates. No certificates means nothing was uploaded.
type Evidence struct {
	Certificates []*x509.Certificate
}

// Result is what an accepted CSR records about its key.
type Result struct {
	// Attested is true when an attestation was verified for the CSR's key.
	Attested bool
	// Format is FormatYubicoPIV when the attestation carries Yubico's
	// extensions, else FormatX509.
	Format string
	// DeviceSerial is the token's serial number, "" when the attestation
	// carries none.
	DeviceSerial string
	// FirmwareVersion is the token's firmware as major.minor.patch.
	FirmwareVersion string
	// PINPolicy and TouchPolicy are the slot's policies: "default", "never",
	// "once", "always" (PIN) and "default", "never", "always", "cached"
	// (touch).
	PINPolicy, TouchPolicy string
	// FormFactor is the token's physical form, e.g. "USB-C Keychain".
	FormFactor string
	// Root is the subject of the trusted root the attestation chains to.
	Root string
}

// Formats of an attestation.
const (
	FormatX509      = "x509"
	FormatYubicoPIV = "yubico-piv"
)

// Check applies policy to the evidence uploaded with a CSR whose public key
// is key, at time now. A refusal is an *Error; any other error is a fault of
// the caller.
func Check(policy Policy, roots *Roots, evidence Evidence, key crypto.PublicKey, now time.Time) (*Result, error) {
	uploaded := len(evidence.Certificates) > 0
	switch policy {
	case PolicyIgnore:
		return &Result{}, nil
	case PolicyVerifyIfPresent:
		if !uploaded {
			return &Result{}, nil
		}
		if roots.Len() == 0 {
			return nil, &Error{Message: msgNoRootsUpload}
		}
	case PolicyRequire:
		// The administrator's omission is reported before the user's, who
		// cannot fix it by uploading anything.
		if roots.Len() == 0 {
			return nil, &Error{Message: msgNoRootsRequire}
		}
		if !uploaded {
			return nil, &Error{Message: msgRequired}
		}
	default:
		return nil, fmt.Errorf("unknown attestation policy %q", policy)
	}
	return verify(roots, evidence.Certificates, key, now)
}

// verify checks that certs[0] attests key and chains, through certs[1:], to
// one of roots.
func verify(roots *Roots, certs []*x509.Certificate, key crypto.PublicKey, now time.Time) (*Result, error) {
	csrKey, ok := key.(interface{ Equal(crypto.PublicKey) bool })
	if !ok {
		return nil, fmt.Errorf("unsupported CSR public key type %T", key)
	}
	leaf := certs[0]
	for _, c := range certs[1:] {
		if bytes.Equal(c.RawIssuer, leaf.RawSubject) {
			return nil, &Error{Message: msgWrongOrder}
		}
	}

	intermediates := x509.NewCertPool()
	for _, c := range certs[1:] {
		intermediates.AddCert(deviceCertificateAsCA(tolerateYubicoCritical(c), leaf))
	}
	chains, err := tolerateYubicoCritical(leaf).Verify(x509.VerifyOptions{
		Roots:         roots.pool,
		Intermediates: intermediates,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		CurrentTime:   now,
	})
	if err != nil {
		return nil, chainError(err, leaf, len(certs), now)
	}
	if !csrKey.Equal(leaf.PublicKey) {
		return nil, &Error{Message: msgWrongKey}
	}

	result, err := readYubicoExtensions(leaf)
	if err != nil {
		return nil, err
	}
	result.Attested = true
	chain := chains[0]
	result.Root = chain[len(chain)-1].Subject.String()
	return result, nil
}

// chainError turns a crypto/x509 verification failure into a refusal the
// user can act on.
func chainError(err error, leaf *x509.Certificate, uploaded int, now time.Time) error {
	var invalid x509.CertificateInvalidError
	if errors.As(err, &invalid) && invalid.Reason == x509.Expired && invalid.Cert != nil {
		what := "the attestation certificate"
		if !bytes.Equal(invalid.Cert.Raw, leaf.Raw) {
			what = fmt.Sprintf("the attestation chain's certificate %q", invalid.Cert.Subject)
		}
		if now.Before(invalid.Cert.NotBefore) {
			return &Error{Message: what + " is not valid yet", Err: err}
		}
		return &Error{Message: what + " has expired", Err: err}
	}
	var critical x509.UnhandledCriticalExtension
	if errors.As(err, &critical) {
		return &Error{Message: msgCritical, Err: err}
	}
	if uploaded == 1 {
		return &Error{Message: msgOnlyLeaf, Err: err}
	}
	return &Error{Message: msgUntrusted, Err: err}
}

// tolerateYubicoCritical returns c, or a copy of c that no longer lists the
// known Yubico extensions as unhandled: this package reads them, so a device
// that marks them critical must not be refused for it. The caller's
// certificate is left as it was.
func tolerateYubicoCritical(c *x509.Certificate) *x509.Certificate {
	var unhandled []asn1.ObjectIdentifier
	for _, id := range c.UnhandledCriticalExtensions {
		if !isYubicoExtension(id) {
			unhandled = append(unhandled, id)
		}
	}
	if len(unhandled) == len(c.UnhandledCriticalExtensions) {
		return c
	}
	tolerant := *c
	tolerant.UnhandledCriticalExtensions = unhandled
	return &tolerant
}

// deviceCertificateAsCA returns c, or a copy of c allowed to sign, when c is
// the issuer of the attestation certificate leaf and has no basic
// constraints extension at all. Some YubiKey firmware (5.2.4 among others)
// holds such a device ("f9") certificate, which crypto/x509 would not accept
// as an issuer (Yubico/yubikey-manager#522). The copy still has to chain to a
// trusted root, may sign only the leaf (path length 0), and is refused if its
// key usage lacks certSign; an explicit CA:FALSE is never overridden.
func deviceCertificateAsCA(c, leaf *x509.Certificate) *x509.Certificate {
	if c.BasicConstraintsValid || !bytes.Equal(c.RawSubject, leaf.RawIssuer) {
		return c
	}
	device := *c
	device.BasicConstraintsValid = true
	device.IsCA = true
	device.MaxPathLen = 0
	device.MaxPathLenZero = true
	return &device
}
