package linktoken

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

const (
	testSecret  = "0123456789abcdef0123456789abcdef-link-secret"
	otherSecret = "fedcba9876543210fedcba9876543210-link-secret"
	testUser    = records.Principal("mm:userid0000000000000000000a")
)

var t0 = time.Date(2031, time.March, 4, 5, 6, 7, 0, time.UTC)

// clock is a settable time source for a Minter.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func newMinter(t *testing.T, secret string) (*Minter, *clock) {
	t.Helper()
	c := &clock{now: t0}
	m, err := NewMinter(secret, c.Now)
	require.NoError(t, err)
	return m, c
}

// validClaims are the claims Mint would produce at t0, for building tokens
// by hand.
func validClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss":     issuer,
		"sub":     string(testUser),
		"aud":     []string{string(PurposeIssue)},
		"jti":     "0123456789abcdef0123456789abcdef",
		"iat":     t0.Unix(),
		"nbf":     t0.Unix(),
		"exp":     t0.Add(10 * time.Minute).Unix(),
		"profile": "default",
	}
}

func sign(t *testing.T, method jwt.SigningMethod, claims jwt.Claims, key any) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	require.NoError(t, err)
	return s
}

func TestMintVerifyRoundTrip(t *testing.T) {
	m, _ := newMinter(t, testSecret)
	token, minted, err := m.Mint(testUser, PurposeIssue, "default", 10*time.Minute)
	require.NoError(t, err)
	require.NotEmpty(t, token)
	assert.Equal(t, 2, strings.Count(token, "."))

	claims, err := m.Verify(token, PurposeIssue)
	require.NoError(t, err)
	assert.Equal(t, testUser, claims.Principal())
	assert.Equal(t, string(testUser), claims.Subject)
	assert.Equal(t, minted.ID, claims.ID)
	assert.Regexp(t, `^[0-9a-f]{32}$`, claims.ID)
	assert.Equal(t, jwt.ClaimStrings{string(PurposeIssue)}, claims.Audience)
	assert.Equal(t, issuer, claims.Issuer)
	assert.Equal(t, "default", claims.Profile)
	assert.Equal(t, t0, claims.IssuedAt.Time.UTC())
	assert.Equal(t, t0, claims.NotBefore.Time.UTC())
	assert.Equal(t, t0.Add(10*time.Minute), claims.ExpiresAt.Time.UTC())

	// The claims returned by Mint are those in the token.
	assert.Equal(t, minted.Subject, claims.Subject)
	assert.Equal(t, minted.Profile, claims.Profile)
	assert.Equal(t, minted.ExpiresAt.Unix(), claims.ExpiresAt.Unix())

	// A token is accepted as many times as it is presented: single use is
	// the caller's job (the store records the id).
	_, err = m.Verify(token, PurposeIssue)
	require.NoError(t, err)

	// Another Minter with the same secret (another cluster node) accepts it.
	m2, _ := newMinter(t, testSecret)
	_, err = m2.Verify(token, PurposeIssue)
	require.NoError(t, err)
}

func TestMintWithoutProfile(t *testing.T) {
	m, _ := newMinter(t, testSecret)
	token, _, err := m.Mint(testUser, PurposeIssue, "", time.Minute)
	require.NoError(t, err)
	claims, err := m.Verify(token, PurposeIssue)
	require.NoError(t, err)
	assert.Empty(t, claims.Profile)
}

func TestRenewalLinksNameTheCertificateTheyReplace(t *testing.T) {
	m, _ := newMinter(t, testSecret)
	token, _, err := m.MintRenewal(testUser, PurposeCSR, "vpn", "0a1b", time.Minute)
	require.NoError(t, err)
	claims, err := m.Verify(token, PurposeCSR)
	require.NoError(t, err)
	assert.Equal(t, "0a1b", claims.Renews)
	assert.Empty(t, claims.Request)

	_, _, err = m.MintRenewal(testUser, PurposeIssue, "vpn", "", time.Minute)
	assert.Error(t, err, "a renewal names what it renews")
	plain, _, err := m.Mint(testUser, PurposeIssue, "vpn", time.Minute)
	require.NoError(t, err)
	claims, err = m.Verify(plain, PurposeIssue)
	require.NoError(t, err)
	assert.Empty(t, claims.Renews)
}

