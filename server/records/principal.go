package records

import "strings"

// Principal identifies who owns a certificate. Mattermost users are the first
// kind; people who enroll on the plugin's own pages (OIDC, local accounts)
// are others, so owners are never bare Mattermost user ids.
type Principal string

const mattermostPrefix = "mm:"

// MattermostUser is the principal of a Mattermost account.
func MattermostUser(userID string) Principal {
	return Principal(mattermostPrefix + userID)
}

// MattermostUserID returns the Mattermost user id of p, or "" if p is not a
// Mattermost account.
func (p Principal) MattermostUserID() string {
	id, ok := strings.CutPrefix(string(p), mattermostPrefix)
	if !ok {
		return ""
	}
	return id
}
