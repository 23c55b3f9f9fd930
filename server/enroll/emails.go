package enroll

import (
	"slices"
	"strings"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// emailPageSize is how many certificates one listing of the email check
// reads at a time.
const emailPageSize = 200

// ReconcileEmails finds the valid certificates that name an email their
// owner no longer has (the account's email changed since they were
// issued): each is marked, so the admins see it in their listing, and its
// owner is asked once to renew it. A certificate whose owner has the email
// again is unmarked. It returns how many it marked. A job's duty, daily.
func (c *Core) ReconcileEmails() int {
	filter := records.CertificateFilter{State: string(records.CertIssued), Limit: emailPageSize}
	owners := map[records.Principal]*Requester{}
	marked := 0
	for {
		page, err := c.store.SearchCertificates(filter, c.now())
		if err != nil {
			c.log.LogError("Could not list certificates to compare their emails", "error", err.Error())
			return marked
		}
		for _, cert := range page.Certificates {
			if len(cert.Emails) == 0 {
				continue
			}
			owner, seen := owners[cert.Owner]
			if !seen {
				if owner, err = c.lookup(cert.Owner); err != nil || !owner.Active {
					owner = nil
				}
				owners[cert.Owner] = owner
			}
			if owner == nil {
				continue // the deactivation duty looks after those
			}
			if c.markEmailChange(owner, cert) {
				marked++
			}
		}
		if page.Next == "" {
			break
		}
		filter.After = page.Next
	}
	if marked > 0 {
		c.log.LogInfo("Certificates name an email their owner no longer has", "count", marked)
	}
	return marked
}

// markEmailChange marks cert when it no longer names its owner's email,
// and unmarks it when it does again; the owner hears of a mark once.
func (c *Core) markEmailChange(owner *Requester, cert *records.Certificate) bool {
	changed := !slices.ContainsFunc(cert.Emails, func(e string) bool { return strings.EqualFold(e, owner.Email) })
	if changed == (cert.EmailChangedAt != nil) {
		return false
	}
	now := c.now()
	first := false
	updated, err := c.store.UpdateCertificate(cert.Serial, func(rec *records.Certificate) error {
		switch {
		case changed && rec.EmailChangedAt == nil:
			rec.EmailChangedAt, first = &now, true
		case !changed:
			rec.EmailChangedAt, first = nil, false
		}
		return nil
	})
	if err != nil {
		c.log.LogError("Could not mark a certificate whose owner's email changed", "serial", cert.Serial, "error", err.Error())
		return false
	}
	if first {
		c.notifierOf(owner.Principal).EmailChanged(owner, updated)
	}
	return first
}
