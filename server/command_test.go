package main

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// run executes a /cert command as username and returns the bot's reply.
func (env *testEnv) run(username, command string) string {
	env.t.Helper()
	resp, appErr := env.p.ExecuteCommand(nil, &model.CommandArgs{
		Command:   command,
		UserId:    env.user(username).Id,
		ChannelId: "channel1",
		RootId:    "root1",
	})
	require.Nil(env.t, appErr)
	require.NotNil(env.t, resp)
	post := env.lastEphemeral()
	require.Equal(env.t, testBotID, post.UserId, "replies come from the bot")
	require.Equal(env.t, "channel1", post.ChannelId)
	require.Equal(env.t, "root1", post.RootId, "replies stay in the thread")
	require.Equal(env.t, env.user(username).Id, post.GetProp("to"))
	return post.Message
}

var linkPattern = regexp.MustCompile(`https://chat\.example\.com/plugins/certs/issue\?token=[A-Za-z0-9_.-]+`)

func TestCommandDownloadGivesASingleUseLink(t *testing.T) {
	env := newTestEnv(t)
	reply := env.run("alice", "/cert download")
	link := linkPattern.FindString(reply)
	require.NotEmpty(t, link, reply)
	assert.Contains(t, reply, "expires in 5 minutes")
	assert.Equal(t, 1, strings.Count(reply, link))
	assert.Contains(t, reply, "]("+link+")", "a Markdown link, which Mattermost does not preview")

	u, err := url.Parse(link)
	require.NoError(t, err)
	s, err := env.p.current.Get()
	require.NoError(t, err)
	claims, err := s.Core.Minter.Verify(u.Query().Get("token"), linktoken.PurposeIssue)
	require.NoError(t, err)
	assert.Equal(t, records.MattermostUser(env.user("alice").Id), claims.Principal())
	assert.NotEmpty(t, claims.ID)
	assert.WithinDuration(t, env.now().Add(5*60e9), claims.ExpiresAt.Time, 1e9)

	// Two links are two different tokens.
	other := linkPattern.FindString(env.run("alice", "/cert download"))
	assert.NotEqual(t, link, other)
}

func TestCommandListAndRevoke(t *testing.T) {
	env := newTestEnv(t)
	assert.Contains(t, env.run("alice", "/cert list"), "no certificates yet")

	first := env.issueJSON(env.token("alice")).Serial
	second := env.issueJSON(env.token("alice")).Serial
	list := env.run("alice", "/cert list")
	assert.Contains(t, list, "`"+first+"`")
	assert.Contains(t, list, "`"+second+"`")
	assert.Contains(t, list, "CN=alice")
	assert.Equal(t, 2, strings.Count(list, "| issued |"))

	// Bob cannot see or revoke Alice's certificates.
	assert.NotContains(t, env.run("bob", "/cert list"), first)
	reply := env.run("bob", "/cert revoke "+first)
	assert.Contains(t, reply, "No certificate with this serial belongs to you")
	record, err := env.p.store.GetCertificate(first)
	require.NoError(t, err)
	assert.Equal(t, "issued", string(record.State))

	// Serials are accepted as people paste them.
	colons := strings.ToUpper(strings.Join(regexp.MustCompile(`..?`).FindAllString(first, -1), ":"))
	reply = env.run("alice", "/cert revoke "+colons)
	assert.Contains(t, reply, "is now revoked")
	assert.Contains(t, env.run("alice", "/cert list"), "| revoked |")
	assert.Contains(t, env.run("alice", "/cert revoke "+first), "already revoked")

	record, err = env.p.store.GetCertificate(first)
	require.NoError(t, err)
	assert.Equal(t, "revoked", string(record.State))
	assert.Equal(t, string(records.MattermostUser(env.user("alice").Id)), record.RevokedBy)
	require.NotNil(t, record.RevokedAt)
}

func TestAdminCommandsAreForSystemAdmins(t *testing.T) {
	env := newApprovalEnv(t)
	serial := env.issueJSON(env.tokenFor("alice", "vpn")).Serial
	other := env.issueJSON(env.tokenFor("bob", "vpn")).Serial
	id := env.requestVia("bob", "secure")

	assert.Contains(t, env.run("alice", "/cert admin list"), "for system admins")
	assert.Contains(t, env.run("alice", "/cert admin revoke "+other), "for system admins")

	list := env.run("carol", "/cert admin list")
	assert.Contains(t, list, serial)
	assert.Contains(t, list, other)
	assert.Contains(t, tableRowWith(list, serial), "@alice")
	mine := env.run("carol", "/cert admin list @alice")
	assert.Contains(t, mine, serial)
	assert.NotContains(t, mine, other)
	assert.Contains(t, env.run("carol", "/cert admin list --expiring 400 --state issued --profile vpn"), serial)
	assert.Contains(t, env.run("carol", "/cert admin list --profile secure"), "No certificate matches")

	show := env.run("carol", "/cert admin show "+serial)
	assert.Contains(t, show, "Owner: @alice")
	assert.Contains(t, show, "State: issued")

	assert.Contains(t, env.run("carol", "/cert admin revoke "+serial+" keyCompromise"), "is now revoked (keyCompromise)")
	assert.Contains(t, env.run("carol", "/cert admin revoke "+serial), "already revoked")
	dms := env.dmsTo("alice")
	require.NotEmpty(t, dms)
	assert.Contains(t, dms[len(dms)-1].Message, "@carol revoked your certificate `"+serial+"`")
	assert.Contains(t, env.run("carol", "/cert admin show "+serial), "Revoked:")

	assert.Contains(t, env.run("carol", "/cert admin requests"), id)
	assert.Contains(t, env.run("carol", "/cert admin"), "/cert admin list")
}
