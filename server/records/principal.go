package records

import "strings"

// Principal identifies a person to the plugin: "<kind>:<id>", where kind
// says which directory knows them (KindMattermost today; the portal's
// OIDC and local accounts later) and id is their immutable id there.
// Owners, approvers and the actors records name are principals, never bare
// Mattermost user ids.
type Principal string

// KindMattermost is the kind of a Mattermost account's principal.
const KindMattermost = "mm"

// KindOIDC is the kind of the principal of a person an OpenID Connect
// provider signed in.
const KindOIDC = "oidc"

// NewPrincipal is the principal of the account id of a kind.
func NewPrincipal(kind, id string) Principal {
	return Principal(kind + ":" + id)
}

// MattermostUser is the principal of a Mattermost account.
func MattermostUser(userID string) Principal {
	return NewPrincipal(KindMattermost, userID)
}

// OIDCUser is the principal of the subject an OpenID Connect issuer
// vouches for: "oidc:<issuer>#<subject>". The pair is what the standard
// makes stable and unique; an email or username can change hands. An
// issuer URL has no fragment, so the first "#" ends it.
func OIDCUser(issuer, subject string) Principal {
	return NewPrincipal(KindOIDC, issuer+"#"+subject)
}

// Kind is the kind of account p names ("mm", "oidc", ...), "" when p is
// not a principal.
func (p Principal) Kind() string {
	kind, _ := p.split()
	return kind
}

// ID is p's account id within its kind, "" when p is not a principal.
func (p Principal) ID() string {
	_, id := p.split()
	return id
}

func (p Principal) split() (kind, id string) {
	kind, id, ok := strings.Cut(string(p), ":")
	if !ok || kind == "" || id == "" {
		return "", ""
	}
	return kind, id
}

// MattermostUserID returns the Mattermost user id of p, or "" if p is not a
// Mattermost account.
func (p Principal) MattermostUserID() string {
	if p.Kind() != KindMattermost {
		return ""
	}
	return p.ID()
}

// ActorOf reads who a record says acted (approved, decided, revoked,
// registered): a principal; in a record written before actors were
// principals, a bare Mattermost user id, which is read as that account's
// principal; "" for the word a plugin job writes ("renewal",
// "deactivation"), which names no one, and for nobody (the CA).
func ActorOf(stored string) Principal {
	if Principal(stored).Kind() != "" {
		return Principal(stored)
	}
	if isMattermostID(stored) {
		return MattermostUser(stored)
	}
	return ""
}

// isMattermostID reports whether s has the shape of a Mattermost id: 26
// lowercase letters and digits. No word a job writes has it.
func isMattermostID(s string) bool {
	if len(s) != 26 {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}
