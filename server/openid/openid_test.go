package openid

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/pluginapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/clientcerts/mattermost-plugin-certs/server/clocktest"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

const (
	callbackPath = "/plugins/certs/portal/oidc/callback"
	cookiePath   = "/plugins/certs/portal/oidc"
	returnTo     = "/plugins/certs/portal/certificates"
)

type bed struct {
	idp      *testIdP
	kv       *pluginapi.MemoryStore
	clock    *clocktest.Clock
	flows    *Flows
	settings Settings
}

func newBed(t *testing.T) *bed {
	t.Helper()
	b := &bed{kv: &pluginapi.MemoryStore{}, clock: clocktest.New(time.Now().Truncate(time.Second))}
	b.idp = newTestIdP(t, b.clock.Now)
	b.flows = &Flows{
		Store: store.New(b.kv), Now: b.clock.Now, CookiePath: cookiePath,
		Client: &http.Client{Timeout: 2 * time.Second}, Secure: func() bool { return true },
	}
	b.settings = Settings{
		Issuer: b.idp.issuer(), ClientID: b.idp.clientID, ClientSecret: b.idp.secret,
		RedirectURL: "https://chat.example.com" + callbackPath,
	}
	return b
}

// begin starts a sign-in and returns the authorization URL and the
// browser's cookie.
func (b *bed) begin(t *testing.T) (string, *http.Cookie) {
	t.Helper()
	w := httptest.NewRecorder()
	authURL, err := b.flows.Begin(context.Background(), w, b.settings, returnTo)
	require.NoError(t, err)
	cookies := w.Result().Cookies()
	require.Len(t, cookies, 1)
	return authURL, cookies[0]
}

// callback is the request the browser comes back with after the provider
// signed the person in.
func (b *bed) callback(t *testing.T) (*http.Request, *http.Cookie) {
	t.Helper()
	authURL, cookie := b.begin(t)
	r := httptest.NewRequest(http.MethodGet, b.idp.authorize(t, authURL).String(), nil)
	r.AddCookie(cookie)
	return r, cookie
}

func (b *bed) finish(r *http.Request) (*Identity, string, error) {
	return b.flows.Finish(context.Background(), httptest.NewRecorder(), r, b.settings)
}

// requireRefused asserts err is a refusal of want's code, whose message
// has each of says.
func requireRefused(t *testing.T, err error, want *Refusal, says ...string) {
	t.Helper()
	require.ErrorIs(t, err, want)
	var refusal *Refusal
	require.ErrorAs(t, err, &refusal)
	for _, s := range says {
		assert.Contains(t, refusal.Message, s)
	}
}

// requireNoFlowLeft asserts the KV store keeps no sign-in.
func (b *bed) requireNoFlowLeft(t *testing.T) {
	t.Helper()
	keys, err := b.kv.ListKeys(0, 100)
	require.NoError(t, err)
	assert.Empty(t, keys)
}

func TestSignIn(t *testing.T) {
	b := newBed(t)
	authURL, cookie := b.begin(t)

	assert.True(t, strings.HasPrefix(cookie.Name, CookiePrefix), cookie.Name)
	assert.Equal(t, cookiePath, cookie.Path)
	assert.True(t, cookie.HttpOnly)
	assert.True(t, cookie.Secure)
	assert.Equal(t, http.SameSiteLaxMode, cookie.SameSite)
	assert.Equal(t, int(FlowTTL/time.Second), cookie.MaxAge)

	r := httptest.NewRequest(http.MethodGet, b.idp.authorize(t, authURL).String(), nil)
	r.AddCookie(cookie)
	w := httptest.NewRecorder()
	id, back, err := b.flows.Finish(context.Background(), w, r, b.settings)
	require.NoError(t, err)
	assert.Equal(t, &Identity{
		Issuer: b.idp.issuer(), Subject: "user-1", Username: "alice", Email: "alice@example.com",
		EmailVerified: true, Groups: []string{"staff", "certificate-holders"},
	}, id)
	assert.Equal(t, records.OIDCUser(b.idp.issuer(), "user-1"), id.Principal())
	assert.Equal(t, returnTo, back)

	cleared := w.Result().Cookies()
	require.Len(t, cleared, 1)
	assert.Equal(t, cookie.Name, cleared[0].Name)
	assert.Negative(t, cleared[0].MaxAge, "the flow's cookie is cleared")
	b.requireNoFlowLeft(t)
}

