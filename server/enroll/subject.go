package enroll

import (
	"net/url"
	"strings"

	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
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

// The identity URI of a principal names the site and the principal's
// kind and id: mattermost://<site host>/users/<user id> for a Mattermost
// account (relying parties match it, so it never changes), and
// mattermost://<site host>/<kind>/<id> for any other kind, so that no
// account of one kind is ever taken for one of another.
const (
	identityScheme = "mattermost"
	identityPath   = "/users/"
)

// IdentityURI is the URI naming the requester's account; nil when the
// site has no host, or the requester no principal.
func (c *Core) IdentityURI(r *Requester) *url.URL {
	kind, id := r.Principal.Kind(), r.Principal.ID()
	if c.IdentityHost == "" || id == "" {
		return nil
	}
	path := identityPath + id
	switch kind {
	case records.KindMattermost:
	case "users":
		return nil // it would read as a Mattermost account's
	default:
		path = "/" + kind + "/" + id
	}
	return &url.URL{Scheme: identityScheme, Host: c.IdentityHost, Path: path}
}

// PrincipalOf is the principal the first identity URI among uris names
// (see IdentityURI), or "".
func PrincipalOf(uris []*url.URL) records.Principal {
	for _, u := range uris {
		if u.Scheme != identityScheme {
			continue
		}
		kind, id, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
		switch kind {
		case "users":
			kind = records.KindMattermost
		case records.KindMattermost:
			continue // a Mattermost account's URI says /users/
		}
		if p := records.NewPrincipal(kind, id); p.Kind() != "" {
			return p
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
