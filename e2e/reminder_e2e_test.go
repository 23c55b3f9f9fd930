//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/require"
)

// TestExpiryReminderRenewThroughTheServer: a certificate that expires
// within a day gets its reminder from the background job, and its Renew
// button, pressed through Mattermost's post-action API, gives its owner a
// new link that issues a certificate.
func TestExpiryReminderRenewThroughTheServer(t *testing.T) {
	requireBed(t)
	catalog := `{"profiles": [{"name": "default"}, {"name": "daily", "validity_days": 1}]}`
	require.NoError(t, withPluginSettings(t, func(s map[string]any) {
		s["connectorsandprofiles"] = catalog
		s["reminderdays"] = "1"
	}))
	quinn := newTestUser(t, "quinn")
	waitForProfiles(t, quinn, "default", "daily")
	token, _ := quinn.linkForProfile(t, "daily")
	file, _ := quinn.redeemJSON(t, token)

	// The job runs every minute, on one node.
	reminder := botDMWithin(t, quinn.Session, 3*time.Minute, func(p *model.Post) bool {
		return strings.Contains(p.Message, file.serial) && strings.Contains(p.Message, "expires")
	})
	quinn.ws.Reset()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	_, err := quinn.Client.DoPostActionWithCookie(ctx, reminder.Id, "renew", "", "")
	require.NoError(t, err)
	reply, err := quinn.ws.WaitForEphemeral(replyTimeout, func(p *model.Post) bool { return issueLinkPattern.MatchString(p.Message) })
	require.NoError(t, err, "the Renew button answers with a link")
	renewed, _ := quinn.redeemJSON(t, tokenOf(t, issueLinkPattern.FindString(reply.Message)))
	require.NotEqual(t, file.serial, renewed.serial)
}
