package chat

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

func TestAdminCommandsAreForSystemAdmins(t *testing.T) {
	env := newChatEnv(t, approvalCatalog)
	for _, command := range []string{"/cert admin", "/cert admin list", "/cert admin revoke 0a"} {
		assert.Equal(t, "⚠️ `/cert admin` is for system admins.", env.run("alice", command), command)
	}
	help := env.run("carol", "/cert admin")
	assert.Contains(t, help, "#### Client certificates: administration")
	for _, sub := range []string{"list [@user]", "show <serial>", "revoke <serial> [reason]", "requests"} {
		assert.Contains(t, help, "`/cert admin "+sub, sub)
	}
	unknown := env.run("carol", "/cert admin frob|nicate")
	assert.Contains(t, unknown, "unknown admin command `frob\\|nicate`.")
	assert.Contains(t, unknown, "/cert admin list")
}

func TestAdminListArguments(t *testing.T) {
	env := newChatEnv(t, approvalCatalog)
	alices := env.issue("alice", "vpn")
	bobs := env.issue("bob", "vpn")

	list := env.run("carol", "/cert admin list")
	assert.Contains(t, list, "| Serial | Owner | Subject | Profile | Expires | State |")
	assert.Contains(t, list, "| `"+alices.Serial+"` | @alice | CN=alice | vpn | ")
	mine := env.run("carol", "/cert admin list @alice")
	assert.Contains(t, mine, alices.Serial)
	assert.NotContains(t, mine, bobs.Serial)
	assert.Contains(t, env.run("carol", "/cert admin list --expiring 400 --state issued --profile vpn"), alices.Serial)
	assert.Equal(t, "No certificate matches.", env.run("carol", "/cert admin list --profile secure"))

	assert.Contains(t, env.run("carol", "/cert admin list @nobody"), "no user is called @nobody.")
	assert.Contains(t, env.run("carol", "/cert admin list --expiring"), "`--expiring` needs a value.")
	assert.Contains(t, env.run("carol", "/cert admin list --expiring soon"), "`--expiring` takes a number of days.")
	assert.Contains(t, env.run("carol", "/cert admin list --expiring 4000"), "`--expiring` takes a number of days.")
	assert.Contains(t, env.run("carol", "/cert admin list --state"), "`--state` needs a value.")
	assert.Contains(t, env.run("carol", "/cert admin list --state lost"), "cannot be made")
	assert.Contains(t, env.run("carol", "/cert admin list everything"), "usage: `/cert admin list [@user] [--expiring <days>]")
}

func TestAdminShowRevokeAndRequests(t *testing.T) {
	env := newChatEnv(t, approvalCatalog)
	c := env.issue("alice", "vpn")
	assert.Contains(t, env.run("carol", "/cert admin show"), "usage: `/cert admin show <serial>`")
	assert.Contains(t, env.run("carol", "/cert admin revoke"), "usage: `/cert admin revoke <serial> [reason]`")

	show := env.run("carol", "/cert admin show "+c.Serial)
	assert.Contains(t, show, "#### Certificate `"+c.Serial+"`")
	assert.Contains(t, show, "- Owner: @alice\n- Subject: CN=alice\n- Profile: vpn, CA connector builtin\n")
	assert.Contains(t, show, "- State: issued\n- Key: ecdsa-p256, made by the server\n")
	assert.Contains(t, show, "- SHA-256: `"+c.Fingerprint+"`")

	assert.Contains(t, env.run("carol", "/cert admin revoke "+c.Serial+" keyCompromise"), "is now revoked (keyCompromise)")
	assert.Contains(t, env.run("carol", "/cert admin revoke "+c.Serial), "already revoked")
	assert.Contains(t, env.run("carol", "/cert admin show "+c.Serial), "- Revoked: ")
	assert.Contains(t, env.run("carol", "/cert admin show "+c.Serial), ", keyCompromise, by @carol\n")

	assert.Equal(t, "No request is waiting.", env.run("carol", "/cert admin requests"))
	id := env.request("bob", "secure").ID
	assert.Contains(t, env.run("carol", "/cert admin requests"), "| `"+id+"` | @bob | secure | pending | ")
}

