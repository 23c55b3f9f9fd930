package enroll

import (
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// Requester is whoever asks for something: a principal (an immutable id:
// every decision keys on it) and the facts a certificate and a policy need,
// as the directory of the principal's kind knows them. Names are for
// certificates and people; they never decide who may do what.
type Requester struct {
	Principal   records.Principal
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

// Directory looks up the accounts of one kind of principal and their
// memberships, by immutable id. The core asks the directory of each
// principal's kind (Ports.Directories).
type Directory interface {
	// Lookup returns the requester a principal names, or an error when it
	// does not exist any more.
	Lookup(principal records.Principal) (*Requester, error)
	// Admits reports whether a profile's access rules let the account
	// use it, by the rules of this kind of account (teams and
	// administrators for Mattermost users, what the profile says of the
	// portal for the portal's people). The core has already refused bots,
	// deactivated accounts and guests the profile does not allow.
	Admits(r *Requester, access profile.Access) bool
	// Approvers returns this directory's accounts that may decide a
	// profile's requests: those its approver names were bound to, or,
	// when it names none, the directory's administrators. A name the
	// directory did not bind to one of its own accounts approves nothing,
	// so that a name another directory also knows grants nobody else.
	Approvers(profileName string, approvers []string) []records.Principal
	// IsAdmin reports whether the account may administer certificates:
	// asked of the account's permissions each time, never of a role name
	// or a flag a door could set.
	IsAdmin(r *Requester) bool
}
