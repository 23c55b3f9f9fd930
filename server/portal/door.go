package portal

import (
	"embed"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/config"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/local"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"
)

//go:embed templates/*.html
var templateFiles embed.FS

// The portal's own pages, relative to its path (app.PortalPath).
const (
	routeHome        = "/"
	routeSignIn      = "/signin"
	routeSignOut     = "/signout"
	routePassword    = app.PasswordPage
	routeNew         = "/certificates/new"
	routeRevoke      = "/certificates/{serial}/revoke"
	routeRenew       = "/certificates/{serial}/renew"
	routeDownload    = "/certificates/{serial}/pem"
	routeCollect     = "/requests/{id}/collect"
	returnToParam    = "return"
	signInFormCookie = "certs_portal_signin"
)

// NextWords word, on the portal's pages and the link pages it mounts, the
// steps refusals leave: everything is done from the portal's home.
var NextWords = map[enroll.Next]string{
	enroll.NextNewLink:     "Go back to your certificates and start again: each link works once.",
	enroll.NextUseCSR:      "Choose \"Use my own key\" on your certificates page to upload a request for your device's key.",
	enroll.NextAskApproval: "Ask for one on your certificates page; an approver will decide.",
	enroll.NextSeeRequests: "Your requests are listed on your certificates page.",
	enroll.NextFreeASlot:   "Revoke one you no longer use on your certificates page, then ask again.",
	enroll.NextTryAgain:    "Try again in a minute, and contact your administrator if it keeps failing.",
	enroll.NextAskAdmin:    "Contact your administrator.",
}

// Door is the portal: sign-in for people outside chat (and Mattermost
// users, as themselves), their certificates and requests. The plugin
// mounts the enrollment link pages beside it, with Authenticate.
type Door struct {
	Current  *app.Current
	Callers  *web.Callers
	Sessions *Sessions
	// Accounts are the local accounts, with the throttle of their
	// sign-ins.
	Accounts *local.Accounts
	Log      web.Logger
	Now      func() time.Time
	// Audit records a sign-in, a sign-out or a refused sign-in.
	Audit func(event string, principal records.Principal, outcome string)
	// Factors are the second factors of local accounts, for the settings
	// in use; nil offers none. FactorStore is where they are kept.
	Factors     func() (*SecondFactors, error)
	FactorStore local.FactorStore
	// OIDC signs people in with an identity provider; nil offers none.
	OIDC *OIDC

	pages *web.Pages
	base  string
}

// Mount adds the portal's pages to r, the router of app.PortalPath below
// the plugin's root; base is the portal's path on the server
// (/plugins/<id>/portal), which its redirects name.
func (d *Door) Mount(r *mux.Router, base string) {
	d.base = base
	d.pages = web.NewPages(d.Log, templateFiles, "templates/*.html")
	d.pages.Next = NextWords
	d.pages.Door = web.Door{Home: base + routeHome}

	r.Handle(routeHome, d.signedIn(d.handleHome)).Methods(http.MethodGet)
	r.Handle(routeSignIn, d.page(d.handleSignInPage)).Methods(http.MethodGet)
	r.Handle(routeSignIn, d.page(d.handleSignIn)).Methods(http.MethodPost)
	r.Handle(routeSignOut, d.page(d.handleSignOut)).Methods(http.MethodPost)
	r.Handle(routePassword, d.page(d.handlePasswordPage)).Methods(http.MethodGet)
	r.Handle(routePassword, d.page(d.handleSetPassword)).Methods(http.MethodPost)
	r.Handle(routeNew, d.signedIn(d.handleNew)).Methods(http.MethodPost)
	r.Handle(routeRevoke, d.signedIn(d.handleRevokePage)).Methods(http.MethodGet)
	r.Handle(routeRevoke, d.signedIn(d.handleRevoke)).Methods(http.MethodPost)
	r.Handle(routeRenew, d.signedIn(d.handleRenew)).Methods(http.MethodPost)
	r.Handle(routeDownload, d.signedIn(d.handleDownload)).Methods(http.MethodGet)
	r.Handle(routeCollect, d.signedIn(d.handleCollect)).Methods(http.MethodPost)
	d.mountSecondFactors(r)
	d.mountOIDC(r)
}

// visit is a signed-in request: the session, who it is, and the services.
type visit struct {
	session   *store.PortalSession
	requester *enroll.Requester
	snapshot  *app.Snapshot
}

type visitHandler func(w http.ResponseWriter, r *http.Request, v *visit) error

func (d *Door) page(h web.PageHandler) http.Handler {
	return web.Page(d.Log, d.pages, web.MaxFormBytes, h)
}

// signedIn serves a page for the person signed in, checked on every
// request: the session, the account behind it, and the form's CSRF token
// for every change. A page asked for without a session leads to sign-in,
// and back.
func (d *Door) signedIn(h visitHandler) http.Handler {
	return d.visiting(false, h)
}

// staged serves a page of the sign-in's later stages (a second factor to
// give or to set up), which open sessions may use too.
func (d *Door) staged(h visitHandler) http.Handler {
	return d.visiting(true, h)
}