// The authorization request carries the S256 challenge of the verifier the
// code is later redeemed with, a nonce, the state and the scopes.
func TestAuthorizationRequest(t *testing.T) {
	b := newBed(t)
	b.settings.Scopes = []string{"groups", "email", " offline_access "}
	authURL, cookie := b.begin(t)
	q, err := url.ParseQuery(authURL[strings.IndexByte(authURL, '?')+1:])
	require.NoError(t, err)
	assert.Equal(t, "S256", q.Get("code_challenge_method"))
	assert.Len(t, q.Get("nonce"), 43)
	assert.Len(t, q.Get("state"), 43)
	assert.Equal(t, "openid email profile groups offline_access", q.Get("scope"))
	assert.Equal(t, b.settings.RedirectURL, q.Get("redirect_uri"))
	assert.NotContains(t, authURL, b.settings.ClientSecret)

	r := httptest.NewRequest(http.MethodGet, b.idp.authorize(t, authURL).String(), nil)
	r.AddCookie(cookie)
	_, _, err = b.finish(r)
	require.NoError(t, err)
	require.Len(t, b.idp.verifiers, 1)
	assert.Equal(t, q.Get("code_challenge"), oauth2.S256ChallengeFromVerifier(b.idp.verifiers[0]))
}

func TestUnknownState(t *testing.T) {
	b := newBed(t)
	r, cookie := b.callback(t)
	q := r.URL.Query()
	for name, state := range map[string]string{"other": "not-a-state-we-made", "none": ""} {
		t.Run(name, func(t *testing.T) {
			q.Set("state", state)
			other := httptest.NewRequest(http.MethodGet, callbackPath+"?"+q.Encode(), nil)
			other.AddCookie(cookie)
			_, _, err := b.finish(other)
			requireRefused(t, err, ErrUnknownFlow, "Start again")
		})
	}
}

func TestReplayedCallbackIsRefused(t *testing.T) {
	b := newBed(t)
	r, _ := b.callback(t)
	_, _, err := b.finish(r)
	require.NoError(t, err)
	_, _, err = b.finish(r)
	requireRefused(t, err, ErrUnknownFlow)
}

func TestExpiredFlowIsRefused(t *testing.T) {
	b := newBed(t)
	r, _ := b.callback(t)
	b.clock.Advance(FlowTTL)
	_, _, err := b.finish(r)
	requireRefused(t, err, ErrUnknownFlow)
	b.requireNoFlowLeft(t)
}

func TestOtherBrowserIsRefused(t *testing.T) {
	b := newBed(t)
	_, otherBrowser := b.begin(t)
	tests := map[string]func(r *http.Request, mine *http.Cookie){
		"no cookie": func(*http.Request, *http.Cookie) {},
		"another flow's cookie": func(r *http.Request, _ *http.Cookie) {
			r.AddCookie(otherBrowser)
		},
		"another value": func(r *http.Request, mine *http.Cookie) {
			r.AddCookie(&http.Cookie{Name: mine.Name, Value: "planted"})
		},
	}
	for name, cookies := range tests {
		t.Run(name, func(t *testing.T) {
			authURL, mine := b.begin(t)
			callback := b.idp.authorize(t, authURL).String()
			r := httptest.NewRequest(http.MethodGet, callback, nil)
			cookies(r, mine)
			_, _, err := b.finish(r)
			requireRefused(t, err, ErrOtherBrowser)

			// The refused flow is gone: the right browser cannot finish it now.
			r = httptest.NewRequest(http.MethodGet, callback, nil)
			r.AddCookie(mine)
			_, _, err = b.finish(r)
			requireRefused(t, err, ErrUnknownFlow)
		})
	}
}

func TestSettingsChangedDuringSignIn(t *testing.T) {
	b := newBed(t)
	r, _ := b.callback(t)
	b.settings.ClientID = "another-client"
	_, _, err := b.finish(r)
	requireRefused(t, err, ErrSettingsChanged)
}

