package chat

import (
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/mattermost"
	"github.com/clientcerts/mattermost-plugin-certs/server/observe"
)

func TestRenewCommandArguments(t *testing.T) {
	env := newChatEnv(t, "")
	assert.Contains(t, env.run("alice", "/cert renew"), "usage: `/cert renew <serial>`")
	assert.Contains(t, env.run("alice", "/cert renew a b"), "usage: `/cert renew <serial>`")
	assert.Contains(t, env.run("alice", "/cert renew zz!"), "`zz!` is not a certificate serial; `/cert list` shows your serials.")
	assert.Contains(t, env.run("alice", "/cert renew 1234abcd"), "No certificate with this serial belongs to you")
}

// The reply says what becomes of the certificate a renewal replaces, as
// its profile says.
func TestRenewReplySaysWhatBecomesOfTheReplacedCertificate(t *testing.T) {
	env := newChatEnv(t, `{"profiles": [
	  {"name": "vpn", "limits": {"active": 1}, "renewal": {"revoke_replaced": true}},
	  {"name": "wifi", "limits": {"active": 1}},
	  {"name": "open"}
	]}`)
	for profileName, wants := range map[string][]string{
		"vpn": {"[Get my renewed certificate](https://chat.example.com/plugins/certs/issue?token=", "(profile `vpn`); the link works once, until ",
			", which is revoked as soon as the new one is issued."},
		"wifi": {", which stays valid beside it for ", " days (time to install the new one), then is revoked."},
		"open": {", which stays valid until it expires or you revoke it."},
	} {
		c := env.issue("alice", profileName)
		reply := env.run("alice", "/cert renew "+c.Serial)
		assert.Contains(t, reply, "It replaces `"+c.Serial+"`", profileName)
		for _, want := range wants {
			assert.Contains(t, reply, want, profileName)
		}
	}
	assert.Contains(t, env.run("bob", "/cert renew "+env.issue("alice", "open").Serial), "No certificate with this serial belongs to you")

	// The Renew button of a reminder, for the owner only.
	c := env.issue("alice", "open")
	assert.Contains(t, env.click("alice", mattermost.ActionRenew, map[string]any{"serial": c.Serial}).EphemeralText, "[Get my renewed certificate](")
	assert.Contains(t, env.click("bob", mattermost.ActionRenew, map[string]any{"serial": c.Serial}).EphemeralText, "No certificate with this serial belongs to you")
	// The web app opens its modal on the renewal, for the owner only.
	require.Len(t, env.api.events, 1)
	assert.Equal(t, mattermost.EventOpenEnroll, env.api.events[0].Event)
	assert.Equal(t, map[string]any{"tab": "enroll", "renews": c.Serial}, env.api.events[0].Data)
	assert.Equal(t, userID("alice"), env.api.events[0].UserID)
}

func TestRenewalsAreAudited(t *testing.T) {
	env := newChatEnv(t, "")
	c := env.issue("alice", "")
	env.run("alice", "/cert renew "+c.Serial)
	env.run("bob", "/cert renew "+c.Serial)
	require.Len(t, env.api.audits, 2)
	assert.Equal(t, observe.AuditRenewCertificate, env.api.audits[0].EventName)
	assert.Equal(t, model.AuditStatusSuccess, env.api.audits[0].Status)
	assert.Equal(t, model.AuditStatusFail, env.api.audits[1].Status)
}
