package main

import (
	"net/http"

	"github.com/gorilla/mux"
	"github.com/mattermost/mattermost/server/public/plugin"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/mattermost"
	"github.com/clientcerts/mattermost-plugin-certs/server/observe"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"
	"github.com/clientcerts/mattermost-plugin-certs/server/web/admin"
	"github.com/clientcerts/mattermost-plugin-certs/server/web/enrollment"
	"github.com/clientcerts/mattermost-plugin-certs/server/web/public"
)

// Routes, relative to /plugins/<id>; each door names its own.
const (
	routeAPI                  = "/api/v1"
	routeAutocompleteSerials  = routeAPI + "/autocomplete/serials"
	routeAutocompleteProfiles = routeAPI + "/autocomplete/profiles"
)

// apiHandler serves a JSON route for a user signed in to Mattermost.
type apiHandler func(w http.ResponseWriter, r *http.Request, userID string) error

func (p *Plugin) newRouter() *mux.Router {
	r := web.NewRouter(p.API)
	api := r.PathPrefix(routeAPI).Subrouter()

	(&public.Routes{Current: p.current, Log: p.API, Now: p.now, ReloadIfCARenewed: p.caKeeper.ReloadIfRenewed}).Mount(r)
	(&enrollment.Routes{
		Callers: p.callers(), Auth: web.MattermostSession, Current: p.current, Log: p.API, Now: p.now,
		LookupUsername: p.dir.RequesterByUsername,
		AuditRenewal: func(owner *enroll.Requester, serial string, renewal *enroll.Start, err error) {
			observe.AuditRenewal(p.API, owner, serial, renewal, err)
		},
	}).Mount(r, api)
	(&admin.Routes{Callers: p.callers(), Auth: web.MattermostSession, Log: p.API, Now: p.now}).Mount(api)
	api.Handle(routeAdminCARenew, p.api(p.handleAdminCARenew)).Methods(http.MethodPost)
	r.Handle(mattermost.ActionApprove, p.api(p.handleApproveAction)).Methods(http.MethodPost)
	r.Handle(mattermost.ActionDeny, p.api(p.handleDenyAction)).Methods(http.MethodPost)
	r.Handle(mattermost.DialogDenySubmit, p.api(p.handleDenyDialog)).Methods(http.MethodPost)
	r.Handle(mattermost.ActionRenew, p.api(p.handleRenewAction)).Methods(http.MethodPost)
	r.Handle(routeAutocompleteSerials, p.api(p.handleAutocompleteSerials)).Methods(http.MethodGet)
	r.Handle(routeAutocompleteProfiles, p.api(p.handleAutocompleteProfiles)).Methods(http.MethodGet)

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

// callers resolves a signed-in principal through the directory.
func (p *Plugin) callers() *web.Callers {
	return &web.Callers{Current: p.current, Lookup: p.dir.Lookup}
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
