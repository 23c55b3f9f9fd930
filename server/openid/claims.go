package openid

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
)

// identity reads who the verified ID token names.
func (s Settings) identity(token *oidc.IDToken) (*Identity, error) {
	var claims map[string]any
	if err := token.Claims(&claims); err != nil {
		return nil, invalidToken("has claims that could not be read", err)
	}
	id := &Identity{
		Issuer:        token.Issuer,
		Subject:       token.Subject,
		Username:      stringClaim(claims[s.UsernameClaim]),
		Email:         strings.TrimSpace(stringClaim(claims[s.EmailClaim])),
		EmailVerified: boolClaim(claims["email_verified"]),
		Groups:        stringsClaim(claims[s.GroupsClaim]),
	}
	if id.Subject == "" {
		return nil, invalidToken("names no subject", nil)
	}
	return id, nil
}

// admit applies the portal's rules to who signed in. An email address the
// provider does not vouch for never gets through: it would end up in a
// certificate.
func (s Settings) admit(id *Identity) error {
	if id.Email == "" {
		return ErrEmailMissing
	}
	if !id.EmailVerified {
		return ErrEmailUnverified
	}
	if len(s.AllowedDomains) > 0 {
		at := strings.LastIndexByte(id.Email, '@')
		if at < 0 || !slices.ContainsFunc(s.AllowedDomains, func(allowed string) bool {
			return strings.EqualFold(strings.TrimSpace(allowed), id.Email[at+1:])
		}) {
			return ErrDomainNotAllowed
		}
	}
	if s.RequiredGroup != "" && !slices.Contains(id.Groups, s.RequiredGroup) {
		return ErrGroupMissing
	}
	return nil
}

func stringClaim(v any) string {
	s, _ := v.(string)
	return s
}

// boolClaim reads a boolean claim; some providers send "true" as a string.
func boolClaim(v any) bool {
	switch b := v.(type) {
	case bool:
		return b
	case string:
		return b == "true"
	}
	return false
}

// stringsClaim reads a list claim; a provider may send one value bare.
func stringsClaim(v any) []string {
	switch list := v.(type) {
	case string:
		return []string{list}
	case []any:
		var out []string
		for _, item := range list {
			if s, ok := item.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// tokenRefusal says why the ID token was not accepted. go-oidc checks the
// signature, then the issuer, the audience and the expiry; the claims it
// refused are read again, unverified, only to name which check failed.
func tokenRefusal(err error, rawIDToken string, s Settings) *Refusal {
	if isTransport(err) {
		return unreachable("signing keys", err)
	}
	var expired *oidc.TokenExpiredError
	if errors.As(err, &expired) {
		return invalidToken("has expired (is the portal's clock right?)", err)
	}
	claims := unverifiedClaims(rawIDToken)
	switch {
	case claims.Issuer != s.Issuer:
		return invalidToken("was issued by another provider", err)
	case !slices.Contains(claims.Audience, s.ClientID):
		return invalidToken("is meant for another client", err)
	}
	return invalidToken("has a signature that could not be verified", err)
}

type tokenClaims struct {
	Issuer   string
	Audience []string
}

// unverifiedClaims decodes the issuer and audience of a JWT without
// checking anything: for a message only, never for a decision.
func unverifiedClaims(rawJWT string) tokenClaims {
	parts := strings.Split(rawJWT, ".")
	if len(parts) != 3 {
		return tokenClaims{}
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return tokenClaims{}
	}
	var raw struct {
		Issuer   string `json:"iss"`
		Audience any    `json:"aud"`
	}
	if json.Unmarshal(payload, &raw) != nil {
		return tokenClaims{}
	}
	return tokenClaims{Issuer: raw.Issuer, Audience: stringsClaim(raw.Audience)}
}
