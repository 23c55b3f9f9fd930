// Package linktoken mints and checks the short-lived JWTs carried by
// enrollment links. A token proves who asked for a link (a principal, in
// its subject) and when; it is made
// single-use by the caller, which records its ID when it is consumed.
package linktoken

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

const (
	issuer = "mattermost-plugin-certs"
	// minSecretLength guards against a hand-typed, guessable signing secret.
	minSecretLength = 32
	// leeway tolerates clock differences between cluster nodes.
	leeway = 5 * time.Second
)

// Purpose is the audience of a token: a token minted for one use is refused
// for any other.
type Purpose string

const (
	// PurposeIssue is a link that creates a certificate with a
	// server-generated key, or collects a request's certificate.
	PurposeIssue Purpose = "certs:issue"
	// PurposeCSR is a link to the page that signs an uploaded CSR.
	PurposeCSR Purpose = "certs:csr"
)

var (
	// ErrExpired is a token whose lifetime is over.
	ErrExpired = errors.New("the link has expired")
	// ErrInvalid is a token that is malformed, forged, or not for this use.
	ErrInvalid = errors.New("the link is not valid")
)

// Claims are the contents of a link token.
type Claims struct {
	jwt.RegisteredClaims
	// Profile is the certificate profile the link was asked for.
	Profile string `json:"profile,omitempty"`
	// Request is the approved request a pickup link collects.
	Request string `json:"req,omitempty"`
	// Renews is the serial of the certificate a renewal link replaces.
	Renews string `json:"renews,omitempty"`
}

// Principal is who the link was minted for.
func (c *Claims) Principal() records.Principal { return records.Principal(c.Subject) }

// Minter signs and verifies link tokens with one HMAC secret.
type Minter struct {
	secret []byte
	now    func() time.Time
	// parsers check what Verify requires of a token for each purpose;
	// they are built once, as they never change.
	parsers map[Purpose]*jwt.Parser
}

// purposes are the uses a token may be minted for.
var purposes = []Purpose{PurposeIssue, PurposeCSR}

// NewMinter returns a Minter for secret. now is the clock (time.Now in
// production).
func NewMinter(secret string, now func() time.Time) (*Minter, error) {
	if len(secret) < minSecretLength {
		return nil, fmt.Errorf("link signing secret is too short (%d characters, need at least %d)", len(secret), minSecretLength)
	}
	if now == nil {
		now = time.Now
	}
	m := &Minter{secret: []byte(secret), now: now, parsers: make(map[Purpose]*jwt.Parser, len(purposes))}
	for _, purpose := range purposes {
		m.parsers[purpose] = m.newParser(purpose)
	}
	return m, nil
}

// Mint returns a signed token for principal, valid for ttl.
func (m *Minter) Mint(principal records.Principal, purpose Purpose, profile string, ttl time.Duration) (string, *Claims, error) {
	return m.mint(principal, purpose, profile, "", "", ttl)
}

// MintRenewal returns a token for a certificate that replaces the one with
// serial renews.
func (m *Minter) MintRenewal(principal records.Principal, purpose Purpose, profile, renews string, ttl time.Duration) (string, *Claims, error) {
	if renews == "" {
		return "", nil, errors.New("a renewal link needs the certificate it renews")
	}
	return m.mint(principal, purpose, profile, "", renews, ttl)
}

// MintPickup returns a token that collects the certificate of an approved
// request.
func (m *Minter) MintPickup(principal records.Principal, profile, requestID string, ttl time.Duration) (string, *Claims, error) {
	if requestID == "" {
		return "", nil, errors.New("a pickup link needs a request")
	}
	return m.mint(principal, PurposeIssue, profile, requestID, "", ttl)
}

func (m *Minter) mint(principal records.Principal, purpose Purpose, profile, requestID, renews string, ttl time.Duration) (string, *Claims, error) {
	if principal.Kind() == "" {
		return "", nil, fmt.Errorf("a link needs a principal, not %q", principal)
	}
	idBytes := make([]byte, 16)
	if _, err := rand.Read(idBytes); err != nil {
		return "", nil, err
	}
	now := m.now()
	claims := &Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    issuer,
			Subject:   string(principal),
			Audience:  jwt.ClaimStrings{string(purpose)},
			ID:        hex.EncodeToString(idBytes),
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		Profile: profile,
		Request: requestID,
		Renews:  renews,
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(m.secret)
	if err != nil {
		return "", nil, err
	}
	return signed, claims, nil
}

// Verify checks a token's signature (HS256 only), issuer, audience and
// lifetime, and returns its claims. The error is ErrExpired or ErrInvalid.
// A token the previous version minted names a bare Mattermost user id: it
// is refused as expired rather than read as that account's principal, as
// such links lived minutes (a pickup link a day) and a new one is a
// command away.
func (m *Minter) Verify(token string, purpose Purpose) (*Claims, error) {
	parser, ok := m.parsers[purpose]
	if !ok {
		parser = m.newParser(purpose)
	}
	claims := &Claims{}
	_, err := parser.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return m.secret, nil })
	switch {
	case err == nil:
	case onlyExpired(err):
		return nil, ErrExpired
	default:
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if claims.Subject == "" || claims.ID == "" {
		return nil, fmt.Errorf("%w: missing subject or id", ErrInvalid)
	}
	if claims.Principal().Kind() == "" {
		return nil, ErrExpired
	}
	return claims, nil
}

// newParser checks a token's signature (HS256 only), issuer, audience
// (purpose) and lifetime.
func (m *Minter) newParser(purpose Purpose) *jwt.Parser {
	return jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(string(purpose)),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(m.now),
	)
}

// onlyExpired reports whether expiry is the token's only fault: a token that
// is also for another use or issuer is invalid, whatever its age.
func onlyExpired(err error) bool {
	if !errors.Is(err, jwt.ErrTokenExpired) {
		return false
	}
	for _, other := range []error{
		jwt.ErrTokenSignatureInvalid, jwt.ErrTokenMalformed, jwt.ErrTokenUnverifiable,
		jwt.ErrTokenInvalidAudience, jwt.ErrTokenInvalidIssuer, jwt.ErrTokenInvalidSubject,
		jwt.ErrTokenNotValidYet, jwt.ErrTokenUsedBeforeIssued, jwt.ErrTokenRequiredClaimMissing,
		jwt.ErrTokenInvalidId,
	} {
		if errors.Is(err, other) {
			return false
		}
	}
	return true
}
