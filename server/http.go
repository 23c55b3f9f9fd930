package main

import (
	"net/http"

	"github.com/gorilla/mux"
	"github.com/mattermost/mattermost/server/public/plugin"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"
	"github.com/clientcerts/mattermost-plugin-certs/server/web/admin"
	"github.com/clientcerts/mattermost-plugin-certs/server/web/public"
)

// Routes, relative to /plugins/<id>.
const (
	routeImportCertificate = "/certificates/import"
	routeAPI               = "/api/v1"
	routeLinks             = "/links"
	routeCertificates      = "/certificates"
	routeRevoke            = "/certificates/{serial}/revoke"
	routeRenew             = "/certificates/{serial}/renew"
	routeProfiles          = "/profiles"
	routeRequests          = "/requests"
	routeEnrollments       = "/enrollments"
)

// apiHandler serves a JSON route for a user signed in to Mattermost.
type apiHandler func(w http.ResponseWriter, r *http.Request, userID string) error

func (p *Plugin) newRouter() *mux.Router {
	p.pages = web.NewPages(p.API, templateFiles, "templates/*.html")
	p.pages.Next = pageNext
	r := web.NewRouter(p.API)

	(&public.Routes{Current: p.current, Log: p.API, Now: p.now, ReloadIfCARenewed: p.caKeeper.ReloadIfRenewed}).Mount(r)
	r.Handle(app.IssuePage, p.page(p.handleIssuePage)).Methods(http.MethodGet)
	r.Handle(app.IssuePage, p.page(p.handleIssueSubmit)).Methods(http.MethodPost)
	r.Handle(app.CSRPage, p.page(p.handleCSRPage)).Methods(http.MethodGet)
	r.Handle(app.CSRPage, p.pageWithLimit(p.handleCSRSubmit, maxUploadBytes)).Methods(http.MethodPost)
	r.Handle(app.ImportPage, p.page(p.handleImportPage)).Methods(http.MethodGet)
	r.Handle(app.ImportPage, p.pageWithLimit(p.handleImportSubmit, maxUploadBytes)).Methods(http.MethodPost)

	api := r.PathPrefix(routeAPI).Subrouter()
	api.Handle(routeLinks, p.api(p.handleCreateLink)).Methods(http.MethodPost)
	api.Handle(app.CSRPage, p.api(p.handleSignCSR)).Methods(http.MethodPost)
	api.Handle(routeEnrollments, p.api(p.handleEnroll)).Methods(http.MethodPost)
	api.Handle(routeCertificates, p.api(p.handleListCertificates)).Methods(http.MethodGet)
	api.Handle(routeImportCertificate, p.api(p.handleImportCertificate)).Methods(http.MethodPost)
	api.Handle(routeRevoke, p.api(p.handleRevokeCertificate)).Methods(http.MethodPost)
	api.Handle(routeRenew, p.api(p.handleRenewCertificate)).Methods(http.MethodPost)
	api.Handle(routeProfiles, p.api(p.handleListProfiles)).Methods(http.MethodGet)
	api.Handle(routeRequests, p.api(p.handleListRequests)).Methods(http.MethodGet)
	(&admin.Routes{Callers: p.callers(), Auth: web.MattermostSession, Log: p.API, Now: p.now, RenewCA: p.caKeeper.Renew}).Mount(api)
	p.chat.Mount(r)

	return r
}

// ServeHTTP routes requests to /plugins/<id>/...
func (p *Plugin) ServeHTTP(_ *plugin.Context, w http.ResponseWriter, r *http.Request) {
	if p.router == nil {
		web.WriteJSONError(w, http.StatusServiceUnavailable, "the plugin is starting")
		return
	}
	p.router.ServeHTTP(w, r)
}

// api wraps a JSON handler for a user signed in to Mattermost.
func (p *Plugin) api(h apiHandler) http.Handler {
	return web.API(p.API, web.MattermostSession, func(w http.ResponseWriter, r *http.Request, caller records.Principal) error {
		return h(w, r, caller.MattermostUserID())
	})
}

// page wraps an HTML handler: errors become an error page.
func (p *Plugin) page(h web.PageHandler) http.Handler {
	return web.Page(p.API, p.pages, web.MaxFormBytes, h)
}

// pageWithLimit is page for a form that uploads more than a token.
func (p *Plugin) pageWithLimit(h web.PageHandler, maxBytes int64) http.Handler {
	return web.Page(p.API, p.pages, maxBytes, h)
}

// callers resolves a signed-in principal through the directory.
func (p *Plugin) callers() *web.Callers {
	return &web.Callers{Current: p.current, Lookup: (p.dir).Lookup}
}

// pageNext words, on the plugin's pages, the steps refusals leave; a step
// with no words here is told in the core's (its Hint). The pages are
// opened from Mattermost, so they point back there.
var pageNext = map[enroll.Next]string{
	enroll.NextNewLink:     "Run /cert download (or /cert csr) in Mattermost to get a new link.",
	enroll.NextUseCSR:      "Run /cert csr in Mattermost to upload a request for your device's key.",
	enroll.NextAskApproval: "Run /cert download in Mattermost to ask for one.",
	enroll.NextSeeRequests: "Run /cert list in Mattermost to see your requests.",
	enroll.NextFreeASlot:   "Revoke one you no longer use (/cert revoke <serial> superseded in Mattermost), then ask again.",
	enroll.NextTryAgain:    "Your link still works: try again in a minute, and contact your administrator if it keeps failing.",
}

// sessionRequester is the signed-in account of an API request, with the
// services that serve it.
func (p *Plugin) sessionRequester(userID string) (*app.Snapshot, *enroll.Requester, error) {
	s, err := p.current.Get()
	if err != nil {
		return nil, nil, &web.Error{Status: http.StatusServiceUnavailable, Message: err.Error()}
	}
	r, err := p.dir.Requester(userID)
	if err != nil {
		return nil, nil, err
	}
	return s, r, nil
}

// sessionPrincipal is the owner principal of a signed-in Mattermost user:
// the one place a session's user id becomes a principal.
func sessionPrincipal(userID string) records.Principal { return records.MattermostUser(userID) }