func TestAdminStateWords(t *testing.T) {
	now := time.Now()
	changed := now.Add(-time.Hour)
	valid := &records.Certificate{State: records.CertIssued, NotAfter: now.Add(time.Hour)}
	assert.Equal(t, "issued", adminState(valid, now))
	moved := *valid
	moved.EmailChangedAt = &changed
	assert.Equal(t, "issued, owner's email changed", adminState(&moved, now))
	expired := moved
	expired.NotAfter = now.Add(-time.Minute)
	assert.Equal(t, "expired", adminState(&expired, now), "an expired certificate's email does not matter")
	pending := &records.Certificate{State: records.CertRevoked, NotAfter: now.Add(time.Hour), RevocationPending: true}
	assert.Equal(t, "revoked, pending at the CA", adminState(pending, now))
}

func TestPendingAtCALine(t *testing.T) {
	retry := time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)
	assert.Equal(t, "- Pending at the CA: the CA has not accepted the revocation yet\n", pendingAtCALine(&records.Certificate{}))
	assert.Equal(t, "- Pending at the CA: the CA has not accepted the revocation yet; told again 3 times, it answered last \"busy \\| later\"; next try 2031-03-04T05:06:07Z\n",
		pendingAtCALine(&records.Certificate{RevocationAttempts: 3, RevocationCAAnswer: "busy | later", RevocationRetryAt: &retry}))
	assert.Contains(t, pendingAtCALine(&records.Certificate{RevocationAttempts: 1}), "told again once")
}

// An admin's revocation names the certificate's owner; a user's, its
// subject.
func TestRevocationRepliesNameTheCertificate(t *testing.T) {
	env := newChatEnv(t, "")
	c := env.issue("bob", "")
	assert.Equal(t, "Certificate `"+c.Serial+"` of @bob is now revoked (unspecified).", env.run("carol", "/cert admin revoke "+c.Serial))
	mine := env.issue("alice", "")
	assert.Equal(t, "Certificate `"+mine.Serial+"` (CN=alice) is now revoked (superseded).", env.run("alice", "/cert revoke "+mine.Serial+" superseded"))
}

func TestAdminsManageLocalAccountsWithoutTypingAPassword(t *testing.T) {
	env := newChatEnv(t, approvalCatalog)
	assert.Equal(t, "⚠️ `/cert admin` is for system admins.", env.run("alice", "/cert admin local add dave dave@example.com"))

	added := env.run("carol", "/cert admin local add Dave dave@example.com")
	assert.Contains(t, added, "Local account `dave` added.")
	link := regexp.MustCompile(`https://\S+/plugins/certs/portal/password\?token=\S+`).FindString(added)
	require.NotEmpty(t, link, added)
	require.Len(t, env.api.mails, 1)
	assert.True(t, strings.HasPrefix(env.api.mails[0], "dave@example.com\nClient certificates: set your password\n"))
	assert.Contains(t, env.api.mails[0], link, "the owner gets the same link by email")

	token := strings.TrimPrefix(link[strings.Index(link, "token="):], "token=")
	_, err := env.door.Accounts.SetPassword(token, "correct horse battery")
	require.NoError(t, err)

	assert.Contains(t, env.run("carol", "/cert admin local add dave other@example.com"), "already has this username")
	list := env.run("carol", "/cert admin local list")
	assert.Contains(t, list, "| `dave` | dave@example.com | set ")

	reset := env.run("carol", "/cert admin local reset dave")
	assert.Contains(t, reset, "reset: its password no longer works")
	_, err = env.door.Accounts.Verify("dave", "correct horse battery")
	assert.Error(t, err)
	assert.Contains(t, env.run("carol", "/cert admin local unlock dave"), "may try to sign in again")
	assert.Contains(t, env.run("carol", "/cert admin local remove dave"), "removed")
	assert.Contains(t, env.run("carol", "/cert admin local remove dave"), "No local account has this username.")
	assert.Contains(t, env.run("carol", "/cert admin local list"), "No local accounts.")
	assert.Contains(t, env.run("carol", "/cert admin local frob"), "Use `/cert admin local add")
}
