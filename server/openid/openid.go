// Package openid signs people in to the portal with an OpenID Connect
// provider: the authorization code flow with PKCE (S256), a nonce, and the
// ID token verified against the provider's published keys. It is a library
// for the portal, which owns the pages, the settings and the session that
// follows.
//
// The portal calls Begin from its sign-in handler and redirects the browser
// to the URL it returns; the provider sends the browser back to
// Settings.RedirectURL, whose handler calls Finish and, on success, starts
// a session for Identity.Principal(). A failed Finish is a *Refusal (see
// the Err… values) whose Message the portal shows; the flow is used up
// either way, so the person starts again from the sign-in page.
//
// Between the two, the flow is kept in the KV store under the hash of its
// state (store.OIDCFlow) for FlowTTL, and bound to the browser that started
// it by a cookie named CookiePrefix plus a few characters of that hash:
// one cookie per flow, so sign-ins in two tabs do not undo each other.
// Flows.CookiePath must cover the RedirectURL's path.
//
// Only what the provider vouches for gets through: an email address the
// provider marks verified (the standard email_verified claim), in an
// allowed domain, and the required group when there is one. Providers that
// send groups only for a "groups" scope (Dex, for one) need it in
// Settings.Scopes.
package openid

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/clientcerts/mattermost-plugin-certs/server/randtoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

// FlowTTL is how long a person has, from Begin, to come back from the
// provider.
const FlowTTL = 10 * time.Minute

// DefaultTimeout bounds each Begin and Finish, talking to the provider
// included, when Flows.Client is nil.
const DefaultTimeout = 10 * time.Second

// CookiePrefix starts the name of each flow's browser cookie.
const CookiePrefix = "certs_oidc_"

// Settings of one provider: an immutable snapshot the portal builds from
// its configuration.
type Settings struct {
	// Issuer is the provider's issuer URL, exactly as its discovery
	// document names it.
	Issuer       string
	ClientID     string
	ClientSecret string
	// Scopes are asked for beyond openid, email and profile.
	Scopes []string
	// UsernameClaim names the claim read as the username
	// ("preferred_username" when empty).
	UsernameClaim string
	// EmailClaim names the claim read as the email address ("email" when
	// empty); it must be the address the email_verified claim speaks for.
	EmailClaim string
	// AllowedDomains are the email domains allowed in, exactly (a
	// subdomain is another domain); empty allows any.
	AllowedDomains []string
	// GroupsClaim names the claim listing the person's groups ("groups"
	// when empty).
	GroupsClaim string
	// RequiredGroup, when set, must be among the person's groups.
	RequiredGroup string
	// RedirectURL is where the provider sends the browser back:
	// <SiteURL>/plugins/<id>/portal/oidc/callback.
	RedirectURL string
}

func (s Settings) withDefaults() Settings {
	if s.UsernameClaim == "" {
		s.UsernameClaim = "preferred_username"
	}
	if s.EmailClaim == "" {
		s.EmailClaim = "email"
	}
	if s.GroupsClaim == "" {
		s.GroupsClaim = "groups"
	}
	return s
}

func (s Settings) scopes() []string {
	scopes := []string{oidc.ScopeOpenID, "email", "profile"}
	for _, scope := range s.Scopes {
		if scope = strings.TrimSpace(scope); scope != "" && !slices.Contains(scopes, scope) {
			scopes = append(scopes, scope)
		}
	}
	return scopes
}

func (s Settings) oauth2Config(provider *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     s.ClientID,
		ClientSecret: s.ClientSecret,
		Endpoint:     provider.Endpoint(),
		RedirectURL:  s.RedirectURL,
		Scopes:       s.scopes(),
	}
}

// Identity is who the provider signed in.
type Identity struct {
	Issuer  string
	Subject string
	// Username is the UsernameClaim's value; "" when the provider sent none.
	Username      string
	Email         string
	EmailVerified bool
	Groups        []string
}

// Principal is the plugin's name for the person: the issuer and subject,
// which the provider never reassigns.
func (id *Identity) Principal() records.Principal {
	return records.OIDCUser(id.Issuer, id.Subject)
}

