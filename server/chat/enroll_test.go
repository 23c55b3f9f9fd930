package chat

import (
	"net/http"
	"strings"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/mattermost"
)

// /cert enroll, for clients without the webapp: a dialog asks what
// /cert download and /cert csr take as words, and its answer gets the link.
func TestEnrollOpensADialogWhoseAnswerGetsTheLink(t *testing.T) {
	env := newChatEnv(t, approvalCatalog)
	resp, appErr := env.door.Execute(&model.CommandArgs{Command: "/cert enroll", UserId: userID("alice"), ChannelId: "channel1", TriggerId: "trigger-enroll"})
	require.Nil(t, appErr)
	require.NotNil(t, resp)
	assert.Empty(t, env.api.ephemerals, "the dialog is the answer")
	require.Len(t, env.api.dialogs, 1)
	dialog := env.api.dialogs[0]
	assert.Equal(t, "trigger-enroll", dialog.TriggerId)
	assert.Equal(t, testSiteURL+"/plugins/certs"+mattermost.DialogEnrollSubmit, dialog.URL)
	names := []string{}
	for _, e := range dialog.Dialog.Elements {
		names = append(names, e.Name)
	}
	assert.Equal(t, []string{"profile", "key", "email"}, names)
	var offered []string
	for _, o := range dialog.Dialog.Elements[0].Options {
		offered = append(offered, o.Value)
	}
	assert.Equal(t, []string{"vpn", "secure"}, offered, "the profiles alice may use, in the catalog's order")

	submit := func(user string, answer map[string]any) string {
		t.Helper()
		before := len(env.api.ephemerals)
		// The body names someone else: the server's user header decides.
		w := env.serve(http.MethodPost, mattermost.DialogEnrollSubmit,
			model.SubmitDialogRequest{UserId: userID("carol"), ChannelId: "channel2", Submission: answer}, user)
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		require.Len(t, env.api.ephemerals, before+1)
		post := env.api.ephemerals[before]
		assert.Equal(t, "channel2", post.ChannelId)
		assert.Equal(t, userID(user), post.GetProp("to"))
		return post.Message
	}
	assert.Contains(t, submit("alice", map[string]any{"profile": "vpn", "key": "server"}), testSiteURL+"/plugins/certs/issue?token=")
	assert.Contains(t, submit("alice", map[string]any{"profile": "vpn", "key": "csr"}), testSiteURL+"/plugins/certs/csr?token=")
	refused := submit("alice", map[string]any{"profile": "nonexistent", "key": "server"})
	assert.True(t, strings.HasPrefix(refused, "⚠️"), refused)

	w := env.serve(http.MethodPost, mattermost.DialogEnrollSubmit, model.SubmitDialogRequest{Cancelled: true}, "alice")
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, http.StatusUnauthorized, env.serve(http.MethodPost, mattermost.DialogEnrollSubmit, model.SubmitDialogRequest{}, "").Code)
}
