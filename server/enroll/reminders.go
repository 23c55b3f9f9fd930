package enroll

import (
	"math"
	"slices"
	"time"
)

// remindersPerRun bounds one run of the reminder duty; the rest wait for
// the next run, a minute later.
const remindersPerRun = 500

// SendReminders sends the expiry reminders that are due: for each
// threshold (days before expiry), the valid certificates that have entered
// it and not yet the next one down get its reminder, once per certificate
// and threshold, on whatever node runs it. It returns how many it sent.
func (c *Core) SendReminders(thresholds []int) int {
	days := slices.Clone(thresholds)
	slices.Sort(days)
	now := c.now()
	sent := 0
	lower := 0
	for _, d := range days {
		from := now.Add(time.Duration(lower) * 24 * time.Hour)
		to := now.Add(time.Duration(d) * 24 * time.Hour)
		lower = d
		due, err := c.store.DueReminders(d, from, to, remindersPerRun)
		if err != nil {
			c.log.LogError("Could not list the certificates due for a reminder", "days", d, "error", err.Error())
			continue
		}
		for _, cert := range due {
			claimed, err := c.store.ClaimReminder(cert.Serial, d)
			if err != nil || !claimed {
				continue
			}
			owner, err := c.lookup(cert.Owner)
			if err != nil || !owner.Active {
				continue
			}
			left := int(math.Ceil(cert.NotAfter.Sub(now).Hours() / 24))
			c.notifierOf(owner.Principal).ExpiryReminder(owner, cert, left)
			sent++
		}
	}
	if sent > 0 {
		c.log.LogInfo("Sent expiry reminders", "count", sent)
	}
	return sent
}
