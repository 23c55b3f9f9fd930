package records

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Revocation reasons, by their RFC 5280 names; the CRL and OCSP carry their
// codes.
const (
	ReasonUnspecified          = "unspecified"
	ReasonKeyCompromise        = "keyCompromise"
	ReasonAffiliationChanged   = "affiliationChanged"
	ReasonSuperseded           = "superseded"
	ReasonCessationOfOperation = "cessationOfOperation"
)

// reasonCodes are the RFC 5280 CRLReason codes of the reasons a user or an
// admin may give.
var reasonCodes = map[string]int{
	ReasonUnspecified:          0,
	ReasonKeyCompromise:        1,
	ReasonAffiliationChanged:   3,
	ReasonSuperseded:           4,
	ReasonCessationOfOperation: 5,
}

// Reasons lists the reasons one may give, in the order people read them.
func Reasons() []string {
	return []string{ReasonUnspecified, ReasonKeyCompromise, ReasonAffiliationChanged, ReasonSuperseded, ReasonCessationOfOperation}
}

// ParseReason reads a reason in any letter case; "" is unspecified.
func ParseReason(s string) (string, error) {
	if s == "" {
		return ReasonUnspecified, nil
	}
	for _, r := range Reasons() {
		if strings.EqualFold(r, s) {
			return r, nil
		}
	}
	return "", fmt.Errorf("%q is not a revocation reason; use one of %s", s, strings.Join(Reasons(), ", "))
}

// ReasonCode is the RFC 5280 code of a recorded reason; a reason recorded
// in words by an earlier version is unspecified.
func ReasonCode(reason string) int {
	return reasonCodes[reason]
}

// Revocation is one revoked certificate as a CRL lists it.
type Revocation struct {
	Serial    string
	RevokedAt int64 // milliseconds
	Reason    string
}

// CRLScope names the revocation list of one CA: the connector that
// issues with it and the CA itself, as Certificate.Issuer names the issuer
// of its certificates.
type CRLScope struct {
	Connector string
	Issuer    string
}

// CRL is the latest revocation list of one CA the plugin signs for.
type CRL struct {
	Number     int64     `json:"number"`
	ThisUpdate time.Time `json:"this_update"`
	NextUpdate time.Time `json:"next_update"`
	// Entries is how many certificates it lists.
	Entries int    `json:"entries"`
	DER     []byte `json:"der,omitempty"`
	// Revision counts the revocations of the CA's certificates recorded so
	// far; Covered is the revision the list was signed after. A list whose
	// Covered is below Revision is behind the inventory.
	Revision int64 `json:"revision"`
	Covered  int64 `json:"covered"`
}

// Signed reports whether a list was ever signed: a CA whose certificates
// were revoked before its first list has a revision and no list yet.
func (c *CRL) Signed() bool { return c != nil && c.Number > 0 }

// Behind reports whether a revocation was recorded since the list was
// signed.
func (c *CRL) Behind() bool { return c.Covered < c.Revision }

// Next is where the list after current (nil before the first) starts: its
// number, and the expiry before which a revoked certificate is left off.
// That is when current was signed: current carried every certificate that
// expired after it, so each revoked certificate is on one list signed
// after its expiry (RFC 5280 3.3) and then leaves. The first list starts
// at now.
func Next(current *CRL, now time.Time) (number int64, since time.Time) {
	if !current.Signed() {
		return 1, now
	}
	return current.Number + 1, current.ThisUpdate
}

// Issued is a list sign made, completed with what its store knows: its
// number, how many it names, and the revision it covers (that of current,
// read before the revocations were).
func Issued(signed *CRL, number int64, entries int, current *CRL) *CRL {
	signed.Number, signed.Entries = number, entries
	if current != nil {
		signed.Revision, signed.Covered = current.Revision, current.Revision
	}
	return signed
}

// Revoke is a revocation for a store to record: the certificate's state,
// when, by whom and why, and, for keyCompromise, the key's.
type Revoke struct {
	Serial string
	At     time.Time
	By     string
	Reason string
	// PendingAtCA says the certificate's CA has not accepted it yet.
	PendingAtCA bool
	// RemoteConnectors are the connectors whose CAs keep revocations of
	// their own (not the plugin's lists): a certificate of theirs that a
	// key compromise revokes with this one is left pending at its CA, to
	// be told.
	RemoteConnectors []string
}

// Revoked is what a recorded revocation changed.
type Revoked struct {
	Certificate *Certificate
	// Siblings are the other valid certificates of a compromised key,
	// revoked with it.
	Siblings []*Certificate
	// Marks are the revisions the lists of the CAs concerned reached.
	Marks []CRLMark
}

// CRLMark is the revision a revocation brought the list of a CA to: a
// list covering it names the certificate.
type CRLMark struct {
	Scope    CRLScope
	Revision int64
}

// ErrAlreadyRevoked is a revocation of a certificate revoked before (for
// keyCompromise, before for that reason).
var ErrAlreadyRevoked = errors.New("the certificate is already revoked")

// ErrCompromisedKey is a certificate for a key revoked as compromised: it
// is never recorded.
var ErrCompromisedKey = errors.New("the key was revoked as compromised")
