package main

import (
	"net/url"
	"strings"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/mattermost/mattermost/server/public/model"
)

// refreshSite reads the server's settings into p.current, where every door
// reads them; the server calls OnConfigurationChange whenever they change,
// and applyConfiguration reads them before it builds the services.
func (p *Plugin) refreshSite() {
	s := &app.Site{PluginID: manifest.Id}
	if cfg := p.API.GetConfig(); cfg != nil {
		s.URL = strings.TrimRight(model.SafeDereference(cfg.ServiceSettings.SiteURL), "/")
		s.Name = model.SafeDereference(cfg.TeamSettings.SiteName)
		if u, err := url.Parse(s.URL); err == nil {
			s.Host = u.Host
		}
		s.RequireVerifiedEmail = model.SafeDereference(cfg.EmailSettings.RequireEmailVerification)
		s.TrustedIPHeaders = cfg.ServiceSettings.TrustedProxyIPHeader
	}
	p.current.SetSite(s)
}
