package main

import (
	"net/http"

	"github.com/gorilla/mux"
	"github.com/mattermost/mattermost/server/public/plugin"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/observe"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"
	"github.com/clientcerts/mattermost-plugin-certs/server/web/admin"
	"github.com/clientcerts/mattermost-plugin-certs/server/web/enrollment"
	"github.com/clientcerts/mattermost-plugin-certs/server/web/public"
)

// routeAPI is the root of the JSON API, relative to /plugins/<id>; each
// door names its own routes.
const routeAPI = "/api/v1"

// newRouter mounts every door: the public PKI routes, the enrollment pages
// and user API, the admin API, and chat's buttons and autocomplete, each
// with the Mattermost session as its authenticator.
func (p *Plugin) newRouter() *mux.Router {
	r := web.NewRouter(p.API)
	api := r.PathPrefix(routeAPI).Subrouter()
	callers := &web.Callers{Current: p.current, Lookup: p.dir.Lookup}

	(&public.Routes{Current: p.current, Log: p.API, Now: p.now, ReloadIfCARenewed: p.caKeeper.ReloadIfRenewed}).Mount(r)
	(&enrollment.Routes{
		Callers: callers, Auth: web.MattermostSession, Current: p.current, Log: p.API, Now: p.now,
		LookupUsername: p.dir.RequesterByUsername,
		AuditRenewal: func(owner *enroll.Requester, serial string, renewal *enroll.Start, err error) {
			observe.AuditRenewal(p.API, owner, serial, renewal, err)
		},
	}).Mount(r, api)
	(&admin.Routes{Callers: callers, Auth: web.MattermostSession, Log: p.API, Now: p.now, RenewCA: p.caKeeper.Renew}).Mount(api)
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
