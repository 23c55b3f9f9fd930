package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
)

// approvalCatalog: "vpn" is open, "secure" needs a system admin's approval,
// "named" needs bob's.
const approvalCatalog = `{"profiles": [
  {"name": "vpn"},
  {"name": "secure", "description": "Privileged access", "requires_approval": true},
  {"name": "named", "requires_approval": true, "approvers": ["bob"]}
]}`

func newApprovalEnv(t *testing.T) *testEnv {
	t.Helper()
	return newTestEnvWithCatalog(t, approvalCatalog)
}

var requestIDPattern = regexp.MustCompile("`(r-[a-z0-9]{10})`")

// requestVia asks for a certificate of profile as username and returns the
// request id from the reply.
func (env *testEnv) requestVia(username, profileName string) string {
	env.t.Helper()
	reply := env.run(username, "/cert download "+profileName)
	require.Contains(env.t, reply, "need an approver", reply)
	m := requestIDPattern.FindStringSubmatch(reply)
	require.Len(env.t, m, 2, reply)
	return m[1]
}

// approvalPostFor returns the approval message an approver got.
func (env *testEnv) approvalPostFor(approver, requestID string) *model.Post {
	env.t.Helper()
	for _, p := range env.dmsTo(approver) {
		if strings.Contains(p.Message, requestID) {
			return p
		}
	}
	env.t.Fatalf("%s got no approval message for %s", approver, requestID)
	return nil
}

// click presses a button of an approval message as username.
func (env *testEnv) click(username string, post *model.Post, actionID string) model.PostActionIntegrationResponse {
	env.t.Helper()
	attachments := post.Attachments()
	require.Len(env.t, attachments, 1)
	for _, action := range attachments[0].Actions {
		if action.Id != actionID {
			continue
		}
		body, err := json.Marshal(model.PostActionIntegrationRequest{
			UserId: "spoofed", PostId: post.Id, TriggerId: "trigger-" + actionID, Context: action.Integration.Context,
		})
		require.NoError(env.t, err)
		route := strings.TrimPrefix(action.Integration.URL, "/plugins/certs")
		w := env.request(http.MethodPost, route, string(body), username, "Content-Type", "application/json")
		require.Equal(env.t, http.StatusOK, w.Code, w.Body.String())
		return decodeJSON[model.PostActionIntegrationResponse](env.t, w.Body.Bytes())
	}
	env.t.Fatalf("no %s button", actionID)
	return model.PostActionIntegrationResponse{}
}

func (env *testEnv) request_(id string) *records.Request {
	env.t.Helper()
	r, err := env.p.store.GetRequest(id)
	require.NoError(env.t, err)
	return r
}

var pickupPattern = regexp.MustCompile(`\[Collect my certificate\]\((https://chat\.example\.com/plugins/certs/issue\?token=([A-Za-z0-9_.-]+))\)`)

func TestApprovalFlowFromRequestToPickup(t *testing.T) {
	env := newApprovalEnv(t)
	id := env.requestVia("alice", "secure")

	post := env.approvalPostFor("carol", id)
	assert.Contains(t, post.Attachments()[0].Text, "@alice asks for a certificate of profile `secure`")
	assert.Empty(t, env.dmsTo("alice"), "the requester is told once: in the reply")

	// Someone who is not an approver clicks: refused, nothing changes.
	resp := env.click("bob", post, "approve")
	assert.Equal(t, "You are not an approver for this kind of certificate.", resp.EphemeralText)
	assert.Equal(t, post.Message, env.postByID(post.Id).Message)

	resp = env.click("carol", post, "approve")
	assert.Equal(t, "Request approved.", resp.EphemeralText)
	updated := env.postByID(post.Id)
	assert.Contains(t, updated.Message, "approved by @carol")
	assert.Empty(t, updated.Attachments()[0].Actions, "the buttons are gone once decided")

	assert.Equal(t, "This request is already approved.", env.click("carol", post, "approve").EphemeralText)

	dms := env.dmsTo("alice")
	m := pickupPattern.FindStringSubmatch(dms[len(dms)-1].Message)
	require.Len(t, m, 3, dms[len(dms)-1].Message)
	token := m[2]
	assert.Equal(t, http.StatusOK, env.request(http.MethodGet, issuePath(token), "", "").Code)
	env.issueJSON(token)

	assert.Contains(t, env.run("alice", "/cert pickup "+id), "this request is issued")
	assert.Equal(t, http.StatusConflict, env.request(http.MethodPost, "/issue", form(token), "").Code)
}

