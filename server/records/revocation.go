package records

import (
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

// CRL is the latest revocation list of one CA the plugin signs for.
type CRL struct {
	Number     int64     `json:"number"`
	ThisUpdate time.Time `json:"this_update"`
	NextUpdate time.Time `json:"next_update"`
	DER        []byte    `json:"der"`
}