// FlowStore keeps flows between Begin and Finish (the KV store).
type FlowStore interface {
	SaveOIDCFlow(hash string, flow *store.OIDCFlow, ttl time.Duration) (bool, error)
	ConsumeOIDCFlow(hash string) (*store.OIDCFlow, error)
}

// Flows begins and finishes sign-ins. Its zero cache is ready; do not copy
// it after first use.
type Flows struct {
	Store FlowStore
	// Now is the time of the flows and of ID tokens' expiry (time.Now when
	// nil).
	Now func() time.Time
	// Client talks to providers; its Timeout (DefaultTimeout when zero)
	// also bounds each Begin and Finish as a whole. Nil means a client
	// with DefaultTimeout.
	Client *http.Client
	// CookiePath scopes the browser cookie; it must cover the callback's
	// path (e.g. /plugins/certs/portal/oidc).
	CookiePath string
	// Secure marks the cookie Secure (the Site URL is https).
	Secure func() bool

	providers providerCache
}

func (f *Flows) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

var defaultClient = &http.Client{Timeout: DefaultTimeout}

func (f *Flows) client() *http.Client {
	if f.Client != nil {
		return f.Client
	}
	return defaultClient
}

// bounded is ctx bounded by the client's timeout: however many requests a
// step makes, a slow provider holds the person's request no longer.
func (f *Flows) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx = oidc.ClientContext(ctx, f.client())
	timeout := f.client().Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return context.WithTimeout(ctx, timeout)
}

// Begin starts a sign-in and returns the provider's authorization URL to
// redirect the browser to. It keeps a new state, nonce and PKCE verifier
// in the store for FlowTTL, with returnTo (which the caller has
// validated), and sets the cookie that binds the flow to this browser.
func (f *Flows) Begin(ctx context.Context, w http.ResponseWriter, s Settings, returnTo string) (string, error) {
	s = s.withDefaults()
	if err := s.validate(); err != nil {
		return "", err
	}
	ctx, cancel := f.bounded(ctx)
	defer cancel()
	provider, err := f.providers.get(ctx, f.client(), s.Issuer, f.now())
	if err != nil {
		return "", err
	}
	nonce, err := randtoken.New()
	if err != nil {
		return "", err
	}
	browser, err := randtoken.New()
	if err != nil {
		return "", err
	}
	now := f.now()
	flow := &store.OIDCFlow{
		Issuer: s.Issuer, ClientID: s.ClientID, Nonce: nonce, PKCEVerifier: oauth2.GenerateVerifier(),
		BrowserHash: randtoken.Hash(browser), ReturnTo: returnTo, CreatedAt: now, ExpiresAt: now.Add(FlowTTL),
	}
	for range 3 {
		state, err := randtoken.New()
		if err != nil {
			return "", err
		}
		hash := randtoken.Hash(state)
		saved, err := f.Store.SaveOIDCFlow(hash, flow, FlowTTL)
		if err != nil {
			return "", err
		}
		if saved {
			http.SetCookie(w, f.cookie(hash, browser, FlowTTL))
			return s.oauth2Config(provider).AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(flow.PKCEVerifier)), nil
		}
	}
	return "", errors.New("could not make a sign-in state that is not taken")
}