func TestDenyAsksForAReasonAndTellsTheRequester(t *testing.T) {
	env := newApprovalEnv(t)
	id := env.requestVia("alice", "secure")
	post := env.approvalPostFor("carol", id)

	resp := env.click("carol", post, "deny")
	assert.Empty(t, resp.EphemeralText)
	require.Len(t, env.dialogs, 1)
	dialog := env.dialogs[0]
	assert.Equal(t, "trigger-deny", dialog.TriggerId)
	assert.Equal(t, id, dialog.Dialog.State)
	assert.Equal(t, testSiteURL+"/plugins/certs/actions/deny/submit", dialog.URL)

	submit := func(user, reason string) model.SubmitDialogResponse {
		body, _ := json.Marshal(model.SubmitDialogRequest{State: id, CallbackId: id, Submission: map[string]any{"reason": reason}})
		w := env.request(http.MethodPost, "/actions/deny/submit", string(body), user, "Content-Type", "application/json")
		require.Equal(t, http.StatusOK, w.Code)
		return decodeJSON[model.SubmitDialogResponse](t, w.Body.Bytes())
	}
	assert.Equal(t, "You are not an approver for this kind of certificate.", submit("bob", "nope").Error)
	assert.Empty(t, submit("carol", "Use the vpn profile instead").Error)

	dms := env.dmsTo("alice")
	assert.Contains(t, dms[len(dms)-1].Message, "@carol denied your request `"+id+"` for a certificate of profile `secure`: Use the vpn profile instead")
	assert.Contains(t, env.postByID(post.Id).Message, "denied by @carol: Use the vpn profile instead")
	assert.Equal(t, "This request is already denied.", env.click("carol", post, "approve").EphemeralText)
}

func TestNamedApproversAndCommands(t *testing.T) {
	env := newApprovalEnv(t)
	id := env.requestVia("alice", "named")
	require.Empty(t, env.dmsTo("carol"), "only the named approver is asked")
	env.approvalPostFor("bob", id)

	assert.Contains(t, env.run("carol", "/cert approve "+id), "not an approver", "admins are not approvers when approvers are named")
	assert.Contains(t, env.run("bob", "/cert deny "+id), "usage")
	assert.Equal(t, "Request denied.", env.run("bob", "/cert deny "+id+" not this quarter"))
	assert.Contains(t, env.postByID(env.approvalPostFor("bob", id).Id).Message, "denied by @bob: not this quarter")
	assert.Contains(t, env.run("bob", "/cert approve r-0000000000"), "No such certificate request")
}

func TestCancelAndList(t *testing.T) {
	env := newApprovalEnv(t)
	id := env.requestVia("alice", "secure")
	list := env.run("alice", "/cert list")
	assert.Contains(t, list, "Your open requests")
	assert.Contains(t, list, "| `"+id+"` | secure |")

	assert.Contains(t, env.run("bob", "/cert cancel "+id), "no request with this id is yours")
	assert.Equal(t, "Request `"+id+"` is withdrawn.", env.run("alice", "/cert cancel "+id))
	assert.Contains(t, env.postByID(env.approvalPostFor("carol", id).Id).Message, "withdrawn by the requester")
	assert.Contains(t, env.run("alice", "/cert cancel "+id), "this request is cancelled")
	assert.NotContains(t, env.run("alice", "/cert list"), id)
	assert.Contains(t, env.run("carol", "/cert approve "+id), "already cancelled")
}