func (d *Door) visiting(anyStage bool, h visitHandler) http.Handler {
	return d.page(func(w http.ResponseWriter, r *http.Request) error {
		v, err := d.visit(w, r)
		if err == nil && v.session.Stage != "" && !anyStage {
			if r.Method != http.MethodGet {
				return ErrNoSession
			}
			http.Redirect(w, r, d.stagePage(v.session.Stage), http.StatusSeeOther)
			return nil
		}
		if he := web.AsError(err); he != nil && he.Status == http.StatusUnauthorized && r.Method == http.MethodGet {
			http.Redirect(w, r, d.signInURL(d.base+strings.TrimPrefix(r.URL.RequestURI(), app.PortalPath)), http.StatusSeeOther)
			return nil
		}
		if err != nil {
			return err
		}
		return h(w, r, v)
	})
}

// visit is the signed-in person of a request, if still allowed; the
// session may be at a stage of its sign-in still.
func (d *Door) visit(w http.ResponseWriter, r *http.Request) (*visit, error) {
	session, err := d.session(w, r)
	if err != nil {
		return nil, err
	}
	if r.Method != http.MethodGet {
		if err := CheckCSRF(r, session); err != nil {
			return nil, err
		}
	}
	s, requester, err := d.admitted(session)
	if err != nil {
		if he := web.AsError(err); he != nil && he.Status < http.StatusInternalServerError {
			d.Sessions.End(w, r)
		}
		return nil, err
	}
	return &visit{session: session, requester: requester, snapshot: s}, nil
}

// session is the request's portal session. A Mattermost user who opens
// the portal while signed in to Mattermost is signed in as themselves; one
// who signed out of Mattermost is signed out here too. Mattermost vouches
// for its user on a GET only (its CSRF check drops the user of a form
// post), so a change rides on the portal session the GET made.
func (d *Door) session(w http.ResponseWriter, r *http.Request) (*store.PortalSession, error) {
	session, err := d.Sessions.Current(w, r)
	if r.Method != http.MethodGet {
		return session, err
	}
	mmUser := r.Header.Get(web.MattermostUserHeader)
	switch {
	case mmUser != "" && (err != nil || session.Principal != records.MattermostUser(mmUser)):
		if err != nil && !errors.Is(err, ErrNoSession) && !errors.Is(err, ErrSessionExpired) {
			return nil, err
		}
		session, err = d.Sessions.Start(w, r, records.MattermostUser(mmUser))
		if err == nil {
			d.audit("portal_sign_in", session.Principal, "mattermost")
		}
		return session, err
	case err == nil && mmUser == "" && session.Principal.Kind() == records.KindMattermost:
		d.Sessions.End(w, r)
		return nil, ErrSessionExpired
	}
	return session, err
}

// admitted is the services and the requester of a session whose account
// may still sign in.
func (d *Door) admitted(session *store.PortalSession) (*app.Snapshot, *enroll.Requester, error) {
	s, requester, err := d.Callers.Resolve(session.Principal)
	if err != nil {
		return nil, nil, err
	}
	if err := d.stillAllowed(session, requester, s.Config); err != nil {
		return nil, nil, err
	}
	return s, requester, nil
}

// stillAllowed refuses a session whose account may no longer sign in: a
// deactivated or removed account, its way of signing in turned off, or a
// local account an admin reset after the session began.
func (d *Door) stillAllowed(session *store.PortalSession, r *enroll.Requester, c *config.Configuration) error {
	if !r.Active || r.Bot {
		return ErrSessionExpired
	}
	switch session.Principal.Kind() {
	case records.KindOIDC:
		if !c.OIDCEnabled() {
			return errNoProvider
		}
		return nil
	case local.KindLocal:
	default:
		return nil
	}
	if !c.PortalLocalAccounts {
		return errLocalAccountsOff
	}
	account, err := d.Accounts.Store.LocalAccount(session.Principal.ID())
	if err != nil {
		return err
	}
	if !account.ResetAt.IsZero() && !session.CreatedAt.After(account.ResetAt) {
		return ErrSessionExpired
	}
	return nil
}

var errLocalAccountsOff = &web.Error{Status: http.StatusForbidden, Message: "Local accounts are turned off on this server.", Hint: "Contact your administrator."}

// Authenticate is the authenticator of the link pages the portal mounts:
// the principal of a portal session still allowed, without touching it.
func (d *Door) Authenticate(r *http.Request) (records.Principal, error) {
	session, err := d.Sessions.Current(discardHeaders{}, r)
	if err != nil {
		return "", err
	}
	if session.Stage != "" {
		return "", ErrNoSession
	}
	if _, _, err := d.admitted(session); err != nil {
		return "", err
	}
	return session.Principal, nil
}

// signInURL is the sign-in page, to come back to returnTo after.
func (d *Door) signInURL(returnTo string) string {
	u := d.base + routeSignIn
	if to := d.returnTo(returnTo); to != d.base+routeHome {
		u += "?" + returnToParam + "=" + url.QueryEscape(to)
	}
	return u
}

// returnTo is where to go after signing in: only ever a path of the
// portal, never another site or another part of the server; home when
// the address is anything else.
func (d *Door) returnTo(raw string) string {
	home := d.base + routeHome
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || strings.Contains(raw, "\\") ||
		strings.HasPrefix(raw, "//") || !strings.HasPrefix(u.Path, d.base+"/") || strings.Contains(u.Path, "/..") {
		return home
	}
	if u.Path == d.base+routeSignIn || u.Path == d.base+routeSignOut {
		return home
	}
	return u.RequestURI()
}

func (d *Door) audit(event string, p records.Principal, outcome string) {
	if d.Audit != nil {
		d.Audit(event, p, outcome)
	}
}
