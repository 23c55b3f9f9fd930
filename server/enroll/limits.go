package enroll

import (
	"fmt"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
)

// checkLimits refuses a new certificate an owner may not have: as many
// valid ones of the profile as it allows, or as many issued in a day.
func (c *Core) checkLimits(r *Requester, prof *profile.Profile) error {
	limits := prof.Limits
	if limits.Active == 0 && limits.PerDay == 0 {
		return nil
	}
	now := c.now()
	counts, err := c.store.CountOwned(r.Principal, prof.Name, now, now.Add(-24*time.Hour))
	if err != nil {
		return err
	}
	if limits.Active > 0 && counts.Active >= limits.Active {
		return &Error{Code: CodeForbidden,
			Message: fmt.Sprintf("You hold %d valid certificates of profile %s, the most it allows.", counts.Active, prof.Name),
			Hint:    "Revoke one you no longer use (/cert revoke <serial> superseded), then ask again."}
	}
	if limits.PerDay > 0 && counts.Recent >= limits.PerDay {
		return &Error{Code: CodeForbidden,
			Message: fmt.Sprintf("You were issued %d certificates of profile %s in the last 24 hours, the most it allows.", counts.Recent, prof.Name),
			Hint:    "Try again tomorrow, or ask an administrator."}
	}
	return nil
}
