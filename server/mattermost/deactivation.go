package mattermost

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

// DeactivationsAPI is what acting on deactivations needs of the server.
type DeactivationsAPI interface {
	GetUsers(options *model.UserGetOptions) ([]*model.User, *model.AppError)
	LogWarn(msg string, keyValuePairs ...any)
	LogError(msg string, keyValuePairs ...any)
}

// Deactivations acts on the certificates of deactivated accounts as the
// settings say, and tells the system admins.
type Deactivations struct {
	API     DeactivationsAPI
	Current *app.Current
	// Marks remembers whom the admins were told of.
	Marks   *store.Store
	Notices *AdminNotices
}

// Handle acts on the certificates of one deactivated user.
func (d *Deactivations) Handle(ctx context.Context, user *model.User) {
	d.HandleRequester(ctx, RequesterOf(user))
}

// HandleRequester acts on the certificates of an account of any kind that
// is gone: a deactivated user, a removed local account.
func (d *Deactivations) HandleRequester(ctx context.Context, owner *enroll.Requester) {
	who := string(owner.Principal)
	if id := owner.Principal.MattermostUserID(); id != "" {
		who = id
	}
	s, err := d.Current.Get()
	if err != nil {
		d.API.LogWarn("An account was deactivated while the plugin cannot act; the daily job will for Mattermost users", "account", who, "error", err.Error())
		return
	}
	action := enroll.DeactivationAction(s.Config.OnDeactivation)
	result, err := s.Core.Deactivate(ctx, owner, action)
	if err != nil {
		d.API.LogError("Could not act on a deactivated account's certificates", "account", who, "error", err.Error())
		return
	}
	if len(result.Revoked) == 0 && len(result.Valid) == 0 {
		return
	}
	if len(result.Revoked) == 0 && len(result.Failed) == 0 {
		// Only certificates left valid, as the settings want: the admins
		// hear of each user once, not every day.
		if first, err := d.Marks.ClaimToken("deactivation-notice:"+who, deactivationNoticeMemory); err != nil || !first {
			return
		}
	}
	d.Notices.Send(deactivationNotice(result))
}

// deactivationNotice is the admins' summary of one deactivation.
func deactivationNotice(d *enroll.Deactivated) string {
	var b strings.Builder
	if d.Owner.Principal.Kind() == records.KindMattermost {
		fmt.Fprintf(&b, "**Client Certificates:** @%s was deactivated.", d.Owner.Username)
	} else {
		fmt.Fprintf(&b, "**Client Certificates:** the %s account %s was removed.", d.Owner.Principal.Kind(), CodeSpan(d.Owner.Username))
	}
	var atCA, recordsOnly []*enroll.Revoked
	for _, revoked := range d.Revoked {
		if revoked.Reach() == enroll.ReachCA {
			atCA = append(atCA, revoked)
		} else {
			recordsOnly = append(recordsOnly, revoked)
		}
	}
	if len(atCA) > 0 {
		fmt.Fprintf(&b, " %d of their certificates are now revoked (affiliation changed):", len(atCA))
		for _, revoked := range atCA {
			fmt.Fprintf(&b, "\n- `%s` %s", revoked.Record.Serial, MarkdownCell(revoked.Record.Subject))
		}
	}
	if len(recordsOnly) > 0 {
		// Never claimed revoked where the CA does not know.
		fmt.Fprintf(&b, "\n\n%d of their certificates are revoked in this plugin's records only:", len(recordsOnly))
		for _, revoked := range recordsOnly {
			fmt.Fprintf(&b, "\n- `%s` %s: %s", revoked.Record.Serial, MarkdownCell(revoked.Record.Subject), ReachCaveat(revoked))
		}
	}
	if len(d.Valid) > 0 {
		fmt.Fprintf(&b, "\n\n%d of their certificates are still valid:", len(d.Valid))
		for _, c := range d.Valid {
			fmt.Fprintf(&b, "\n- `%s` %s, until %s", c.Serial, MarkdownCell(c.Subject), c.NotAfter.UTC().Format("2006-01-02"))
		}
		if len(d.Failed) > 0 {
			b.WriteString("\n\nSome could not be revoked now (the CA could not be reached?); the daily job tries again.")
		}
	}
	return b.String()
}

// deactivationNoticeMemory is how long the admins are not told again of a
// deactivated user whose certificates stay valid.
const deactivationNoticeMemory = 400 * 24 * time.Hour

// Reconcile acts on the deactivated users who still hold valid
// certificates (the job calls it once a day, on one node).
func (d *Deactivations) Reconcile() {
	for page := 0; ; page++ {
		users, appErr := d.API.GetUsers(&model.UserGetOptions{Inactive: true, Page: page, PerPage: 100})
		if appErr != nil {
			d.API.LogError("Could not list deactivated users", "error", appErr.Error())
			return
		}
		for _, u := range users {
			d.Handle(context.Background(), u)
		}
		if len(users) < 100 {
			return
		}
	}
}
