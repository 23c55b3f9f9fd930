// Package enrollment is the door through which people get certificates:
// the pages a single-use link opens (a key made by the server, a CSR
// upload, the registration of a certificate one already has) and the
// user's JSON API (links, enrollments, CSRs, their certificates, requests
// and profiles, renewal and revocation). It knows who calls only through
// the authenticator it is mounted with, so another front door may mount it
// with its own sessions.
package enrollment

import (
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"
)

// Routes of the JSON API, relative to the API's router (/api/v1); the
// pages are at app.IssuePage, app.CSRPage and app.ImportPage.
const (
	routeLinks             = "/links"
	routeEnrollments       = "/enrollments"
	routeCSR               = app.CSRPage
	routeCertificates      = "/certificates"
	routeImportCertificate = "/certificates/import"
	routeRevoke            = "/certificates/{serial}/revoke"
	routeRenew             = "/certificates/{serial}/renew"
	routeProfiles          = "/profiles"
	routeRequests          = "/requests"
	routeCollect           = "/requests/{id}/collect"
	routeCancel            = "/requests/{id}/cancel"
)

// Routes serves the enrollment pages and the user's JSON API.
type Routes struct {
	// Callers resolves the caller to the services and the requester it is.
	Callers *web.Callers
	// Auth says who calls. A page a link opens needs no session, but one
	// there must be the link's owner's.
	Auth web.Authenticator
	// Current is the services in use and the server's settings (its links
	// and CA chain URLs).
	Current *app.Current
	Log     web.Logger
	Now     func() time.Time
	// LookupUsername finds, by name, the account an administrator
	// registers a certificate for.
	LookupUsername func(name string) (*enroll.Requester, error)
	// AuditRenewal records the start of a renewal, or its refusal.
	AuditRenewal func(owner *enroll.Requester, serial string, renewal *enroll.Start, err error)
	// NextWords words, on the pages, the steps refusals leave, for the
	// people this mount serves; nil is the words for people who came from
	// chat (run /cert …).
	NextWords map[enroll.Next]string
	// Door is where the pages send people to act on their certificates;
	// the zero Door is chat.
	Door web.Door

	pages *web.Pages
}

// Mount adds every page to r, the plugin's root, and the JSON routes to
// api, the router of /api/v1: the door for Mattermost's signed-in users.
func (h *Routes) Mount(r *mux.Router, api *mux.Router) {
	h.MountLinkPages(r)
	r.Handle(app.ImportPage, h.page(h.handleImportPage, web.MaxFormBytes)).Methods(http.MethodGet)
	r.Handle(app.ImportPage, h.page(h.handleImportSubmit, MaxUploadBytes)).Methods(http.MethodPost)

	api.Handle(routeLinks, h.api(h.handleCreateLink)).Methods(http.MethodPost)
	api.Handle(routeCSR, h.api(h.handleSignCSR)).Methods(http.MethodPost)
	api.Handle(routeEnrollments, h.api(h.handleEnroll)).Methods(http.MethodPost)
	api.Handle(routeCertificates, h.api(h.handleListCertificates)).Methods(http.MethodGet)
	api.Handle(routeImportCertificate, h.api(h.handleImportCertificate)).Methods(http.MethodPost)
	api.Handle(routeRevoke, h.api(h.handleRevokeCertificate)).Methods(http.MethodPost)
	api.Handle(routeRenew, h.api(h.handleRenewCertificate)).Methods(http.MethodPost)
	api.Handle(routeProfiles, h.api(h.handleListProfiles)).Methods(http.MethodGet)
	api.Handle(routeRequests, h.api(h.handleListRequests)).Methods(http.MethodGet)
	api.Handle(routeCollect, h.api(h.handleCollectRequest)).Methods(http.MethodPost)
	api.Handle(routeCancel, h.api(h.handleCancelRequest)).Methods(http.MethodPost)
}

// MountLinkPages adds to r only the pages a link opens (the key made by
// the server, the CSR upload), whose forms carry the link as their proof:
// a door with sessions of its own mounts these under its path.
func (h *Routes) MountLinkPages(r *mux.Router) {
	h.pages = web.NewPages(h.Log, templateFiles, "templates/*.html")
	h.pages.Next = h.NextWords
	if h.pages.Next == nil {
		h.pages.Next = pageNext
	}
	h.pages.Door = h.Door

	r.Handle(app.IssuePage, h.page(h.handleIssuePage, web.MaxFormBytes)).Methods(http.MethodGet)
	r.Handle(app.IssuePage, h.page(h.handleIssueSubmit, web.MaxFormBytes)).Methods(http.MethodPost)
	r.Handle(app.CSRPage, h.page(h.handleCSRPage, web.MaxFormBytes)).Methods(http.MethodGet)
	r.Handle(app.CSRPage, h.page(h.handleCSRSubmit, MaxUploadBytes)).Methods(http.MethodPost)
}

// api wraps a JSON handler for an authenticated caller.
func (h *Routes) api(handler web.APIHandler) http.Handler {
	return web.API(h.Log, h.Auth, handler)
}

// page wraps a page whose body is at most maxBytes.
func (h *Routes) page(handler web.PageHandler, maxBytes int64) http.Handler {
	return web.Page(h.Log, h.pages, maxBytes, handler)
}

// session is the principal signed in to this browser, "" for none: a page
// a link opens serves whoever holds the link, unless a session says it is
// somebody else.
func (h *Routes) session(r *http.Request) (records.Principal, error) {
	caller, err := h.Auth(r)
	if he := web.AsError(err); he != nil && he.Status == http.StatusUnauthorized {
		return "", nil
	}
	return caller, err
}

// serialRoute reads the serial of a route on one of the caller's
// certificates, and the caller.
func (h *Routes) serialRoute(r *http.Request, caller records.Principal) (string, *app.Snapshot, *enroll.Requester, error) {
	serial := pki.NormalizeSerial(mux.Vars(r)["serial"])
	if serial == "" {
		return "", nil, nil, &web.Error{Status: http.StatusBadRequest, Message: "not a certificate serial"}
	}
	s, requester, err := h.Callers.Resolve(caller)
	return serial, s, requester, err
}
