package enroll

import (
	"net/url"
	"strings"

	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
)

// SubjectFor derives the certificate identity from the requester's account,
// shaped by the profile. An email the account has not verified is left out
// where the server requires verification. Every certificate also names the
// account's immutable id, so that a username taken over after a rename is
// told apart.
func (c *Core) SubjectFor(r *Requester, prof *profile.Profile) connector.Subject {
	s := connector.Subject{
		CommonName:         r.Username,
		Organization:       prof.Subject.Organization,
		OrganizationalUnit: prof.Subject.OrganizationalUnit,
	}
	email := c.certifiableEmail(r)
	if prof.Subject.CommonName == "email" && email != "" {
		s.CommonName = email
	}
	if prof.Subject.IncludesEmail() && email != "" {
		s.Emails = []string{email}
	}
	if u := c.IdentityURI(r); u != nil {
		s.URIs = []*url.URL{u}
	}
	return s
}

// certifiableEmail is the requester's email if a certificate may carry it.
func (c *Core) certifiableEmail(r *Requester) string {
	if r.Email == "" || (c.RequireVerifiedEmail && !r.EmailVerified) {
		return ""
	}
	return r.Email
}

// The identity URI of an account: mattermost://<site host>/users/<user id>.
const (
	identityScheme = "mattermost"
	identityPath   = "/users/"
)

// IdentityURI is the URI naming the requester's account.
func (c *Core) IdentityURI(r *Requester) *url.URL {
	if c.IdentityHost == "" || r.ID == "" {
		return nil
	}
	return &url.URL{Scheme: identityScheme, Host: c.IdentityHost, Path: identityPath + r.ID}
}

// AccountOf is the account id the first identity URI among uris names
// (see IdentityURI), or "".
func AccountOf(uris []*url.URL) string {
	for _, u := range uris {
		if id, ok := strings.CutPrefix(u.Path, identityPath); ok && u.Scheme == identityScheme && id != "" {
			return id
		}
	}
	return ""
}

// FileBase is a name reduced to characters safe in a file name on every OS.
func FileBase(name string) string {
	base := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, name)
	if base == "" {
		base = "certificate"
	}
	return base
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