func TestMintRefusesAnythingButAPrincipal(t *testing.T) {
	m, _ := newMinter(t, testSecret)
	for _, who := range []records.Principal{"", "userid0000000000000000000a", "mm:"} {
		token, claims, err := m.Mint(who, PurposeIssue, "default", time.Minute)
		require.Error(t, err, who)
		assert.Empty(t, token)
		assert.Nil(t, claims)
	}
}

// A link the previous version minted names a bare Mattermost user id: it
// is refused as expired, however valid its signature and lifetime.
func TestVerifyRefusesALinkThatNamesNoPrincipalAsExpired(t *testing.T) {
	m, _ := newMinter(t, testSecret)
	claims := validClaims()
	claims["sub"] = "userid0000000000000000000a"
	got, err := m.Verify(sign(t, jwt.SigningMethodHS256, claims, []byte(testSecret)), PurposeIssue)
	require.ErrorIs(t, err, ErrExpired)
	assert.Nil(t, got)
}

func TestTokenIDsAreUnique(t *testing.T) {
	m, _ := newMinter(t, testSecret)
	seen := map[string]bool{}
	tokens := map[string]bool{}
	for range 1000 {
		token, claims, err := m.Mint(testUser, PurposeIssue, "default", time.Minute)
		require.NoError(t, err)
		require.False(t, seen[claims.ID], "duplicate token id %s", claims.ID)
		require.False(t, tokens[token], "duplicate token")
		seen[claims.ID] = true
		tokens[token] = true
	}
}

func TestNewMinterSecretLength(t *testing.T) {
	for _, secret := range []string{"", "short", strings.Repeat("x", minSecretLength-1)} {
		m, err := NewMinter(secret, nil)
		require.Error(t, err, "secret of %d characters", len(secret))
		assert.Nil(t, m)
	}
	m, err := NewMinter(strings.Repeat("x", minSecretLength), nil)
	require.NoError(t, err)
	require.NotNil(t, m)

	// A nil clock is the wall clock: a fresh token verifies.
	token, _, err := m.Mint(testUser, PurposeIssue, "", time.Minute)
	require.NoError(t, err)
	_, err = m.Verify(token, PurposeIssue)
	require.NoError(t, err)
}

func TestVerifyLifetime(t *testing.T) {
	const ttl = 10 * time.Minute
	tests := []struct {
		name  string
		at    time.Duration // verification time, relative to minting
		want  error
		valid bool
	}{
		{"at once", 0, nil, true},
		{"half way", ttl / 2, nil, true},
		{"last second", ttl - time.Second, nil, true},
		{"expired within leeway", ttl + leeway - time.Second, nil, true},
		{"expired beyond leeway", ttl + leeway + time.Second, ErrExpired, false},
		{"long expired", 30 * 24 * time.Hour, ErrExpired, false},
		{"issued within leeway in the future", -(leeway - time.Second), nil, true},
		{"issued beyond leeway in the future", -(leeway + time.Second), ErrInvalid, false},
		{"issued an hour in the future", -time.Hour, ErrInvalid, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, c := newMinter(t, testSecret)
			token, _, err := m.Mint(testUser, PurposeIssue, "", ttl)
			require.NoError(t, err)
			c.now = t0.Add(tc.at)
			claims, err := m.Verify(token, PurposeIssue)
			if tc.valid {
				require.NoError(t, err)
				assert.Equal(t, testUser, claims.Principal())
				return
			}
			require.ErrorIs(t, err, tc.want)
			assert.Nil(t, claims)
		})
	}
}

func TestVerifyExpiredIsNotInvalid(t *testing.T) {
	m, c := newMinter(t, testSecret)
	token, _, err := m.Mint(testUser, PurposeIssue, "", time.Minute)
	require.NoError(t, err)
	c.now = t0.Add(time.Hour)
	_, err = m.Verify(token, PurposeIssue)
	require.ErrorIs(t, err, ErrExpired)
	assert.NotErrorIs(t, err, ErrInvalid)
}

// A token whose lifetime is zero or negative is born expired.
func TestMintNonPositiveTTL(t *testing.T) {
	m, _ := newMinter(t, testSecret)
	token, _, err := m.Mint(testUser, PurposeIssue, "", -time.Hour)
	require.NoError(t, err)
	_, err = m.Verify(token, PurposeIssue)
	require.ErrorIs(t, err, ErrExpired)
}

