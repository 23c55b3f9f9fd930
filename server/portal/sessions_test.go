package portal

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/pluginapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/clocktest"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

const dave = records.Principal("local:d1")

type sessionBed struct {
	kv       *pluginapi.MemoryStore
	clock    *clocktest.Clock
	sessions *Sessions
	https    bool
}

func newSessionBed(t *testing.T) *sessionBed {
	t.Helper()
	b := &sessionBed{kv: &pluginapi.MemoryStore{}, clock: clocktest.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))}
	b.sessions = &Sessions{Store: store.New(b.kv), Now: b.clock.Now, Path: "/plugins/certs/portal", Secure: func() bool { return b.https }}
	return b
}

// signIn starts a session for p and returns its cookie.
func (b *sessionBed) signIn(t *testing.T, p records.Principal, with ...*http.Cookie) *http.Cookie {
	t.Helper()
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/plugins/certs/portal/signin", nil)
	for _, c := range with {
		r.AddCookie(c)
	}
	_, err := b.sessions.Start(w, r, p)
	require.NoError(t, err)
	for _, c := range w.Result().Cookies() {
		if c.Name == CookieName && c.Value != "" {
			return c
		}
	}
	t.Fatal("no session cookie")
	return nil
}

// current is the session a request with cookie has.
func (b *sessionBed) current(cookie *http.Cookie) (*store.PortalSession, *httptest.ResponseRecorder, error) {
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/plugins/certs/portal/", nil)
	if cookie != nil {
		r.AddCookie(cookie)
	}
	s, err := b.sessions.Current(w, r)
	return s, w, err
}

func (b *sessionBed) keys(t *testing.T) []string {
	t.Helper()
	keys, err := b.kv.ListKeys(0, 100)
	require.NoError(t, err)
	return keys
}

func TestASessionCookieIsScopedAndTheStoreKeepsOnlyItsHash(t *testing.T) {
	b := newSessionBed(t)
	cookie := b.signIn(t, dave)
	assert.True(t, cookie.HttpOnly)
	assert.Equal(t, http.SameSiteLaxMode, cookie.SameSite)
	assert.Equal(t, "/plugins/certs/portal", cookie.Path)
	assert.False(t, cookie.Secure, "an http site")
	assert.GreaterOrEqual(t, len(cookie.Value), 43, "32 random bytes")

	keys := b.keys(t)
	require.Len(t, keys, 1)
	assert.NotContains(t, keys[0], cookie.Value, "the store never holds the id")
	var raw []byte
	require.NoError(t, b.kv.Get(keys[0], &raw))
	assert.NotContains(t, string(raw), cookie.Value)

	b.https = true
	assert.True(t, b.signIn(t, dave).Secure, "an https site")
}

func TestASessionSaysWhoIsSignedIn(t *testing.T) {
	b := newSessionBed(t)
	cookie := b.signIn(t, dave)
	session, _, err := b.current(cookie)
	require.NoError(t, err)
	assert.Equal(t, dave, session.Principal)

	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(cookie)
	principal, err := b.sessions.Authenticator(r)
	require.NoError(t, err)
	assert.Equal(t, dave, principal)
}

func TestNoCookieOrAForgedOneIsNoSessionAndCreatesNothing(t *testing.T) {
	b := newSessionBed(t)
	_, _, err := b.current(nil)
	assert.Same(t, ErrNoSession, err)
	_, w, err := b.current(&http.Cookie{Name: CookieName, Value: "forged-or-from-another-server"})
	assert.Same(t, ErrSessionExpired, err)
	assert.Contains(t, w.Header().Get("Set-Cookie"), "Max-Age=0", "the stale cookie is cleared")
	assert.Empty(t, b.keys(t), "nothing created")
	_, err = b.sessions.Authenticator(httptest.NewRequest(http.MethodGet, "/", nil))
	assert.Same(t, ErrNoSession, err)
}

func TestAnUnusedSessionEndsAfterItsIdleTimeout(t *testing.T) {
	b := newSessionBed(t)
	cookie := b.signIn(t, dave)
	b.clock.Advance(IdleTimeout)
	_, _, err := b.current(cookie)
	assert.Same(t, ErrSessionExpired, err)
	assert.Empty(t, b.keys(t), "deleted on the server")
}

func TestUseKeepsASessionUntilItsLifetimeEnds(t *testing.T) {
	b := newSessionBed(t)
	cookie := b.signIn(t, dave)
	for elapsed := time.Duration(0); elapsed+IdleTimeout/2 < MaxLifetime; elapsed += IdleTimeout / 2 {
		b.clock.Advance(IdleTimeout / 2)
		_, _, err := b.current(cookie)
		require.NoError(t, err, "used every %s, at %s", IdleTimeout/2, elapsed)
	}
	b.clock.Advance(IdleTimeout / 2)
	_, _, err := b.current(cookie)
	assert.Same(t, ErrSessionExpired, err, "however busy, it ends after %s", MaxLifetime)
}

func TestSigningInAgainGivesANewSessionAndEndsTheOld(t *testing.T) {
	b := newSessionBed(t)
	first := b.signIn(t, dave)
	second := b.signIn(t, dave, first)
	assert.NotEqual(t, first.Value, second.Value)
	_, _, err := b.current(first)
	assert.Same(t, ErrSessionExpired, err, "a session id the browser brought is never kept")
	_, _, err = b.current(second)
	assert.NoError(t, err)
	assert.Len(t, b.keys(t), 1)
}

func TestSigningOutEndsTheSessionOnTheServer(t *testing.T) {
	b := newSessionBed(t)
	cookie := b.signIn(t, dave)
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/plugins/certs/portal/signout", nil)
	r.AddCookie(cookie)
	b.sessions.End(w, r)
	assert.Contains(t, w.Header().Get("Set-Cookie"), "Max-Age=0")
	_, _, err := b.current(cookie)
	assert.Same(t, ErrSessionExpired, err, "a copied cookie is worth nothing after sign-out")
	assert.Empty(t, b.keys(t))
}

func TestFormsMustCarryTheSessionsCSRFToken(t *testing.T) {
	b := newSessionBed(t)
	session, _, err := b.current(b.signIn(t, dave))
	require.NoError(t, err)
	other, _, err := b.current(b.signIn(t, "local:e2"))
	require.NoError(t, err)
	require.NotEqual(t, session.CSRF, other.CSRF)

	post := func(token string) *http.Request {
		form := url.Values{}
		if token != "" {
			form.Set(CSRFField, token)
		}
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}
	assert.NoError(t, CheckCSRF(post(session.CSRF), session))
	assert.Same(t, ErrBadCSRF, CheckCSRF(post(""), session), "missing")
	assert.Same(t, ErrBadCSRF, CheckCSRF(post(other.CSRF), session), "another session's")
	assert.Same(t, ErrBadCSRF, CheckCSRF(post(session.CSRF[:10]), session), "forged")
}

func TestManyRequestsOfOneSessionAtOnce(t *testing.T) {
	b := newSessionBed(t)
	cookie := b.signIn(t, dave)
	b.clock.Advance(2 * touchEvery)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			_, _, err := b.current(cookie)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	session, _, err := b.current(cookie)
	require.NoError(t, err)
	assert.Equal(t, b.clock.Now(), session.SeenAt, "touched")
}

func TestASessionNeedsSomeone(t *testing.T) {
	b := newSessionBed(t)
	_, err := b.sessions.Start(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", nil), "")
	assert.True(t, err != nil && !errors.Is(err, records.ErrNotFound))
	assert.Empty(t, b.keys(t))
}
