// Package portal is the front door for people outside chat: their sign-in,
// their sessions, and the enrollment pages mounted under its own path with
// an authenticator of its own.
package portal

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/randtoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"
)

// CookieName is the portal's session cookie.
const CookieName = "certs_portal_session"

// CSRFField is the form field every state-changing form of a session
// carries.
const CSRFField = "csrf"

// Session lifetimes: a session ends after IdleTimeout unused, and after
// MaxLifetime however busy; it is written again at most every touchEvery,
// not on every request.
const (
	IdleTimeout = 30 * time.Minute
	MaxLifetime = 12 * time.Hour
	touchEvery  = time.Minute
)

// SessionStore is where sessions are kept (the KV store), by the hash of
// their id.
type SessionStore interface {
	CreateSession(hash string, session *store.PortalSession, ttl time.Duration) (bool, error)
	GetSession(hash string) (*store.PortalSession, error)
	TouchSession(hash string, seenAt time.Time, ttl time.Duration) error
	DeleteSession(hash string) error
}

// Sessions signs people in and out of the portal: a random id in a cookie
// (HttpOnly, SameSite=Lax, Secure on an https site, scoped to the portal's
// path), the session itself in the KV store under the id's hash, with an
// idle and an absolute expiry.
type Sessions struct {
	Store SessionStore
	Now   func() time.Time
	// Path is the portal's path on the server (/plugins/<id>/portal): the
	// cookie goes nowhere else.
	Path string
	// Secure marks the cookie Secure (the Site URL is https).
	Secure func() bool
}

// Refusals of a request that needs a session: each says what to do.
var (
	ErrNoSession      = &web.Error{Status: http.StatusUnauthorized, Message: "Sign in to continue."}
	ErrSessionExpired = &web.Error{Status: http.StatusUnauthorized, Message: "Your session has ended; sign in again."}
	ErrBadCSRF        = &web.Error{Status: http.StatusForbidden, Message: "This form is out of date or was not sent by the portal; go back, reload the page and try again."}
)

// Stages of a session that is not open yet: the password was right, and a
// second factor must be given, or set up as the settings require.
const (
	StageSecondFactor = "second_factor"
	StageSetUpFactor  = "set_up_factor"
)

// Start signs principal in: a new session with a new id (never one the
// browser brought, so a planted id cannot be taken over) and its cookie.
// Whatever session the browser had is ended first.
func (s *Sessions) Start(w http.ResponseWriter, r *http.Request, principal records.Principal) (*store.PortalSession, error) {
	return s.StartAt(w, r, principal, "")
}

// StartAt starts a session at a stage ("" for an open one): each stage
// passed gets a session with a new id.
func (s *Sessions) StartAt(w http.ResponseWriter, r *http.Request, principal records.Principal, stage string) (*store.PortalSession, error) {
	if principal == "" {
		return nil, errors.New("a session needs a principal")
	}
	s.End(w, r)
	now := s.Now()
	csrf, err := randtoken.New()
	if err != nil {
		return nil, err
	}
	session := &store.PortalSession{Principal: principal, CSRF: csrf, CreatedAt: now, SeenAt: now, ExpiresAt: now.Add(MaxLifetime), Stage: stage}
	for range 3 {
		id, err := randtoken.New()
		if err != nil {
			return nil, err
		}
		created, err := s.Store.CreateSession(randtoken.Hash(id), session, IdleTimeout)
		if err != nil {
			return nil, err
		}
		if created {
			http.SetCookie(w, s.cookie(id, session.ExpiresAt))
			return session, nil
		}
	}
	return nil, errors.New("could not make a session id that is not taken")
}

// Current is the session of a request, used now; ErrNoSession when it has
// none, ErrSessionExpired when its session is over (the stale cookie is
// cleared).
func (s *Sessions) Current(w http.ResponseWriter, r *http.Request) (*store.PortalSession, error) {
	cookie, err := r.Cookie(CookieName)
	if err != nil || cookie.Value == "" {
		return nil, ErrNoSession
	}
	hash := randtoken.Hash(cookie.Value)
	session, err := s.Store.GetSession(hash)
	if errors.Is(err, records.ErrNotFound) {
		s.clearCookie(w)
		return nil, ErrSessionExpired
	}
	if err != nil {
		return nil, err
	}
	now := s.Now()
	if !now.Before(session.ExpiresAt) || now.Sub(session.SeenAt) >= IdleTimeout {
		_ = s.Store.DeleteSession(hash)
		s.clearCookie(w)
		return nil, ErrSessionExpired
	}
	if now.Sub(session.SeenAt) >= touchEvery {
		ttl := min(IdleTimeout, session.ExpiresAt.Sub(now))
		if err := s.Store.TouchSession(hash, now, ttl); err != nil && !errors.Is(err, records.ErrNotFound) {
			return nil, err
		}
		session.SeenAt = now
	}
	return session, nil
}

// End signs the request's session out: deleted on the server, its cookie
// cleared. A request without a session ends nothing.
func (s *Sessions) End(w http.ResponseWriter, r *http.Request) {
	if cookie, err := r.Cookie(CookieName); err == nil && cookie.Value != "" {
		_ = s.Store.DeleteSession(randtoken.Hash(cookie.Value))
		s.clearCookie(w)
	}
}

// Authenticator is the portal's web.Authenticator: the principal of the
// request's open session. It reads the session only; a door that needs it
// kept alive calls Current.
func (s *Sessions) Authenticator(r *http.Request) (records.Principal, error) {
	session, err := s.Current(discardHeaders{}, r)
	if err != nil {
		return "", err
	}
	if session.Stage != "" {
		return "", ErrNoSession
	}
	return session.Principal, nil
}

// CheckCSRF refuses a state-changing request whose form does not carry the
// session's token.
func CheckCSRF(r *http.Request, session *store.PortalSession) error {
	sent := r.PostFormValue(CSRFField)
	if sent == "" || session.CSRF == "" || subtle.ConstantTimeCompare([]byte(sent), []byte(session.CSRF)) != 1 {
		return ErrBadCSRF
	}
	return nil
}

func (s *Sessions) cookie(value string, expires time.Time) *http.Cookie {
	return &http.Cookie{
		Name:     CookieName,
		Value:    value,
		Path:     s.Path,
		Expires:  expires,
		HttpOnly: true,
		Secure:   s.Secure != nil && s.Secure(),
		SameSite: http.SameSiteLaxMode,
	}
}

func (s *Sessions) clearCookie(w http.ResponseWriter) {
	c := s.cookie("", time.Unix(0, 0))
	c.MaxAge = -1
	http.SetCookie(w, c)
}

// discardHeaders is a ResponseWriter whose headers go nowhere, for an
// authenticator that may not write.
type discardHeaders struct{}

func (discardHeaders) Header() http.Header         { return http.Header{} }
func (discardHeaders) Write(b []byte) (int, error) { return len(b), nil }
func (discardHeaders) WriteHeader(int)             {}
