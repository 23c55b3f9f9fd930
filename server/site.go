package main

import (
	"net/url"
	"strings"

	"github.com/mattermost/mattermost/server/public/model"
)

// serverSite is what the plugin uses of the server's own settings. It is
// read once per configuration change, not per request: GetConfig copies the
// whole server configuration over RPC.
type serverSite struct {
	// url is the Site URL without a trailing slash; name the site name as
	// configured, empty if none.
	url, name string
	// host is the Site URL's host, which names the site in the URI every
	// certificate carries for its owner's account.
	host string
	// requireVerifiedEmail keeps unverified emails out of certificates.
	requireVerifiedEmail bool
}

// site is the current snapshot of the server's settings.
func (p *Plugin) site() *serverSite {
	if s := p.serverSite.Load(); s != nil {
		return s
	}
	return p.refreshSite()
}

// refreshSite reads the server's settings; the server calls
// OnConfigurationChange whenever they change.
func (p *Plugin) refreshSite() *serverSite {
	s := &serverSite{}
	if cfg := p.API.GetConfig(); cfg != nil {
		s.url = strings.TrimRight(model.SafeDereference(cfg.ServiceSettings.SiteURL), "/")
		s.name = model.SafeDereference(cfg.TeamSettings.SiteName)
		if u, err := url.Parse(s.url); err == nil {
			s.host = u.Host
		}
		s.requireVerifiedEmail = model.SafeDereference(cfg.EmailSettings.RequireEmailVerification)
	}
	p.serverSite.Store(s)
	return s
}

// siteURL is the server's Site URL, "" when it is not set.
func (p *Plugin) siteURL() string { return p.site().url }

// siteName is the server's name as users know it.
func (p *Plugin) siteName() string {
	if name := p.site().name; name != "" {
		return name
	}
	return "Mattermost"
}
