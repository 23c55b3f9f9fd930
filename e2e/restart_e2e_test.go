//go:build e2e

package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/e2e/testbed"
)

// restartMattermost stops the server and starts it again on the same
// port, database and files, and waits until the plugin answers again. The
// users' sessions live in the database; their WebSockets are opened anew.
func restartMattermost(t *testing.T, users ...*testUser) {
	t.Helper()
	for _, u := range users {
		u.ws.Close()
	}
	require.NoError(t, bed.mm.Stop())
	opts := bed.mmOptions
	opts.Port = bed.mm.Port
	mm, err := testbed.StartMattermost(opts)
	require.NoError(t, err, "Mattermost must start again")
	bed.mm = mm
	require.Eventually(t, func() bool {
		return pluginRequest(t, http.MethodGet, "/api/v1/profiles", nil, bed.alice.Token(), "").status == http.StatusOK
	}, 2*time.Minute, 500*time.Millisecond, "the plugin must be active again after the restart")
	for _, u := range users {
		ws, err := bed.mm.ConnectWebSocket(u.Token())
		require.NoError(t, err)
		u.ws = ws
	}
}

// TestInventorySurvivesARestart: certificates issued and revoked, and a
// request that waits for its approver, are all there after the server
// restarts; the request is then approved and collected.
func TestInventorySurvivesARestart(t *testing.T) {
	requireBed(t)
	catalog := `{"profiles": [{"name": "default"}, {"name": "secure", "requires_approval": true}]}`
	require.NoError(t, withPluginSettings(t, func(s map[string]any) { s["connectorsandprofiles"] = catalog }))
	henry := newTestUser(t, "henry")
	waitForProfiles(t, henry, "default", "secure")

	kept, _ := henry.issueJSON(t)
	revoked, _ := henry.issueJSON(t)
	reply := pluginRequest(t, http.MethodPost, "/api/v1/certificates/"+revoked.serial+"/revoke", nil, henry.Token(), "application/json")
	require.Equal(t, http.StatusOK, reply.status, reply.String())
	asked := henry.runCommand(t, "/cert download secure")
	m := requestIDInReply.FindStringSubmatch(asked.Message)
	require.Len(t, m, 2, asked.Message)
	requestID := m[1]

	restartMattermost(t, bed.alice, bed.bob, henry)

	list := henry.runCommand(t, "/cert list")
	require.Contains(t, tableRowWith(list.Message, kept.serial), "issued", list.Message)
	require.Contains(t, tableRowWith(list.Message, revoked.serial), "revoked", list.Message)
	require.Equal(t, "pending", requestState(t, henry, requestID))

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	approval := botDM(t, bed.admin, func(p *model.Post) bool { return strings.Contains(p.Message, requestID) })
	_, err := bed.admin.Client.DoPostActionWithCookie(ctx, approval.Id, "approve", "", "")
	require.NoError(t, err)
	notice := botDM(t, henry.Session, func(p *model.Post) bool { return pickupLink.MatchString(p.Message) })
	file, _ := henry.redeemJSON(t, tokenOf(t, pickupLink.FindStringSubmatch(notice.Message)[1]))
	require.Equal(t, "issued", requestState(t, henry, requestID))
	list = henry.runCommand(t, "/cert list")
	require.Contains(t, tableRowWith(list.Message, file.serial), "issued", list.Message)
}
