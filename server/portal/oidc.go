package portal

import (
	"errors"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/openid"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"
)

// OpenID Connect sign-in: the start sends the browser to the provider, the
// callback comes back with its answer.
const (
	routeOIDCStart    = "/oidc/start"
	routeOIDCCallback = "/oidc/callback"
)

// OIDC signs people in with the configured provider.
type OIDC struct {
	Flows  *openid.Flows
	People *openid.Directory
	// Settings are the provider's settings in s (its client secret
	// opened); ok false when the portal has no provider.
	Settings func(s *app.Snapshot) (settings openid.Settings, ok bool, err error)
}

func (d *Door) mountOIDC(r *mux.Router) {
	r.Handle(routeOIDCStart, d.page(d.handleOIDCStart)).Methods(http.MethodGet)
	r.Handle(routeOIDCCallback, d.page(d.handleOIDCCallback)).Methods(http.MethodGet)
}

var errNoProvider = &web.Error{Status: http.StatusNotFound, Message: "Single sign-on is not set up on this server.", Hint: "Sign in another way, or contact your administrator."}

// oidcSettings are the provider's settings in use.
func (d *Door) oidcSettings() (openid.Settings, error) {
	if d.OIDC == nil {
		return openid.Settings{}, errNoProvider
	}
	s, err := d.Current.Get()
	if err != nil {
		return openid.Settings{}, err
	}
	settings, ok, err := d.OIDC.Settings(s)
	if err == nil && !ok {
		err = errNoProvider
	}
	return settings, err
}

// handleOIDCStart begins a sign-in at the provider. A GET is right here:
// it changes nothing but the browser's own flow cookie, and the flow is
// bound to that browser.
func (d *Door) handleOIDCStart(w http.ResponseWriter, r *http.Request) error {
	settings, err := d.oidcSettings()
	if err != nil {
		return err
	}
	to, err := d.OIDC.Flows.Begin(r.Context(), w, settings, d.returnTo(r.FormValue(returnToParam)))
	if err != nil {
		return oidcRefusal(err)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

// handleOIDCCallback finishes a sign-in: the provider's answer checked
// (its flow used up whatever the outcome), what it said of the person
// kept, and a new session.
func (d *Door) handleOIDCCallback(w http.ResponseWriter, r *http.Request) error {
	settings, err := d.oidcSettings()
	if err != nil {
		return err
	}
	id, returnTo, err := d.OIDC.Flows.Finish(r.Context(), w, r, settings)
	if err != nil {
		d.Log.LogWarn("A single sign-on to the portal was refused", "error", err.Error())
		d.audit("portal_sign_in", "", "oidc_refused")
		return oidcRefusal(err)
	}
	if err := d.OIDC.People.Remember(id, d.Now()); err != nil {
		return err
	}
	session, err := d.Sessions.Start(w, r, id.Principal())
	if err != nil {
		return err
	}
	d.audit("portal_sign_in", session.Principal, "oidc")
	http.Redirect(w, r, d.returnTo(returnTo), http.StatusSeeOther)
	return nil
}

// oidcRefusal is a refused sign-in as the page says it: what happened and
// what to do, with a status for its kind.
func oidcRefusal(err error) error {
	var refusal *openid.Refusal
	if !errors.As(err, &refusal) {
		return err
	}
	status := http.StatusBadRequest
	switch {
	case errors.Is(err, openid.ErrUnreachable):
		status = http.StatusServiceUnavailable
	case errors.Is(err, openid.ErrEmailUnverified), errors.Is(err, openid.ErrDomainNotAllowed),
		errors.Is(err, openid.ErrGroupMissing), errors.Is(err, openid.ErrEmailMissing):
		status = http.StatusForbidden
	case errors.Is(err, openid.ErrInvalidToken), errors.Is(err, openid.ErrExchangeFailed):
		status = http.StatusBadGateway
	}
	return &web.Error{Status: status, Message: refusal.Message}
}
