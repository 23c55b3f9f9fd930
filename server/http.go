package main

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/gorilla/mux"
	"github.com/mattermost/mattermost/server/public/plugin"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/config"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/local"
	"github.com/clientcerts/mattermost-plugin-certs/server/mattermost"
	"github.com/clientcerts/mattermost-plugin-certs/server/observe"
	"github.com/clientcerts/mattermost-plugin-certs/server/openid"
	"github.com/clientcerts/mattermost-plugin-certs/server/portal"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/sealbox"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
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
	(&admin.Routes{Callers: callers, Auth: web.MattermostSession, Log: p.API, Now: p.now, RenewCA: p.caKeeper.Renew,
		Accounts: p.accounts, Current: p.current,
		MailPasswordLink: func(account *store.LocalAccount, link string) {
			if appErr := mattermost.MailPasswordLink(p.API, p.current.Site().DisplayName(), account, link); appErr != nil {
				p.API.LogWarn("Could not email a set-password link", "account", account.ID, "error", appErr.Error())
			}
		}}).Mount(api)
	p.chat.Mount(r)
	p.mountPortal(r)
	return r
}

// secondFactors are the local accounts' second factors for the settings in
// use: TOTP secrets sealed with the encryption secret, passkeys for the
// Site URL's host.
func (p *Plugin) secondFactors() (*portal.SecondFactors, error) {
	s, err := p.current.Get()
	if err != nil {
		return nil, err
	}
	key, err := sealbox.NewKey(s.Config.EncryptionSecret)
	if err != nil {
		return nil, err
	}
	site := p.current.Site()
	rp, err := local.RelyingPartyOf(site.URL, site.DisplayName()+" certificates")
	if err != nil {
		return nil, err
	}
	passkeys, err := local.NewPasskeys(p.store, rp, p.now)
	if err != nil {
		return nil, err
	}
	return &portal.SecondFactors{
		TOTP:     &local.TOTP{Store: p.store, Key: key, Issuer: site.DisplayName() + " certificates", Now: p.now},
		Passkeys: passkeys,
	}, nil
}

// oidcSettings are the identity provider's settings in s, its client
// secret opened; ok is false when the portal has no provider.
func (p *Plugin) oidcSettings(s *app.Snapshot) (openid.Settings, bool, error) {
	if !s.Config.OIDCEnabled() {
		return openid.Settings{}, false, nil
	}
	secret, err := p.secrets.OpenIfSealed(s.Config.EncryptionSecret, s.Config.OIDCClientSecret)
	if err != nil {
		return openid.Settings{}, false, fmt.Errorf("the OpenID Connect client secret cannot be read: %w", err)
	}
	return oidcSettingsOf(s.Config, p.current.Site(), secret), true, nil
}

// oidcSettingsOf are a configuration's provider settings on site.
func oidcSettingsOf(c *config.Configuration, site *app.Site, clientSecret string) openid.Settings {
	return openid.Settings{
		Issuer: strings.TrimSpace(c.OIDCIssuer), ClientID: strings.TrimSpace(c.OIDCClientID), ClientSecret: clientSecret,
		Scopes: c.OIDCScopeList(), UsernameClaim: c.OIDCUsernameClaim, EmailClaim: c.OIDCEmailClaim,
		AllowedDomains: c.OIDCDomainList(), GroupsClaim: c.OIDCGroupsClaim, RequiredGroup: strings.TrimSpace(c.OIDCRequiredGroup),
		RedirectURL: site.PortalURL() + "/oidc/callback",
	}
}

// mountPortal mounts the portal under app.PortalPath: its own pages, and
// the enrollment link pages again with its sessions and its words.
func (p *Plugin) mountPortal(r *mux.Router) {
	base := "/plugins/" + manifest.Id + app.PortalPath
	callers := &web.Callers{Current: p.current, Lookup: p.lookup}
	secure := func() bool { return strings.HasPrefix(p.current.Site().URL, "https://") }
	p.portal = &portal.Door{
		Current: p.current, Callers: callers, Accounts: p.accounts, Log: p.API, Now: p.now,
		Sessions: &portal.Sessions{Store: p.store, Now: p.now, Path: base, Secure: secure},
		Audit: func(event string, principal records.Principal, outcome string) {
			observe.AuditPortal(p.API, event, principal, outcome)
		},
		Factors: p.secondFactors, FactorStore: p.store,
		OIDC: &portal.OIDC{People: p.oidcDir, Settings: p.oidcSettings,
			Flows: &openid.Flows{Store: p.store, Now: p.now, CookiePath: base + "/oidc", Secure: secure}},
	}
	r.Handle(app.PortalPath, http.RedirectHandler(base+"/", http.StatusMovedPermanently))
	portalRouter := r.PathPrefix(app.PortalPath).Subrouter()
	p.portal.Mount(portalRouter, base)
	(&enrollment.Routes{
		Callers: callers, Auth: p.portal.Authenticate, Current: p.current, Log: p.API, Now: p.now,
		NextWords: portal.NextWords, Door: web.Door{Home: base + "/"},
	}).MountLinkPages(portalRouter)
}

// ServeHTTP routes requests to /plugins/<id>/...
func (p *Plugin) ServeHTTP(_ *plugin.Context, w http.ResponseWriter, r *http.Request) {
	if p.router == nil {
		web.WriteJSONError(w, http.StatusServiceUnavailable, "the plugin is starting")
		return
	}
	p.router.ServeHTTP(w, r)
}
