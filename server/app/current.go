// Package app holds what every front door reads of the running plugin: the
// snapshot of services one configuration built, swapped whole on every
// change, and the server's own settings the doors word things with.
package app

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/clientcerts/mattermost-plugin-certs/server/config"
	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
)

// Snapshot is everything derived from one configuration snapshot: the
// enrollment core with its parsed catalog, connectors and token minter. It
// is immutable once built.
type Snapshot struct {
	Config  *config.Configuration
	Catalog *profile.Catalog
	Core    *enroll.Core
	// BuiltinCA is a connector of the built-in CA that renews itself, nil
	// when the catalog has none or the admin supplied the CA.
	BuiltinCA *connector.Builtin
}

// Current is the snapshot in use and the server's settings, for every
// door. The zero value has neither: the plugin is starting.
type Current struct {
	snapshot atomic.Pointer[Snapshot]
	setupErr atomic.Pointer[string]
	site     atomic.Pointer[Site]
}

// Get returns the snapshot in use or an error saying why there is none.
func (c *Current) Get() (*Snapshot, error) {
	if s := c.snapshot.Load(); s != nil {
		return s, nil
	}
	reason := "the plugin is starting"
	if msg := c.setupErr.Load(); msg != nil {
		reason = *msg
	}
	return nil, &ErrNotReady{Reason: reason}
}

// Store makes s the snapshot in use; nil leaves none (the plugin stops).
func (c *Current) Store(s *Snapshot) {
	c.setupErr.Store(nil)
	c.snapshot.Store(s)
}

// Fail leaves no snapshot in use, for the reason an admin must fix.
func (c *Current) Fail(reason string) {
	c.setupErr.Store(&reason)
	c.snapshot.Store(nil)
}

// ErrNotReady is what users see while the plugin cannot issue.
type ErrNotReady struct{ Reason string }

func (e *ErrNotReady) Error() string {
	return fmt.Sprintf("certificates cannot be issued right now: the plugin's settings need an administrator's attention (%s)", e.Reason)
}

// Site is what the plugin uses of the server's own settings. It is read
// once per configuration change, not per request: reading the server's
// configuration copies all of it over RPC.
type Site struct {
	// URL is the Site URL without a trailing slash; Name the site name as
	// configured, empty if none.
	URL, Name string
	// Host is the Site URL's host, which names the site in the URI every
	// certificate carries for its owner's account.
	Host string
	// RequireVerifiedEmail keeps unverified emails out of certificates.
	RequireVerifiedEmail bool
	// PluginID is the plugin's id, which its URLs name.
	PluginID string
	// TrustedIPHeaders are the headers in which the server's reverse proxy
	// puts the client's address (ServiceSettings.TrustedProxyIPHeader);
	// none means the connection's own address is the client's.
	TrustedIPHeaders []string
}

// ClientAddress is the address a request came from, as Mattermost itself
// reads it: the first trusted proxy header that is set (the first address
// of X-Forwarded-For), else the connection's peer.
func (s *Site) ClientAddress(r *http.Request) string {
	for _, header := range s.TrustedIPHeaders {
		if value := strings.TrimSpace(r.Header.Get(header)); value != "" {
			first, _, _ := strings.Cut(value, ",")
			return strings.TrimSpace(first)
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// DisplayName is the server's name as users know it.
func (s *Site) DisplayName() string {
	if s.Name != "" {
		return s.Name
	}
	return "Mattermost"
}

// Site is the server's settings as last read; empty before the first read.
func (c *Current) Site() *Site {
	if s := c.site.Load(); s != nil {
		return s
	}
	return &Site{}
}

// SetSite records the server's settings, read on each configuration change.
func (c *Current) SetSite(s *Site) { c.site.Store(s) }

// The enrollment pages, relative to the plugin's URL: every door that
// hands out a link names one of them.
const (
	IssuePage  = "/issue"
	CSRPage    = "/csr"
	ImportPage = "/import"
)

// ErrNoSiteURL is a link that cannot be made: links need the Site URL.
var ErrNoSiteURL = &enroll.Error{Code: enroll.CodeUnavailable, Next: enroll.NextAskAdmin,
	Message: "The server's Site URL is not set; ask an administrator to set it in System Console > Environment > Web Server."}

// PluginURL is the plugin's root on this server (the Site URL, then
// /plugins/<id>); "" when the Site URL is not set.
func (s *Site) PluginURL() string {
	if s.URL == "" {
		return ""
	}
	return s.URL + "/plugins/" + s.PluginID
}

// PortalPath is the portal's path under the plugin's URL: its own pages,
// and the enrollment pages again for the people it signs in.
const PortalPath = "/portal"

// PortalURL is the portal's address on this server; "" when the Site URL
// is not set.
func (s *Site) PortalURL() string {
	if s.URL == "" {
		return ""
	}
	return s.PluginURL() + PortalPath
}

// PasswordPage is the portal's page a set-password link opens, relative to
// the portal.
const PasswordPage = "/password"

// PasswordLinkURL is the set-password link of a local account's token.
func (s *Site) PasswordLinkURL(token string) string {
	return s.PortalURL() + PasswordPage + "?token=" + url.QueryEscape(token)
}

// LinkURL makes a link token a URL on this server: the page that serves
// its purpose.
func (s *Site) LinkURL(link *enroll.Link) (string, error) {
	return linkAt(s.PluginURL(), link)
}

// PortalLinkURL makes a link token a URL of the portal's enrollment pages,
// for the people who sign in there.
func (s *Site) PortalLinkURL(link *enroll.Link) (string, error) {
	return linkAt(s.PortalURL(), link)
}

// LinkPath is the page a link opens, relative to the door that serves
// it: the page that serves its purpose, with the token.
func LinkPath(link *enroll.Link) string {
	page := IssuePage
	if link.Purpose == linktoken.PurposeCSR {
		page = CSRPage
	}
	return page + "?token=" + url.QueryEscape(link.Token)
}

func linkAt(base string, link *enroll.Link) (string, error) {
	if base == "" {
		return "", ErrNoSiteURL
	}
	return base + LinkPath(link), nil
}

// CAChainURL is where the chain of a connector's CA is served.
func (s *Site) CAChainURL(connectorName string) string {
	return s.PluginURL() + "/ca/" + connectorName + ".pem"
}
