//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/e2e/testbed"
)

var (
	requestIDInReply = regexp.MustCompile("`(r-[a-z0-9]{10})`")
	pickupLink       = regexp.MustCompile(`\[Collect my certificate\]\((\S+/plugins/certs/issue\?token=[A-Za-z0-9_.-]+)\)`)
)

// botDM waits for a post from the bot in the DM between session and the bot
// that matches.
func botDM(t *testing.T, session *testbed.Session, match func(*model.Post) bool) *model.Post {
	t.Helper()
	return botDMWithin(t, session, replyTimeout, match)
}

// botDMWithin is botDM waiting up to timeout (the background job's posts
// come at its next run).
func botDMWithin(t *testing.T, session *testbed.Session, timeout time.Duration, match func(*model.Post) bool) *model.Post {
	t.Helper()
	requireBot(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout+time.Minute)
	defer cancel()
	dm, _, err := session.Client.CreateDirectChannel(ctx, session.User.Id, bed.botID)
	require.NoError(t, err)
	var found *model.Post
	require.Eventually(t, func() bool {
		posts, _, err := session.Client.GetPostsForChannel(ctx, dm.Id, 0, 50, "", false, false)
		if err != nil {
			return false
		}
		for _, id := range posts.Order {
			if post := posts.Posts[id]; post.UserId == bed.botID && match(post) {
				found = post
				return true
			}
		}
		return false
	}, timeout, 250*time.Millisecond, "no matching DM from the bot to %s", session.User.Username)
	return found
}

// TestApprovalThroughTheServer: a request for a profile that needs approval
// reaches the approver as a message with buttons; the click goes through
// Mattermost's post-action API; the requester's DM then carries a pickup
// link that yields a working PKCS#12. A click by someone who is no longer an
// approver is refused, and Deny asks for a reason in a real dialog.
func TestApprovalThroughTheServer(t *testing.T) {
	requireBed(t)
	frank := newTestUser(t, "frank")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := bed.admin.Client.UpdateUserRoles(ctx, frank.User.Id, model.SystemUserRoleId+" "+model.SystemAdminRoleId)
	require.NoError(t, err)

	catalog := `{"profiles": [{"name": "default"}, {"name": "secure", "requires_approval": true}]}`
	require.NoError(t, withPluginSettings(t, func(s map[string]any) { s["connectorsandprofiles"] = catalog }))
	requester := newTestUser(t, "gina")
	waitForProfiles(t, requester, "default", "secure")

	reply := requester.runCommand(t, "/cert download secure")
	require.Contains(t, reply.Message, "need an approver")
	m := requestIDInReply.FindStringSubmatch(reply.Message)
	require.Len(t, m, 2, reply.Message)
	requestID := m[1]

	// Both system admins are asked.
	adminPost := botDM(t, bed.admin, func(p *model.Post) bool { return strings.Contains(p.Message, requestID) })
	frankPost := botDM(t, frank.Session, func(p *model.Post) bool { return strings.Contains(p.Message, requestID) })

	// Frank stops being an admin: his click is refused by the plugin.
	_, err = bed.admin.Client.UpdateUserRoles(ctx, frank.User.Id, model.SystemUserRoleId)
	require.NoError(t, err)
	_, err = frank.Client.DoPostActionWithCookie(ctx, frankPost.Id, "approve", "", "")
	require.NoError(t, err)
	state := requestState(t, requester, requestID)
	require.Equal(t, "pending", state, "a non-approver's click must not approve")

	_, err = bed.admin.Client.DoPostActionWithCookie(ctx, adminPost.Id, "approve", "", "")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return requestState(t, requester, requestID) == "approved" }, replyTimeout, 200*time.Millisecond)

	updated, _, err := bed.admin.Client.GetPost(ctx, adminPost.Id, "")
	require.NoError(t, err)
	require.Contains(t, updated.Message, "approved by @"+bed.admin.User.Username)

	notice := botDM(t, requester.Session, func(p *model.Post) bool { return pickupLink.MatchString(p.Message) })
	link := pickupLink.FindStringSubmatch(notice.Message)[1]
	_, leaf := requester.redeemJSON(t, tokenOf(t, link))
	require.Equal(t, requester.name(), leaf.Subject.CommonName)
	require.Equal(t, "issued", requestState(t, requester, requestID))

	// A second request, denied with a reason through the dialog.
	reply = requester.runCommand(t, "/cert download secure")
	second := requestIDInReply.FindStringSubmatch(reply.Message)[1]
	denyPost := botDM(t, bed.admin, func(p *model.Post) bool { return strings.Contains(p.Message, second) })
	_, err = bed.admin.Client.DoPostActionWithCookie(ctx, denyPost.Id, "deny", "", "")
	require.NoError(t, err)
	_, _, err = bed.admin.Client.SubmitInteractiveDialog(ctx, model.SubmitDialogRequest{
		URL: bed.mm.URL + "/plugins/" + pluginID + "/actions/deny/submit", CallbackId: second, State: second,
		UserId: bed.admin.User.Id, ChannelId: denyPost.ChannelId, TeamId: bed.team.Id,
		Submission: map[string]any{"reason": "use the default profile"},
	})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return requestState(t, requester, second) == "denied" }, replyTimeout, 200*time.Millisecond)
	botDM(t, requester.Session, func(p *model.Post) bool {
		return strings.Contains(p.Message, second) && strings.Contains(p.Message, "use the default profile")
	})
}

func requestState(t *testing.T, u *testUser, id string) string {
	t.Helper()
	reply := pluginRequest(t, http.MethodGet, "/api/v1/requests", nil, u.Token(), "application/json")
	require.Equal(t, http.StatusOK, reply.status, reply.String())
	var requests []struct {
		ID    string `json:"id"`
		State string `json:"state"`
	}
	require.NoError(t, json.Unmarshal([]byte(reply.body), &requests))
	for _, r := range requests {
		if r.ID == id {
			return r.State
		}
	}
	t.Fatalf("request %s is not listed for %s", id, u.name())
	return ""
}
