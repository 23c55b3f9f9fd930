package enroll

import (
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// Requester is whoever asks for something: a principal (an immutable id:
// every decision keys on it) and the facts a certificate and a policy need.
// Names are for certificates and people; they never decide who may do what.
type Requester struct {
	Principal records.Principal
	// ID is the account's immutable id in its own system (a Mattermost
	// user id); certificates carry it as a URI.
	ID          string
	Username    string
	Email       string
	DisplayName string
	// EmailVerified says the account proved it owns Email.
	EmailVerified bool
	Guest         bool
	Bot           bool
	// Active is false for a deactivated account.
	Active bool
}

// Directory looks up accounts and their memberships, by immutable id.
type Directory interface {
	// Lookup returns the requester a principal names, or an error when it
	// does not exist any more.
	Lookup(principal records.Principal) (*Requester, error)
	// InAnyTeam reports whether the account is a member of one of the
	// teams a profile lists by name.
	InAnyTeam(r *Requester, teams []string) bool
	// Approvers returns the account ids that may decide a profile's
	// requests: the accounts its approvers were bound to, or every system
	// admin when it lists none.
	Approvers(profileName string, approvers []string) []string
	// IsAdmin reports whether the account may administer certificates:
	// asked of the account's permissions each time, never of a role name
	// or a flag a door could set.
	IsAdmin(r *Requester) bool
}
