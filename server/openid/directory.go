package openid

import (
	"errors"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

// PeopleStore keeps what the provider said of each person at their last
// sign-in.
type PeopleStore interface {
	SaveOIDCPerson(p *store.OIDCPerson) error
	OIDCPerson(p records.Principal) (*store.OIDCPerson, error)
}

// Directory is the core's directory of people who sign in to the portal
// with the identity provider: known by what it said at their last sign-in.
// They use the profiles that admit them (access.portal, or one of their
// groups in access.oidc_groups), never approve and never administer.
type Directory struct {
	Store PeopleStore
}

// Remember keeps what the provider said of a person signing in now, for
// the directory to answer with until their next sign-in.
func (d *Directory) Remember(id *Identity, now time.Time) error {
	return d.Store.SaveOIDCPerson(&store.OIDCPerson{Principal: id.Principal(), Username: id.Username, Email: id.Email,
		EmailVerified: id.EmailVerified, Groups: id.Groups, SignedInAt: now})
}

func (d *Directory) Lookup(p records.Principal) (*enroll.Requester, error) {
	if p.Kind() != records.KindOIDC {
		return nil, errors.New("not an OpenID Connect person's principal")
	}
	person, err := d.Store.OIDCPerson(p)
	if err != nil {
		return nil, err
	}
	return &enroll.Requester{Principal: p, Username: person.Username, Email: person.Email, DisplayName: person.Username,
		EmailVerified: person.EmailVerified, Active: true}, nil
}

// Admits reads the person's groups as of their last sign-in.
func (d *Directory) Admits(r *enroll.Requester, access profile.Access) bool {
	person, err := d.Store.OIDCPerson(r.Principal)
	if err != nil {
		return false
	}
	return access.AdmitsOIDC(person.Groups)
}

// Approvers: people of the provider approve nothing here.
func (d *Directory) Approvers(string, []string) []records.Principal { return nil }

// IsAdmin: people of the provider administer nothing here.
func (d *Directory) IsAdmin(*enroll.Requester) bool { return false }