func TestVerifyRefusesForgedTokens(t *testing.T) {
	m, _ := newMinter(t, testSecret)
	other, _ := newMinter(t, otherSecret)
	token, _, err := m.Mint(testUser, PurposeIssue, "default", 10*time.Minute)
	require.NoError(t, err)
	otherToken, _, err := other.Mint(testUser, PurposeIssue, "default", 10*time.Minute)
	require.NoError(t, err)

	parts := strings.Split(token, ".")
	require.Len(t, parts, 3)
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	require.NoError(t, err)
	sig[0] ^= 0x01
	flipped := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)

	// Claims changed (another user) with the original signature.
	forgedClaims := validClaims()
	forgedClaims["sub"] = "attacker"
	payload := strings.Split(sign(t, jwt.SigningMethodHS256, forgedClaims, []byte("whatever-secret-whatever-secret!!")), ".")[1]
	swappedPayload := parts[0] + "." + payload + "." + parts[2]

	tests := []struct {
		name  string
		token string
	}{
		{"signature bit flipped", flipped},
		{"signature removed", parts[0] + "." + parts[1] + "."},
		{"signature of another token", parts[0] + "." + parts[1] + "." + strings.Split(otherToken, ".")[2]},
		{"payload swapped", swappedPayload},
		{"signed with another secret", otherToken},
		{"signed with an empty secret", sign(t, jwt.SigningMethodHS256, validClaims(), []byte{})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			claims, err := m.Verify(tc.token, PurposeIssue)
			require.ErrorIs(t, err, ErrInvalid)
			assert.Nil(t, claims)
		})
	}

	// Forged and expired: the forgery is what counts.
	m.now = func() time.Time { return t0.Add(24 * time.Hour) }
	_, err = m.Verify(otherToken, PurposeIssue)
	require.ErrorIs(t, err, ErrInvalid)
}