func TestOnlyOnePickupPerRequest(t *testing.T) {
	env := newApprovalEnv(t)
	id := env.requestVia("alice", "secure")
	env.run("carol", "/cert approve "+id)
	// Each /cert pickup gives a new link; the core issues on one of them
	// only (server/enroll).
	links := map[string]bool{}
	for range 3 {
		m := pickupPattern.FindStringSubmatch(env.run("alice", "/cert pickup "+id))
		require.Len(t, m, 3)
		links[m[2]] = true
	}
	assert.Len(t, links, 3)
}

func TestApprovalProfilesNeverIssueWithoutARequest(t *testing.T) {
	env := newApprovalEnv(t)
	// A link minted for the open profile...
	vpn := env.tokenFor("alice", "vpn")
	// ...then the admin makes that profile need approval.
	c := env.p.getConfiguration().Clone()
	c.ConnectorsAndProfiles = strings.Replace(approvalCatalog, `{"name": "vpn"}`, `{"name": "vpn", "requires_approval": true}`, 1)
	env.configure(c)
	w := env.request(http.MethodPost, "/issue", form(vpn), "")
	assert.Equal(t, http.StatusForbidden, w.Code)
	assert.Contains(t, w.Body.String(), "now need an approver")

	w = env.request(http.MethodPost, "/api/v1/links", `{"profile": "secure"}`, "alice", "Content-Type", "application/json")
	assert.Equal(t, http.StatusAccepted, w.Code)
	assert.Equal(t, "pending", decodeJSON[map[string]any](t, w.Body.Bytes())["state"])
}

func TestUndecidedRequestsExpire(t *testing.T) {
	env := newApprovalEnv(t)
	stale := env.requestVia("alice", "secure")
	env.advance(6 * 24 * time.Hour)
	fresh := env.requestVia("alice", "secure")
	env.advance(25 * time.Hour)

	env.p.runRequestJob()
	assert.Contains(t, env.postByID(env.approvalPostFor("carol", stale).Id).Message, "expired without a decision")
	assert.NotContains(t, env.postByID(env.approvalPostFor("carol", fresh).Id).Message, "expired")
	dms := env.dmsTo("alice")
	assert.Contains(t, dms[len(dms)-1].Message, "`"+stale+"` expired")
	assert.Contains(t, env.run("carol", "/cert approve "+stale), "already expired")
}

func TestEmailNotificationsWhenEnabled(t *testing.T) {
	env := newApprovalEnv(t)
	var mails []string
	env.api.On("SendMail", "alice@example.com", mock.AnythingOfType("string"), mock.AnythingOfType("string")).
		Run(func(a mock.Arguments) { mails = append(mails, a.String(1)+"\n"+a.String(2)) }).Return(nil)

	env.requestVia("alice", "secure")
	assert.Empty(t, mails, "no email unless the admin enables it")

	c := env.p.getConfiguration().Clone()
	c.EmailNotifications = true
	env.configure(c)
	id := env.requestVia("alice", "secure")
	env.run("carol", "/cert deny "+id+" <b>not</b> now")
	require.Len(t, mails, 1, "the requester learns a request waits from the reply, once")
	assert.Contains(t, mails[0], "Client certificates: Certificate request denied")
	assert.Contains(t, mails[0], "&lt;b&gt;not&lt;/b&gt; now", "the reason is escaped in the HTML body")

	serial := env.issueJSON(env.tokenFor("alice", "vpn")).Serial
	require.Len(t, mails, 2)
	assert.Contains(t, mails[1], "Client certificates: Certificate issued")
	assert.Contains(t, mails[1], serial)
}

