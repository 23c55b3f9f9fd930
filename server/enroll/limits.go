package enroll

import (
	"fmt"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// quotaFor is what prof allows one owner, with renews (a serial, or "")
// as the certificate the new one replaces; nil for a profile without
// limits.
func (c *Core) quotaFor(prof *profile.Profile, renews string) *records.Quota {
	limits := prof.Limits
	if limits.Active == 0 && limits.PerDay == 0 && c.PerRequesterPerDay == 0 {
		return nil
	}
	now := c.now()
	return &records.Quota{Profile: prof.Name, Active: limits.Active, PerDay: limits.PerDay, PerDayAll: c.PerRequesterPerDay,
		Since: now.Add(-24 * time.Hour), Renews: renews, OverlapSince: now.Add(-prof.Renewal.Overlap())}
}

// checkLimits refuses early a new certificate an owner may not have: as
// many valid ones of the profile as it allows, or as many issued in a day.
// It is a courtesy, before a link is handed out or a key made; the store
// decides again, atomically, when the certificate is recorded.
func (c *Core) checkLimits(r *Requester, prof *profile.Profile, renews string) error {
	quota := c.quotaFor(prof, renews)
	if quota == nil {
		return nil
	}
	counts, err := c.store.CountOwned(r.Principal, *quota, c.now())
	if err != nil {
		return err
	}
	if quota.Allows(counts) {
		return nil
	}
	return overQuotaError(&records.ErrOverQuota{Quota: *quota, Counts: counts})
}

// overQuotaError tells the owner which limit they reached and what to do.
func overQuotaError(e *records.ErrOverQuota) error {
	if e.Quota.Active > 0 && e.Counts.Active >= e.Quota.Active && e.Quota.Renews != "" {
		return &Error{Code: CodeForbidden,
			Message: fmt.Sprintf("You hold %d other valid certificates of profile %s besides the one you renew, so a renewal would exceed the most it allows.", e.Counts.Active, e.Quota.Profile),
			Next:    NextFreeASlot,
			Hint: "A certificate you renewed before stays valid beside its renewal for a few days: revoke it (reason superseded) " +
				"to renew again now, or wait until it is revoked.", Err: e}
	}
	if e.Quota.Active > 0 && e.Counts.Active >= e.Quota.Active {
		return &Error{Code: CodeForbidden,
			Message: fmt.Sprintf("You hold %d valid certificates of profile %s, the most it allows.", e.Counts.Active, e.Quota.Profile),
			Next:    NextFreeASlot, Hint: "Revoke one you no longer use (reason superseded), or renew one, then ask again.", Err: e}
	}
	if e.Quota.PerDayAll > 0 && e.Counts.RecentAll >= e.Quota.PerDayAll {
		return &Error{Code: CodeForbidden,
			Message: fmt.Sprintf("You were issued %d certificates in the last 24 hours, the most this server allows one person.", e.Counts.RecentAll),
			Next:    NextTryLater, Hint: "Try again tomorrow, or ask an administrator.", Err: e}
	}
	return &Error{Code: CodeForbidden,
		Message: fmt.Sprintf("You were issued %d certificates of profile %s in the last 24 hours, the most it allows.", e.Counts.Recent, e.Quota.Profile),
		Next:    NextTryLater, Hint: "Try again tomorrow, or ask an administrator.", Err: e}
}