// The provider's error code is named, cut down to a code; its free-text
// description is not passed on.
func TestProviderErrorIsReported(t *testing.T) {
	b := newBed(t)
	for code, shown := range map[string]string{
		"access_denied":                 "access_denied",
		"<script>alert(1)</script>":     "scriptalert1script",
		strings.Repeat("x", 500):        "(" + strings.Repeat("x", 40) + ")",
		"temporarily_unavailable\r\nX:": "temporarily_unavailableX",
	} {
		r, cookie := b.callback(t)
		q := url.Values{"state": {r.URL.Query().Get("state")}, "error": {code}, "error_description": {"<b>Your account is locked</b>"}}
		r = httptest.NewRequest(http.MethodGet, callbackPath+"?"+q.Encode(), nil)
		r.AddCookie(cookie)
		_, _, err := b.finish(r)
		requireRefused(t, err, ErrProviderError, shown)
		assert.NotContains(t, err.Error(), "locked")
		assert.NotContains(t, err.Error(), "<")
	}
	b.requireNoFlowLeft(t)
}

func TestCodeRefusedByProvider(t *testing.T) {
	b := newBed(t)
	r, cookie := b.callback(t)
	q := r.URL.Query()
	q.Set("code", "a-code-the-provider-never-gave")
	r = httptest.NewRequest(http.MethodGet, callbackPath+"?"+q.Encode(), nil)
	r.AddCookie(cookie)
	_, _, err := b.finish(r)
	requireRefused(t, err, ErrExchangeFailed, "invalid_grant")
	assert.NotContains(t, err.Error(), "a-code-the-provider-never-gave")
}

func TestWrongClientSecret(t *testing.T) {
	b := newBed(t)
	r, _ := b.callback(t)
	b.settings.ClientSecret = "not-the-secret"
	_, _, err := b.finish(r)
	requireRefused(t, err, ErrExchangeFailed, "invalid_client")
	assert.NotContains(t, err.Error(), "not-the-secret")
}

// Each rule of the ID token and of who may sign in, with the answer of a
// provider that breaks it.
func TestTokenAndAccountRules(t *testing.T) {
	unpublished, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	past := time.Now().Add(-time.Hour).Unix()
	tests := []struct {
		name     string
		claims   func(map[string]any)
		signWith *rsa.PrivateKey
		settings func(*Settings)
		want     *Refusal
		says     string
	}{
		{name: "wrong audience", claims: withClaims(map[string]any{"aud": "another-client"}), want: ErrInvalidToken, says: "another client"},
		{name: "audience list without us", claims: withClaims(map[string]any{"aud": []string{"a", "b"}}), want: ErrInvalidToken, says: "another client"},
		{name: "wrong issuer", claims: withClaims(map[string]any{"iss": "https://evil.example.com"}), want: ErrInvalidToken, says: "another provider"},
		{name: "expired", claims: withClaims(map[string]any{"exp": past, "iat": past - 3600}), want: ErrInvalidToken, says: "expired"},
		{name: "bad signature", signWith: unpublished, want: ErrInvalidToken, says: "signature"},
		{name: "wrong nonce", claims: withClaims(map[string]any{"nonce": "another-sign-in"}), want: ErrWrongNonce},
		{name: "no nonce", claims: withClaims(nil, "nonce"), want: ErrWrongNonce},
		{name: "email unverified", claims: withClaims(map[string]any{"email_verified": false}), want: ErrEmailUnverified},
		{name: "email verification unknown", claims: withClaims(nil, "email_verified"), want: ErrEmailUnverified},
		{name: "no email", claims: withClaims(nil, "email"), want: ErrEmailMissing},
		{
			name: "foreign domain", claims: withClaims(map[string]any{"email": "mallory@example.com.evil.test"}),
			settings: func(s *Settings) { s.AllowedDomains = []string{"example.com", "example.org"} }, want: ErrDomainNotAllowed,
		},
		{
			name: "subdomain is another domain", claims: withClaims(map[string]any{"email": "bob@mail.example.com"}),
			settings: func(s *Settings) { s.AllowedDomains = []string{"example.com"} }, want: ErrDomainNotAllowed,
		},
		{name: "group missing", settings: func(s *Settings) { s.RequiredGroup = "admins" }, want: ErrGroupMissing},
		{name: "no groups at all", claims: withClaims(nil, "groups"), settings: func(s *Settings) { s.RequiredGroup = "staff" }, want: ErrGroupMissing},
		{
			name: "group in another claim", claims: withClaims(map[string]any{"roles": []string{"admins"}}),
			settings: func(s *Settings) { s.RequiredGroup = "admins" }, want: ErrGroupMissing,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBed(t)
			b.idp.set(func(idp *testIdP) { idp.claims, idp.signWith = tc.claims, tc.signWith })
			if tc.settings != nil {
				tc.settings(&b.settings)
			}
			r, _ := b.callback(t)
			id, _, err := b.finish(r)
			assert.Nil(t, id)
			requireRefused(t, err, tc.want, tc.says)
			b.requireNoFlowLeft(t)
		})
	}
}

