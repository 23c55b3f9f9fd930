// Package enroll is the enrollment core: links, issuance with server keys
// and CSRs, approvals, CA-pending requests, pickup, registration,
// revocation and listing, for requesters from any front door. It knows
// nothing of Mattermost: the doors (chat, pages, API) build a Requester and
// turn the core's typed results and errors into their own answers.
package enroll

import (
	"fmt"
	"strings"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/admission"
	"github.com/clientcerts/mattermost-plugin-certs/server/attest"
	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
	"github.com/clientcerts/mattermost-plugin-certs/server/sealbox"
)

// Settings is what one configuration snapshot gives the core, parsed and
// validated. It is never changed: a new configuration makes a new Core.
type Settings struct {
	Catalog          *profile.Catalog
	Connectors       map[string]connector.Connector
	Minter           *linktoken.Minter
	PKCS12Format     pki.PKCS12Format
	AttestationRoots *attest.Roots
	// SealKey seals the keys a request holds until they are collected.
	SealKey      *sealbox.Key
	LinkLifetime time.Duration
	// EmailDelivery says certificates may be sent by email.
	EmailDelivery bool
	// RequireVerifiedEmail keeps an unverified email out of certificates.
	RequireVerifiedEmail bool
	// IdentityHost names the site in the URI every certificate carries
	// for its owner's immutable id: mattermost://<host>/users/<id>. Empty
	// writes none.
	IdentityHost string
	// PerRequesterPerDay bounds what one requester is issued in 24 hours,
	// across profiles; 0 is no bound.
	PerRequesterPerDay int
}

// Ports are the side effects the core is given.
type Ports struct {
	Inventory Inventory
	Directory Directory
	Notifier  Notifier
	Mailer    Mailer
	Log       Logger
	Clock     Clock
	// RSAKeys bounds RSA key generation (see NewRSAKeyQueue).
	RSAKeys *admission.Queue
	// CRLs signs this node's revocation lists (a new one when nil).
	CRLs *CRLPublisher
}

// Core serves enrollments for one configuration snapshot.
type Core struct {
	Settings
	store  Inventory
	dir    Directory
	notify Notifier
	mail   Mailer
	log    Logger
	now    Clock
	keys   *admission.Queue
	crls   *CRLPublisher
}

// New returns a core over settings and ports.
func New(settings Settings, ports Ports) *Core {
	core := &Core{
		Settings: settings,
		store:    ports.Inventory,
		dir:      ports.Directory,
		notify:   ports.Notifier,
		mail:     ports.Mailer,
		log:      ports.Log,
		now:      ports.Clock,
		keys:     ports.RSAKeys,
		crls:     ports.CRLs,
	}
	if core.crls == nil {
		core.crls = NewCRLPublisher()
	}
	return core
}

// Now is the core's clock.
func (c *Core) Now() time.Time { return c.now() }

// ProfileNamed returns a profile and its connector; name "" is the default.
func (c *Core) ProfileNamed(name string) (*profile.Profile, connector.Connector, bool) {
	prof, ok := c.Catalog.Profile(name)
	if !ok {
		return nil, nil, false
	}
	conn, ok := c.Connectors[prof.Connector]
	return prof, conn, ok
}

// MayUse reports whether r may get certificates under prof: never a bot or
// a deactivated account, a guest only where the profile allows guests;
// then everyone, members of the listed teams, and system admins. A lookup
// that fails refuses rather than allows.
func (c *Core) MayUse(r *Requester, prof *profile.Profile) bool {
	if r == nil || r.Bot || !r.Active {
		return false
	}
	if r.Guest && !prof.Access.Guests {
		return false
	}
	if prof.Access.Everyone() || c.IsAdmin(r) {
		return true
	}
	return c.dir.InAnyTeam(r, prof.Access.Teams)
}

// IsAdmin reports whether r, an active person, may administer
// certificates, by the directory's permission check.
func (c *Core) IsAdmin(r *Requester) bool {
	return r != nil && r.Active && !r.Bot && c.dir.IsAdmin(r)
}

// UsableProfiles lists the profiles r may use, in catalog order.
func (c *Core) UsableProfiles(r *Requester) []*profile.Profile {
	var out []*profile.Profile
	for i := range c.Catalog.Profiles {
		if prof := &c.Catalog.Profiles[i]; c.MayUse(r, prof) {
			out = append(out, prof)
		}
	}
	return out
}

// ProfileFor resolves the profile r asked for ("" is the default) and
// checks that r may use it.
func (c *Core) ProfileFor(r *Requester, requested string) (*profile.Profile, connector.Connector, error) {
	prof, conn, ok := c.ProfileNamed(requested)
	if !ok || !c.MayUse(r, prof) {
		name := requested
		if name == "" {
			name = c.Catalog.DefaultProfile
		}
		return nil, nil, &Error{Code: CodeForbidden, Message: fmt.Sprintf("You cannot get certificates of profile %q.", name),
			Hint: ProfilesHint(c.UsableProfiles(r), func(name string) string { return name })}
	}
	return prof, conn, nil
}

// ProfilesHint tells a requester which profiles they may use instead, each
// name written by quote (a door's own markup).
func ProfilesHint(usable []*profile.Profile, quote func(string) string) string {
	if len(usable) == 0 {
		return "No profile is open to you; ask an administrator."
	}
	names := make([]string, 0, len(usable))
	for _, prof := range usable {
		names = append(names, quote(prof.Name))
	}
	return "Profiles you can use: " + strings.Join(names, ", ") + "."
}

// WithConnectors is the same core with other connectors, over the same
// ports: a connector the plugin wraps (tests, a CA switched off).
func (c *Core) WithConnectors(connectors map[string]connector.Connector) *Core {
	copied := *c
	copied.Connectors = connectors
	return &copied
}
