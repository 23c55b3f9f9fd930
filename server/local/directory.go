package local

import (
	"errors"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

// Directory is the core's directory of local accounts. They use the
// profiles that admit local accounts, never approve and never administer:
// an admin made them, and admins are Mattermost users.
type Directory struct {
	Store AccountStore
}

// RequesterOf is the requester a local account is. Its email is the one
// an admin gave, which the admin vouches for as Mattermost's own admins do
// for the accounts they make; a removed account is inactive.
func RequesterOf(a *store.LocalAccount) *enroll.Requester {
	return &enroll.Requester{
		Principal:     PrincipalOf(a),
		Username:      a.Username,
		Email:         a.Email,
		DisplayName:   a.Username,
		EmailVerified: true,
		Active:        !a.Removed(),
	}
}

// Lookup finds a local account by its principal, removed ones included
// (inactive), so their certificates still name them.
func (d *Directory) Lookup(p records.Principal) (*enroll.Requester, error) {
	if p.Kind() != KindLocal {
		return nil, errors.New("not a local account's principal")
	}
	account, err := d.Store.LocalAccount(p.ID())
	if err != nil {
		return nil, err
	}
	return RequesterOf(account), nil
}

// Admits lets local accounts use the profiles that say so.
func (d *Directory) Admits(_ *enroll.Requester, access profile.Access) bool {
	return access.AdmitsLocalAccounts()
}

// Approvers: local accounts approve nothing.
func (d *Directory) Approvers(string, []string) []records.Principal { return nil }

// IsAdmin: local accounts administer nothing.
func (d *Directory) IsAdmin(*enroll.Requester) bool { return false }