// Finish completes the sign-in the provider's callback request r answers,
// and returns who signed in and the flow's returnTo. The flow is used up
// first, whatever follows: a callback replayed, or raced by another, finds
// nothing. Every refusal is a *Refusal.
func (f *Flows) Finish(ctx context.Context, w http.ResponseWriter, r *http.Request, s Settings) (*Identity, string, error) {
	s = s.withDefaults()
	query := r.URL.Query()
	state := query.Get("state")
	if state == "" {
		return nil, "", ErrUnknownFlow
	}
	hash := randtoken.Hash(state)
	flow, err := f.Store.ConsumeOIDCFlow(hash)
	if errors.Is(err, records.ErrNotFound) {
		return nil, "", ErrUnknownFlow
	}
	if err != nil {
		return nil, "", err
	}
	f.clearCookie(w, hash)
	if !f.now().Before(flow.ExpiresAt) {
		return nil, "", ErrUnknownFlow
	}
	if !f.sameBrowser(r, hash, flow) {
		return nil, "", ErrOtherBrowser
	}
	if flow.Issuer != s.Issuer || flow.ClientID != s.ClientID {
		return nil, "", ErrSettingsChanged
	}
	if code := query.Get("error"); code != "" {
		code = providerErrorCode(code)
		return nil, "", refuse(ErrProviderError, "The identity provider did not sign you in ("+code+"). Start again, or ask your administrator if it keeps happening.",
			errors.New("provider error "+code))
	}
	code := query.Get("code")
	if code == "" {
		return nil, "", refuse(ErrExchangeFailed, "The identity provider sent no sign-in code. Start again from the sign-in page.", nil)
	}

	ctx, cancel := f.bounded(ctx)
	defer cancel()
	provider, err := f.providers.get(ctx, f.client(), s.Issuer, f.now())
	if err != nil {
		return nil, "", err
	}
	token, err := s.oauth2Config(provider).Exchange(ctx, code, oauth2.VerifierOption(flow.PKCEVerifier))
	if err != nil {
		return nil, "", exchangeRefusal(err)
	}
	rawIDToken, _ := token.Extra("id_token").(string)
	if rawIDToken == "" {
		return nil, "", invalidToken("is missing", nil)
	}
	idToken, err := provider.Verifier(&oidc.Config{ClientID: s.ClientID, Now: f.now}).Verify(ctx, rawIDToken)
	if err != nil {
		return nil, "", tokenRefusal(err, rawIDToken, s)
	}
	if subtle.ConstantTimeCompare([]byte(idToken.Nonce), []byte(flow.Nonce)) != 1 {
		return nil, "", ErrWrongNonce
	}
	identity, err := s.identity(idToken)
	if err != nil {
		return nil, "", err
	}
	if err := s.admit(identity); err != nil {
		return nil, "", err
	}
	return identity, flow.ReturnTo, nil
}

func (f *Flows) sameBrowser(r *http.Request, hash string, flow *store.OIDCFlow) bool {
	cookie, err := r.Cookie(cookieName(hash))
	if err != nil || cookie.Value == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(randtoken.Hash(cookie.Value)), []byte(flow.BrowserHash)) == 1
}

// cookieName names the cookie of the flow under stateHash: a prefix of
// the hash is enough to keep flows apart and tells nothing of the state.
func cookieName(stateHash string) string {
	return CookiePrefix + stateHash[:16]
}

func (f *Flows) cookie(stateHash, value string, ttl time.Duration) *http.Cookie {
	return &http.Cookie{
		Name:     cookieName(stateHash),
		Value:    value,
		Path:     f.CookiePath,
		MaxAge:   int(ttl / time.Second),
		HttpOnly: true,
		Secure:   f.Secure != nil && f.Secure(),
		// Lax: the provider sends the browser back with a top-level GET,
		// which carries a Lax cookie; a cross-site POST or subrequest does not.
		SameSite: http.SameSiteLaxMode,
	}
}

func (f *Flows) clearCookie(w http.ResponseWriter, stateHash string) {
	c := f.cookie(stateHash, "", 0)
	c.MaxAge = -1
	http.SetCookie(w, c)
}

// exchangeRefusal says why the code was not exchanged for tokens, without
// the provider's answer body, which may echo what was sent.
func exchangeRefusal(err error) *Refusal {
	var retrieve *oauth2.RetrieveError
	if errors.As(err, &retrieve) {
		status := 0
		if retrieve.Response != nil {
			status = retrieve.Response.StatusCode
		}
		code := providerErrorCode(retrieve.ErrorCode)
		return refuse(ErrExchangeFailed, "The identity provider did not accept this sign-in's code ("+code+"). Start again from the sign-in page.",
			errors.New("token endpoint answered "+http.StatusText(status)+" "+code))
	}
	if isTransport(err) {
		return unreachable("token endpoint", err)
	}
	return refuse(ErrExchangeFailed, "", err)
}