func TestApprovalRightsComeFromThePermissionSystem(t *testing.T) {
	env := newApprovalEnv(t)
	// dave's roles name system_admin, but the permission system does not
	// grant him manage_system; erin's custom role grants it.
	env.users["dave"] = &model.User{Id: model.NewId(), Username: "dave", Email: "dave@example.com", Roles: model.SystemUserRoleId + " " + model.SystemAdminRoleId}
	env.users["erin"] = &model.User{Id: model.NewId(), Username: "erin", Email: "erin@example.com", Roles: model.SystemUserRoleId + " it_admins"}
	id := env.requestVia("alice", "secure")
	post := env.approvalPostFor("carol", id)

	assert.Equal(t, "You are not an approver for this kind of certificate.", env.click("dave", post, "approve").EphemeralText)
	assert.Equal(t, records.RequestPending, env.request_(id).State)
	assert.Contains(t, env.run("dave", "/cert admin list"), "is for system admins")

	assert.Equal(t, "Request approved.", env.click("erin", post, "approve").EphemeralText)
	assert.Equal(t, string(records.MattermostUser(env.user("erin").Id)), env.request_(id).DecidedBy)
	assert.Contains(t, env.run("erin", "/cert admin requests"), "| `"+id+"` | @alice | secure | approved |")
}

// Whom the plugin asks to approve a profile that names no approvers, and
// tells as an admin, is whoever the permission system grants manage_system,
// through whatever role: erin's custom role it_admins grants it, so she is
// asked, with the buttons; dave's roles name system_admin but the
// permission system does not grant him the permission, and a bot is never
// asked. A system admin's own request goes to the other admins rather than
// being refused.
func TestDefaultApproversAndAdminNoticesGoByPermission(t *testing.T) {
	env := newApprovalEnv(t)
	env.users["dave"] = &model.User{Id: model.NewId(), Username: "dave", Email: "dave@example.com", Roles: model.SystemUserRoleId + " " + model.SystemAdminRoleId}
	env.users["erin"] = &model.User{Id: model.NewId(), Username: "erin", Email: "erin@example.com", Roles: model.SystemUserRoleId + " it_admins"}
	env.users["robot"] = &model.User{Id: model.NewId(), Username: "robot", Roles: model.SystemUserRoleId + " it_admins", IsBot: true}

	id := env.requestVia("alice", "secure")
	for _, approver := range []string{"carol", "erin"} {
		actions := env.approvalPostFor(approver, id).Attachments()[0].Actions
		require.Len(t, actions, 2, approver)
		assert.Equal(t, []string{"approve", "deny"}, []string{actions[0].Id, actions[1].Id}, approver)
	}
	assert.Empty(t, env.dmsTo("dave"), "a role name grants nothing")
	assert.Empty(t, env.dmsTo("robot"))

	// carol is the only account that is an admin through system_admin: her
	// own request goes to erin.
	own := env.requestVia("carol", "secure")
	for _, p := range env.dmsTo("carol") {
		assert.NotContains(t, p.Message, own, "nobody is asked to decide their own request")
	}
	assert.Equal(t, "Request approved.", env.click("erin", env.approvalPostFor("erin", own), "approve").EphemeralText)
	assert.Equal(t, records.RequestApproved, env.request_(own).State)

	env.p.notices.Send("**Client Certificates:** a notice for the admins")
	for name, told := range map[string]bool{"carol": true, "erin": true, "dave": false, "robot": false, "alice": false} {
		got := false
		for _, p := range env.dmsTo(name) {
			got = got || strings.Contains(p.Message, "a notice for the admins")
		}
		assert.Equal(t, told, got, name)
	}
}

// When the server's roles cannot be listed, or none is, the built-in roles
// are asked about: the system admins are still asked, and the log says
// why a custom role's holders may not be.
func TestDefaultApproversWhenTheRolesCannotBeListed(t *testing.T) {
	env := newApprovalEnv(t)
	env.p.admins.RoleNames = func(string) ([]string, error) { return nil, errors.New("relation \"roles\" does not exist") }
	id := env.requestVia("alice", "secure")
	env.approvalPostFor("carol", id)
	assert.Contains(t, strings.Join(env.loggedLines(), "\n"), "Could not list the server's roles")

	env.p.admins.RoleNames = func(string) ([]string, error) { return nil, nil }
	env.approvalPostFor("carol", env.requestVia("bob", "secure"))
}