func TestAccountRulesLetTheRightPeopleIn(t *testing.T) {
	tests := []struct {
		name     string
		claims   func(map[string]any)
		settings func(*Settings)
	}{
		{name: "allowed domain, any case", claims: withClaims(map[string]any{"email": "Alice@EXAMPLE.org"}),
			settings: func(s *Settings) { s.AllowedDomains = []string{"example.com", " example.org"} }},
		{name: "required group", settings: func(s *Settings) { s.RequiredGroup = "certificate-holders" }},
		{name: "groups and email in other claims", claims: withClaims(map[string]any{"roles": "pki", "mail": "a@example.com"}, "groups", "email"),
			settings: func(s *Settings) { s.GroupsClaim, s.EmailClaim, s.RequiredGroup = "roles", "mail", "pki" }},
		{name: "verified as a string", claims: withClaims(map[string]any{"email_verified": "true"})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBed(t)
			b.idp.set(func(idp *testIdP) { idp.claims = tc.claims })
			if tc.settings != nil {
				tc.settings(&b.settings)
			}
			r, _ := b.callback(t)
			id, _, err := b.finish(r)
			require.NoError(t, err)
			assert.True(t, id.EmailVerified)
		})
	}
}

func closedPortURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return "http://" + addr
}

func TestProviderDown(t *testing.T) {
	t.Run("at the start", func(t *testing.T) {
		b := newBed(t)
		b.settings.Issuer = closedPortURL(t)
		_, err := b.flows.Begin(context.Background(), httptest.NewRecorder(), b.settings, returnTo)
		requireRefused(t, err, ErrUnreachable, "could not be reached")
		b.requireNoFlowLeft(t)
	})
	t.Run("before the code is redeemed", func(t *testing.T) {
		b := newBed(t)
		r, _ := b.callback(t)
		b.idp.srv.Close()
		_, _, err := b.finish(r)
		requireRefused(t, err, ErrUnreachable, "could not be reached")
		b.requireNoFlowLeft(t)
	})
}

// A provider that does not answer holds a request no longer than the
// client's timeout, and says so.
func TestProviderSlow(t *testing.T) {
	t.Run("discovery", func(t *testing.T) {
		b := newBed(t)
		b.flows.Client = &http.Client{Timeout: 200 * time.Millisecond}
		b.idp.set(func(idp *testIdP) { idp.slowDiscovery = true })
		_, err := b.flows.Begin(context.Background(), httptest.NewRecorder(), b.settings, returnTo)
		requireRefused(t, err, ErrUnreachable, "in time")
	})
	t.Run("token endpoint", func(t *testing.T) {
		b := newBed(t)
		b.flows.Client = &http.Client{Timeout: 200 * time.Millisecond}
		r, _ := b.callback(t)
		b.idp.set(func(idp *testIdP) { idp.slowToken = true })
		_, _, err := b.finish(r)
		requireRefused(t, err, ErrUnreachable, "in time")
		b.requireNoFlowLeft(t)
	})
}

