package main

import (
	"net/url"
	"strings"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/mattermost/mattermost/server/public/model"
)

// site is the current snapshot of the server's settings.
func (p *Plugin) site() *app.Site {
	if s := p.current.Site(); s.URL != "" || s.Name != "" {
		return s
	}
	return p.refreshSite()
}

// refreshSite reads the server's settings; the server calls
// OnConfigurationChange whenever they change.
func (p *Plugin) refreshSite() *app.Site {
	s := &app.Site{PluginID: manifest.Id}
	if cfg := p.API.GetConfig(); cfg != nil {
		s.URL = strings.TrimRight(model.SafeDereference(cfg.ServiceSettings.SiteURL), "/")
		s.Name = model.SafeDereference(cfg.TeamSettings.SiteName)
		if u, err := url.Parse(s.URL); err == nil {
			s.Host = u.Host
		}
		s.RequireVerifiedEmail = model.SafeDereference(cfg.EmailSettings.RequireEmailVerification)
	}
	p.current.SetSite(s)
	return s
}

// siteURL is the server's Site URL, "" when it is not set.
func (p *Plugin) siteURL() string { return p.site().URL }

// siteName is the server's name as users know it.
func (p *Plugin) siteName() string { return p.site().DisplayName() }
