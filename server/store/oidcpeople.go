package store

import (
	"encoding/json"
	"time"

	"github.com/pkg/errors"

	"github.com/clientcerts/mattermost-plugin-certs/server/randtoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// OIDCPerson is what the identity provider said of a person at their last
// sign-in to the portal: the names and groups the profiles and their
// certificates use until they sign in again.
type OIDCPerson struct {
	Principal     records.Principal `json:"principal"`
	Username      string            `json:"username"`
	Email         string            `json:"email"`
	EmailVerified bool              `json:"email_verified"`
	Groups        []string          `json:"groups,omitempty"`
	SignedInAt    time.Time         `json:"signed_in_at"`
}

// oidcPersonKey is a person's key: the principal (issuer and subject) is
// hashed, as it may be longer than a key may be.
func oidcPersonKey(p records.Principal) string {
	return "oidc:person:" + randtoken.Hash(string(p))
}

// SaveOIDCPerson keeps what the provider said of a person at a sign-in,
// in place of what it said before (the provider is the source).
func (s *Store) SaveOIDCPerson(p *OIDCPerson) error {
	raw, err := json.Marshal(p)
	if err != nil {
		return errors.Wrap(err, "encode OIDC person")
	}
	_, err = s.kv.Set(oidcPersonKey(p.Principal), raw)
	return errors.Wrap(err, "save OIDC person")
}

// OIDCPerson reads what the provider said of a person at their last
// sign-in; records.ErrNotFound for one who never signed in.
func (s *Store) OIDCPerson(p records.Principal) (*OIDCPerson, error) {
	return getJSON[OIDCPerson](s, oidcPersonKey(p), "OIDC person")
}