// A failed discovery is not remembered: once the provider is back, the
// next sign-in works.
func TestDiscoveryRetriedAfterFailure(t *testing.T) {
	b := newBed(t)
	b.idp.set(func(idp *testIdP) { idp.failDiscovery = true })
	_, err := b.flows.Begin(context.Background(), httptest.NewRecorder(), b.settings, returnTo)
	requireRefused(t, err, ErrUnreachable, "discovery document")
	b.idp.set(func(idp *testIdP) { idp.failDiscovery = false })
	r, _ := b.callback(t)
	_, _, err = b.finish(r)
	require.NoError(t, err)
}

// Two callbacks with one state at once (a double click, a replay racing
// the original): exactly one signs in.
func TestConcurrentFinishOneWins(t *testing.T) {
	b := newBed(t)
	r, _ := b.callback(t)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			replay := r.Clone(context.Background())
			_, _, err := b.finish(replay)
			if err == nil {
				wins.Add(1)
				return
			}
			assert.ErrorIs(t, err, ErrUnknownFlow)
		})
	}
	wg.Wait()
	assert.Equal(t, int32(1), wins.Load())
}

func TestBeginRefusesBadSettings(t *testing.T) {
	b := newBed(t)
	b.settings.ClientID = ""
	_, err := b.flows.Begin(context.Background(), httptest.NewRecorder(), b.settings, returnTo)
	var settingsErr *SettingsError
	require.ErrorAs(t, err, &settingsErr)
	assert.Equal(t, "ClientID", settingsErr.Field)
}

func TestCheck(t *testing.T) {
	b := newBed(t)
	client := &http.Client{Timeout: 2 * time.Second}
	require.NoError(t, Check(context.Background(), client, b.settings))

	tests := []struct {
		name   string
		change func(*Settings)
		field  string
		says   string
	}{
		{"no issuer", func(s *Settings) { s.Issuer = "" }, "Issuer", "absolute URL"},
		{"plain http", func(s *Settings) { s.Issuer = "http://idp.example.com" }, "Issuer", "https"},
		{"issuer with a query", func(s *Settings) { s.Issuer += "?tenant=1" }, "Issuer", "query"},
		{"issuer spelled otherwise", func(s *Settings) { s.Issuer += "/" }, "Issuer", "use exactly that"},
		{"issuer unreachable", func(s *Settings) { s.Issuer = closedPortURL(t) }, "Issuer", "could not be reached"},
		{"no discovery there", func(s *Settings) { s.Issuer += "/elsewhere" }, "Issuer", "discovery document"},
		{"no client id", func(s *Settings) { s.ClientID = " " }, "ClientID", "required"},
		{"relative redirect", func(s *Settings) { s.RedirectURL = callbackPath }, "RedirectURL", "absolute URL"},
		{"scope with a space", func(s *Settings) { s.Scopes = []string{"groups email"} }, "Scopes", "one scope per entry"},
		{"domain with an at", func(s *Settings) { s.AllowedDomains = []string{"@example.com"} }, "AllowedDomains", "example.com"},
		{"empty domain", func(s *Settings) { s.AllowedDomains = []string{""} }, "AllowedDomains", "not an email domain"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := b.settings
			tc.change(&s)
			err := Check(context.Background(), client, s)
			var settingsErr *SettingsError
			require.ErrorAs(t, err, &settingsErr)
			assert.Equal(t, tc.field, settingsErr.Field)
			assert.Contains(t, settingsErr.Message, tc.says)
			assert.NotContains(t, err.Error(), b.settings.ClientSecret)
		})
	}
}

func TestCheckOfASlowProviderEnds(t *testing.T) {
	b := newBed(t)
	b.idp.set(func(idp *testIdP) { idp.slowDiscovery = true })
	err := Check(context.Background(), &http.Client{Timeout: 200 * time.Millisecond}, b.settings)
	var settingsErr *SettingsError
	require.ErrorAs(t, err, &settingsErr)
	assert.Contains(t, settingsErr.Message, "in time")
}

// Refusals match by code, and a changed message still matches.
func TestRefusalsMatchByCode(t *testing.T) {
	err := refuse(ErrInvalidToken, "The ID token has expired.", errors.New("oidc: token is expired"))
	assert.ErrorIs(t, err, ErrInvalidToken)
	assert.NotErrorIs(t, err, ErrWrongNonce)
	assert.Contains(t, err.Error(), "token is expired")
}