func TestVerifyRefusesOtherAlgorithms(t *testing.T) {
	m, _ := newMinter(t, testSecret)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)

	// The header of a well-formed HS256 token re-labelled, signature kept.
	good := sign(t, jwt.SigningMethodHS256, validClaims(), []byte(testSecret))
	goodParts := strings.Split(good, ".")
	relabel := func(alg string) string {
		header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"` + alg + `","typ":"JWT"}`))
		return header + "." + goodParts[1] + "." + goodParts[2]
	}

	tests := []struct {
		name  string
		token string
	}{
		{"alg none", sign(t, jwt.SigningMethodNone, validClaims(), jwt.UnsafeAllowNoneSignatureType)},
		{"alg none, signature kept", relabel("none")},
		{"alg None", relabel("None")},
		{"HS384 with the right secret", sign(t, jwt.SigningMethodHS384, validClaims(), []byte(testSecret))},
		{"HS512 with the right secret", sign(t, jwt.SigningMethodHS512, validClaims(), []byte(testSecret))},
		{"HS512 header on an HS256 signature", relabel("HS512")},
		{"RS256", sign(t, jwt.SigningMethodRS256, validClaims(), rsaKey)},
		{"PS256", sign(t, jwt.SigningMethodPS256, validClaims(), rsaKey)},
		{"ES256", sign(t, jwt.SigningMethodES256, validClaims(), ecKey)},
		{"EdDSA header", relabel("EdDSA")},
		{"unknown alg", relabel("XS256")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			claims, err := m.Verify(tc.token, PurposeIssue)
			require.ErrorIs(t, err, ErrInvalid)
			assert.Nil(t, claims)
		})
	}

	// The hand-built claims are otherwise valid: signed properly, they pass.
	_, err = m.Verify(good, PurposeIssue)
	require.NoError(t, err)
}

func TestVerifyRefusesWrongClaims(t *testing.T) {
	m, _ := newMinter(t, testSecret)

	tests := []struct {
		name   string
		change func(jwt.MapClaims)
	}{
		{"other audience", func(c jwt.MapClaims) { c["aud"] = []string{"certs:revoke"} }},
		{"audience as a prefix", func(c jwt.MapClaims) { c["aud"] = "certs:issue:extra" }},
		{"no audience", func(c jwt.MapClaims) { delete(c, "aud") }},
		{"empty audience", func(c jwt.MapClaims) { c["aud"] = []string{} }},
		{"other issuer", func(c jwt.MapClaims) { c["iss"] = "someone-else" }},
		{"no issuer", func(c jwt.MapClaims) { delete(c, "iss") }},
		{"no expiry", func(c jwt.MapClaims) { delete(c, "exp") }},
		{"expiry as a string", func(c jwt.MapClaims) { c["exp"] = "tomorrow" }},
		{"no subject", func(c jwt.MapClaims) { delete(c, "sub") }},
		{"empty subject", func(c jwt.MapClaims) { c["sub"] = "" }},
		{"subject not a string", func(c jwt.MapClaims) { c["sub"] = 42 }},
		{"no id", func(c jwt.MapClaims) { delete(c, "jti") }},
		{"empty id", func(c jwt.MapClaims) { c["jti"] = "" }},
		{"not before in the future", func(c jwt.MapClaims) { c["nbf"] = t0.Add(time.Hour).Unix() }},
		{"issued in the future", func(c jwt.MapClaims) { c["iat"] = t0.Add(time.Hour).Unix() }},
		{"issued in the future, no nbf", func(c jwt.MapClaims) {
			delete(c, "nbf")
			c["iat"] = t0.Add(time.Hour).Unix()
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			claims := validClaims()
			tc.change(claims)
			token := sign(t, jwt.SigningMethodHS256, claims, []byte(testSecret))
			got, err := m.Verify(token, PurposeIssue)
			require.ErrorIs(t, err, ErrInvalid)
			assert.Nil(t, got)
		})
	}
}

func TestVerifyRefusesOtherPurpose(t *testing.T) {
	m, _ := newMinter(t, testSecret)
	token, _, err := m.Mint(testUser, Purpose("certs:revoke"), "", time.Minute)
	require.NoError(t, err)
	_, err = m.Verify(token, PurposeIssue)
	require.ErrorIs(t, err, ErrInvalid)
	_, err = m.Verify(token, Purpose("certs:revoke"))
	require.NoError(t, err)
}

func TestVerifyAcceptsHandBuiltValidClaims(t *testing.T) {
	m, _ := newMinter(t, testSecret)
	// Optional claims may be absent; a single audience may be a string.
	claims := validClaims()
	delete(claims, "nbf")
	delete(claims, "iat")
	delete(claims, "profile")
	claims["aud"] = string(PurposeIssue)
	got, err := m.Verify(sign(t, jwt.SigningMethodHS256, claims, []byte(testSecret)), PurposeIssue)
	require.NoError(t, err)
	assert.Equal(t, testUser, got.Principal())
	assert.Empty(t, got.Profile)
}

func TestVerifyRefusesMalformedTokens(t *testing.T) {
	m, _ := newMinter(t, testSecret)
	random := make([]byte, 96)
	_, err := rand.Read(random)
	require.NoError(t, err)
	b64 := base64.RawURLEncoding.EncodeToString
	good, _, err := m.Mint(testUser, PurposeIssue, "", time.Minute)
	require.NoError(t, err)
	parts := strings.Split(good, ".")

	tests := []struct {
		name  string
		token string
	}{
		{"empty", ""},
		{"blank", "   "},
		{"one part", "abc"},
		{"two parts", "a.b"},
		{"three empty parts", ".."},
		{"four parts", good + ".x"},
		{"random base64", b64(random)},
		{"random base64 parts", b64(random[:32]) + "." + b64(random[32:64]) + "." + b64(random[64:])},
		{"header not JSON", b64([]byte("not json")) + "." + parts[1] + "." + parts[2]},
		{"payload not JSON", parts[0] + "." + b64([]byte("not json")) + "." + parts[2]},
		{"payload a JSON array", parts[0] + "." + b64([]byte("[1,2,3]")) + "." + parts[2]},
		{"padded base64", parts[0] + "==." + parts[1] + "." + parts[2]},
		{"whitespace around", " " + good + " "},
		{"huge", strings.Repeat("A", 4<<20) + "." + strings.Repeat("B", 1<<20) + "." + parts[2]},
		{"huge valid JSON payload", parts[0] + "." + b64([]byte(`{"sub":"`+strings.Repeat("x", 2<<20)+`"}`)) + "." + parts[2]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			claims, err := m.Verify(tc.token, PurposeIssue)
			require.ErrorIs(t, err, ErrInvalid)
			assert.Nil(t, claims)
		})
	}
}

func TestVerifyExpiredTokenForAnotherUseIsInvalid(t *testing.T) {
	m, c := newMinter(t, testSecret)
	for claim, value := range map[string]any{"aud": "certs:other", "iss": "someone-else"} {
		claims := validClaims()
		claims[claim] = value
		token := sign(t, jwt.SigningMethodHS256, claims, []byte(testSecret))
		c.now = t0.Add(time.Hour)
		_, err := m.Verify(token, PurposeIssue)
		require.ErrorIs(t, err, ErrInvalid, claim)
		c.now = t0
	}
}
