package config

import "strings"

// OIDCEnabled reports whether the portal signs people in with an OpenID
// Connect provider.
func (c *Configuration) OIDCEnabled() bool { return strings.TrimSpace(c.OIDCIssuer) != "" }

// OIDCScopeList is the extra scopes, one per entry.
func (c *Configuration) OIDCScopeList() []string { return strings.Fields(c.OIDCScopes) }

// OIDCDomainList is the allowed email domains, lower case.
func (c *Configuration) OIDCDomainList() []string {
	var out []string
	for _, d := range strings.Split(c.OIDCAllowedDomains, ",") {
		if d = strings.ToLower(strings.TrimSpace(d)); d != "" {
			out = append(out, d)
		}
	}
	return out
}
