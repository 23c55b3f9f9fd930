package chat

import (
	"context"
	"fmt"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pkg/errors"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/observe"
)

// Renewal in the chat: `/cert renew <serial>`, and the Renew button of a
// reminder (actions.go).

func (d *Door) commandRenew(_ context.Context, args *model.CommandArgs, params []string) (string, error) {
	if len(params) != 1 {
		return "", errors.New("usage: `/cert renew <serial>`; `/cert list` shows your serials.")
	}
	serial, err := ownSerial(params[0])
	if err != nil {
		return "", err
	}
	s, requester, err := d.commandRequester(args.UserId)
	if err != nil {
		return "", err
	}
	reply, _ := d.renewReply(s, requester, serial)
	return reply, nil
}

// renewReply starts a renewal and says what to do next; the renewal is
// nil where none started.
func (d *Door) renewReply(s *app.Snapshot, owner *enroll.Requester, serial string) (string, *enroll.Start) {
	renewal, err := s.Core.StartEnrollment(owner, enroll.StartRequest{Renews: serial})
	observe.AuditRenewal(d.API, owner, serial, renewal, err)
	if e := enroll.AsError(err); e != nil {
		return chatError(e).Error(), nil
	}
	if err != nil {
		d.API.LogError("Could not start a renewal", "principal", string(owner.Principal), "serial", serial, "error", err.Error())
		return "The renewal could not be started; run `/cert download` for a new certificate.", nil
	}
	replaces := fmt.Sprintf(" It replaces `%s`", serial)
	prof := renewal.Profile
	switch {
	case prof.Renewal.RevokeReplaced:
		replaces += ", which is revoked as soon as the new one is issued."
	case prof.Limits.Active > 0:
		replaces += fmt.Sprintf(", which stays valid beside it for %d days (time to install the new one), then is revoked.",
			int(prof.Renewal.Overlap().Hours()/24))
	default:
		replaces += ", which stays valid until it expires or you revoke it."
	}
	if renewal.Request != nil {
		return fmt.Sprintf("Certificates of profile `%s` need an approver: your request `%s` is waiting.%s", renewal.Request.Profile, renewal.Request.ID, replaces), renewal
	}
	u, err := d.site().LinkURL(renewal.Link)
	if err != nil {
		return chatError(enroll.AsError(err)).Error(), nil
	}
	until := renewal.Link.ExpiresAt.UTC().Format("15:04 MST")
	if renewal.Link.Purpose == linktoken.PurposeCSR {
		return fmt.Sprintf("[Upload a new request](%s) for your renewed `%s` certificate (the same key may be used again); the link works once, until %s.%s",
			u, renewal.Link.Profile, until, replaces), renewal
	}
	return fmt.Sprintf("[Get my renewed certificate](%s) (profile `%s`); the link works once, until %s.%s", u, renewal.Link.Profile, until, replaces), renewal
}
