package chat

import (
	"net/http"
	"regexp"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/mattermost"
)

// approvalCatalog: "vpn" is open, "secure" needs a system admin's approval.
const approvalCatalog = `{"profiles": [{"name": "vpn"}, {"name": "secure", "requires_approval": true}]}`

var requestIDPattern = regexp.MustCompile("`(r-[a-z0-9]{10})`")

func TestApproveButtonAndCommand(t *testing.T) {
	env := newChatEnv(t, approvalCatalog)
	reply := env.run("alice", "/cert download secure")
	assert.Contains(t, reply, "`secure` certificates need an approver. Your request `")
	m := requestIDPattern.FindStringSubmatch(reply)
	require.Len(t, m, 2, reply)
	id := m[1]
	assert.Contains(t, reply, "`/cert cancel "+id+"` withdraws it.")

	button := map[string]any{"request_id": id}
	assert.Equal(t, "You are not an approver for this kind of certificate.", env.click("bob", mattermost.ActionApprove, button).EphemeralText)
	assert.Contains(t, env.run("bob", "/cert approve "+id), "not an approver")
	assert.Equal(t, "Request approved.", env.click("carol", mattermost.ActionApprove, button).EphemeralText)
	assert.Equal(t, "This request is already approved.", env.click("carol", mattermost.ActionApprove, button).EphemeralText)
	assert.Equal(t, "This request is already approved.", env.run("carol", "/cert approve "+id))
	assert.Equal(t, "No such certificate request.", env.click("carol", mattermost.ActionApprove, map[string]any{"request_id": "r-0000000000"}).EphemeralText)
	assert.Contains(t, env.run("carol", "/cert approve"), "usage: `/cert approve <request>`.")

	list := env.run("alice", "/cert list")
	assert.Contains(t, list, "#### Your open requests")
	assert.Contains(t, list, "| `"+id+"` | secure | ")
	assert.Contains(t, list, "| approved: `/cert pickup "+id+"` |")
	assert.Regexp(t, `^\[Collect my certificate\]\(https://chat\.example\.com/plugins/certs/issue\?token=[^)]+\) \(request `+"`"+id+"`"+`\)\. The link works once and expires at `,
		env.run("alice", "/cert pickup "+id))
	assert.Contains(t, env.run("bob", "/cert pickup "+id), "no request with this id is yours; `/cert list` shows your open requests.")
	assert.Contains(t, env.run("alice", "/cert pickup"), "usage: `/cert pickup <request>`")
}

func TestDenyButtonOpensADialog(t *testing.T) {
	env := newChatEnv(t, approvalCatalog)
	id := env.request("alice", "secure").ID
	button := map[string]any{"request_id": id}

	assert.Equal(t, "You are not an approver for this kind of certificate.", env.click("bob", mattermost.ActionDeny, button).EphemeralText)
	assert.Empty(t, env.api.dialogs, "no dialog for who may not decide")

	assert.Empty(t, env.click("carol", mattermost.ActionDeny, button).EphemeralText)
	require.Len(t, env.api.dialogs, 1)
	dialog := env.api.dialogs[0]
	assert.Equal(t, "trigger-1", dialog.TriggerId)
	assert.Equal(t, testSiteURL+"/plugins/certs/actions/deny/submit", dialog.URL)
	assert.Equal(t, id, dialog.Dialog.State)
	assert.Equal(t, "Deny certificate request", dialog.Dialog.Title)
	require.Len(t, dialog.Dialog.Elements, 1)
	assert.Equal(t, "reason", dialog.Dialog.Elements[0].Name)

	env.api.dialogErr = model.NewAppError("OpenInteractiveDialog", "expired", nil, "", http.StatusBadRequest)
	assert.Equal(t, "The dialog could not be opened; use `/cert deny "+id+" <reason>`.", env.click("carol", mattermost.ActionDeny, button).EphemeralText)

	submit := func(user string, req model.SubmitDialogRequest) model.SubmitDialogResponse {
		w := env.serve(http.MethodPost, mattermost.DialogDenySubmit, req, user)
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		return decodeJSON[model.SubmitDialogResponse](t, w.Body.Bytes())
	}
	reason := map[string]any{"reason": "Use the vpn profile instead"}
	assert.Empty(t, submit("carol", model.SubmitDialogRequest{State: id, Cancelled: true}).Error)
	assert.Equal(t, "You are not an approver for this kind of certificate.", submit("bob", model.SubmitDialogRequest{State: id, Submission: reason}).Error)
	assert.Empty(t, submit("carol", model.SubmitDialogRequest{State: id, Submission: reason}).Error)
	assert.Equal(t, "This request is already denied.", submit("carol", model.SubmitDialogRequest{State: id, Submission: reason}).Error)
	assert.Equal(t, "This request is already denied.", env.click("carol", mattermost.ActionApprove, button).EphemeralText)
}

func TestDenyAndCancelCommands(t *testing.T) {
	env := newChatEnv(t, approvalCatalog)
	id := env.request("alice", "secure").ID
	assert.Contains(t, env.run("carol", "/cert deny "+id), "usage: `/cert deny <request> <reason>`: the requester is told the reason.")
	assert.Equal(t, "Request denied.", env.run("carol", "/cert deny "+id+" not this quarter"))
	assert.Contains(t, env.run("carol", "/cert deny "+id+" again"), "This request is already denied.")

	other := env.request("alice", "secure").ID
	assert.Contains(t, env.run("bob", "/cert cancel "+other), "no request with this id is yours")
	assert.Equal(t, "Request `"+other+"` is withdrawn.", env.run("alice", "/cert cancel "+other))
	assert.Contains(t, env.run("alice", "/cert cancel "+other), "this request is cancelled.")
	assert.Contains(t, env.run("alice", "/cert cancel"), "usage: `/cert cancel <request>`")
	assert.NotContains(t, env.run("alice", "/cert list"), other, "closed requests are not listed")
}

// A click while the plugin cannot serve is answered with the reason, to
// the clicker.
func TestButtonsWhileMisconfigured(t *testing.T) {
	env := newChatEnv(t, approvalCatalog)
	env.current.Fail("no CA")
	for _, route := range []string{mattermost.ActionApprove, mattermost.ActionDeny, mattermost.ActionRenew} {
		assert.Contains(t, env.click("carol", route, map[string]any{"request_id": "r-1", "serial": "0a"}).EphemeralText, "no CA", route)
	}
	w := env.serve(http.MethodPost, mattermost.DialogDenySubmit, model.SubmitDialogRequest{State: "r-1"}, "carol")
	assert.Contains(t, decodeJSON[model.SubmitDialogResponse](t, w.Body.Bytes()).Error, "no CA")
}

func TestButtonsNeedASignedInUser(t *testing.T) {
	env := newChatEnv(t, approvalCatalog)
	for _, route := range []string{mattermost.ActionApprove, mattermost.ActionDeny, mattermost.DialogDenySubmit, mattermost.ActionRenew} {
		w := env.serve(http.MethodPost, route, map[string]any{}, "")
		assert.Equal(t, http.StatusUnauthorized, w.Code, route)
		assert.Equal(t, http.StatusMethodNotAllowed, env.serve(http.MethodGet, route, nil, "carol").Code, route)
	}
}
