package enroll

import (
	"errors"
	"math"
	"slices"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
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
			owner, err := c.dir.Lookup(cert.Owner)
			if err != nil || !owner.Active {
				continue
			}
			left := int(math.Ceil(cert.NotAfter.Sub(now).Hours() / 24))
			c.notify.ExpiryReminder(owner, cert, left)
			sent++
		}
	}
	if sent > 0 {
		c.log.LogInfo("Sent expiry reminders", "count", sent)
	}
	return sent
}

// Renewal is what renewing a certificate gives: a link for a new one, or,
// where the profile needs an approver again, a request.
type Renewal struct {
	Link    *Link
	Request *records.Request
}

// Renew starts the renewal of one of r's certificates, for the same
// profile: a link that makes a new key, or, for a certificate of the
// requester's own key, a link to upload a new CSR (the same key may be
// sent again unless the old certificate was revoked for key compromise).
func (c *Core) Renew(r *Requester, serial string) (*Renewal, error) {
	record, err := c.store.GetCertificate(serial)
	if errors.Is(err, records.ErrNotFound) || (err == nil && record.Owner != r.Principal) {
		return nil, ErrNotOwner
	}
	if err != nil {
		return nil, err
	}
	prof, _, err := c.ProfileFor(r, record.Profile)
	if err != nil {
		return nil, err
	}
	purpose := linktoken.PurposeIssue
	if record.Origin == records.OriginCSR || !prof.ServerKeysAllowed() {
		purpose = linktoken.PurposeCSR
	}
	if purpose == linktoken.PurposeIssue && prof.RequiresApproval {
		req, err := c.RequestCertificate(r, prof)
		if err != nil {
			return nil, err
		}
		return &Renewal{Request: req}, nil
	}
	link, err := c.MintLink(r, prof, purpose)
	if err != nil {
		return nil, err
	}
	return &Renewal{Link: link}, nil
}
