package mattermost

import (
	"fmt"
	"strings"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
)

// RevokedWords says in chat what a revocation did, and never more: a
// certificate is "now revoked" only where its CA knows; otherwise it is
// revoked in this plugin's records, with why and what to do.
func RevokedWords(revoked *enroll.Revoked, owner string) string {
	c := revoked.Record
	name := fmt.Sprintf("Certificate `%s` (%s)", c.Serial, MarkdownCell(c.Subject))
	if owner != "" {
		name = fmt.Sprintf("Certificate `%s` of %s", c.Serial, owner)
	}
	var b strings.Builder
	switch revoked.Reach() {
	case enroll.ReachCA:
		fmt.Fprintf(&b, "%s is now revoked (%s).", name, c.RevocationReason)
	default:
		fmt.Fprintf(&b, "%s is revoked in this plugin's records (%s). %s", name, c.RevocationReason, ReachCaveat(revoked))
	}
	if len(revoked.Siblings) > 0 {
		serials := make([]string, 0, len(revoked.Siblings))
		for _, s := range revoked.Siblings {
			serials = append(serials, "`"+s.Serial+"`")
		}
		fmt.Fprintf(&b, " Its key is compromised, so the other valid certificates with it are revoked too: %s. That key is never certified again.",
			strings.Join(serials, ", "))
	}
	return b.String()
}

// ReachCaveat says why a revocation stayed in our records, and what comes
// next.
func ReachCaveat(revoked *enroll.Revoked) string {
	switch revoked.Reach() {
	case enroll.ReachPending:
		return "Its CA could not be reached just now: it will be told as soon as it answers (`/cert list` says so meanwhile)."
	case enroll.ReachUnmanaged:
		return "It was issued by a CA this plugin does not manage: ask that CA's administrator to revoke it there too."
	case enroll.ReachRecordsOnly:
		return "It was registered by its holder rather than issued here, so only this plugin's record changed: an administrator must revoke it at its CA too."
	}
	return ""
}
