//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/require"
)

// TestEnrollDialogThroughTheServer is the mobile app's way: `/cert enroll`
// opens a dialog on the user's WebSocket (Mattermost checks the trigger the
// command gave), its answer submitted through the dialog API reaches the
// plugin as that user, and the bot replies with a single-use link that
// gives a working PKCS#12.
func TestEnrollDialogThroughTheServer(t *testing.T) {
	requireBot(t)
	u := newTestUser(t, "dialog")
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	u.ws.Reset()
	_, _, err := u.Client.ExecuteCommand(ctx, u.townSquareID, "/cert enroll")
	require.NoError(t, err)
	dialog, err := u.ws.WaitForDialog(replyTimeout)
	require.NoError(t, err)
	require.Equal(t, "Get a certificate", dialog.Dialog.Title)
	require.Equal(t, bed.mm.URL+"/plugins/"+pluginID+"/actions/enroll/submit", dialog.URL)
	var names []string
	for _, e := range dialog.Dialog.Elements {
		names = append(names, e.Name)
	}
	require.Subset(t, names, []string{"profile", "key"})

	_, _, err = u.Client.SubmitInteractiveDialog(ctx, model.SubmitDialogRequest{
		URL: dialog.URL, CallbackId: dialog.Dialog.CallbackId, State: dialog.Dialog.State,
		UserId: u.User.Id, ChannelId: u.townSquareID, TeamId: bed.team.Id,
		Submission: map[string]any{"profile": dialog.Dialog.Elements[0].Default, "key": "server"},
	})
	require.NoError(t, err)
	reply, err := u.ws.WaitForEphemeral(replyTimeout, func(p *model.Post) bool { return strings.Contains(p.Message, "/issue?token=") })
	require.NoError(t, err)
	require.Equal(t, u.townSquareID, reply.ChannelId)
	link := issueLinkPattern.FindString(reply.Message)
	require.NotEmpty(t, link, reply.Message)
	_, leaf := u.redeemJSON(t, tokenOf(t, link))
	require.Equal(t, u.name(), leaf.Subject.CommonName)
}
