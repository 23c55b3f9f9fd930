// Package enroll is the enrollment core: links, issuance with server keys
// and CSRs, approvals, CA-pending requests, pickup, registration,
// revocation and listing, for requesters from any front door and of any
// kind of principal. It names no chat and no account system: the doors
// (chat, pages, API) build a Requester and turn the core's typed results
// and errors (with the kind of step each leaves) into their own answers;
// each kind of principal brings its directory and notifier.
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
	// for its owner's principal (see IdentityURI). Empty writes none.
	IdentityHost string
	// PerRequesterPerDay bounds what one requester is issued in 24 hours,
	// across profiles; 0 is no bound.
	PerRequesterPerDay int
}

// Ports are the side effects the core is given.
type Ports struct {
	Inventory Inventory
	// Directories and Notifiers serve each kind of principal
	// (records.Principal.Kind): who a principal is, and how they are told,
	// is asked of their kind's. A kind with no directory has no requester;
	// one with no notifier is told nothing (see notifierOf).
	Directories map[string]Directory
	Notifiers   map[string]Notifier
	// Admins reaches the administrators.
	Admins AdminNotifier
	Mailer Mailer
	Log    Logger
	Clock  Clock
	// RSAKeys bounds RSA key generation (see NewRSAKeyQueue).
	RSAKeys *admission.Queue
	// CRLs signs this node's revocation lists (a new one when nil).
	CRLs *CRLPublisher
}

// Core serves enrollments for one configuration snapshot.
type Core struct {
	Settings
	store     Inventory
	dirs      map[string]Directory
	notifiers map[string]Notifier
	admins    AdminNotifier
	mail      Mailer
	log       Logger
	now       Clock
	keys      *admission.Queue
	crls      *CRLPublisher
}

// New returns a core over settings and ports.
func New(settings Settings, ports Ports) *Core {
	core := &Core{
		Settings:  settings,
		store:     ports.Inventory,
		dirs:      ports.Directories,
		notifiers: ports.Notifiers,
		admins:    ports.Admins,
		mail:      ports.Mailer,
		log:       ports.Log,
		now:       ports.Clock,
		keys:      ports.RSAKeys,
		crls:      ports.CRLs,
	}
	if core.crls == nil {
		core.crls = NewCRLPublisher()
	}
	if core.admins == nil {
		core.admins = noAdmins{log: core.log}
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
// then whom the profile's access admits, as the directory of r's kind
// reads it. A lookup that fails refuses rather than allows.
func (c *Core) MayUse(r *Requester, prof *profile.Profile) bool {
	if r == nil || r.Bot || !r.Active {
		return false
	}
	if r.Guest && !prof.Access.Guests {
		return false
	}
	dir := c.directoryOf(r.Principal)
	return dir != nil && dir.Admits(r, prof.Access)
}

// IsAdmin reports whether r, an active person, may administer
// certificates, by the permission check of r's directory.
func (c *Core) IsAdmin(r *Requester) bool {
	if r == nil || !r.Active || r.Bot {
		return false
	}
	dir := c.directoryOf(r.Principal)
	return dir != nil && dir.IsAdmin(r)
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
			Next: NextChooseProfile, Hint: c.profilesHint(r)}
	}
	return prof, conn, nil
}

// profilesHint tells a requester which profiles they may use instead.
func (c *Core) profilesHint(r *Requester) string {
	usable := c.UsableProfiles(r)
	if len(usable) == 0 {
		return "No profile is open to you; ask an administrator."
	}
	names := make([]string, 0, len(usable))
	for _, prof := range usable {
		names = append(names, prof.Name)
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
