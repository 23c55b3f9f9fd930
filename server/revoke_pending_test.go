package main

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/connector/connectortest"
)

// downForRevocation is a CA that signs, and cannot be reached for
// revocations while down is set.
type downForRevocation struct {
	connector.Connector
	down    atomic.Bool
	revokes atomic.Int32
}

func (d *downForRevocation) Revoke(ctx context.Context, req connector.RevokeRequest) error {
	if d.down.Load() {
		return &connector.Error{Kind: connector.KindUnavailable, Connector: "builtin", Message: "connection refused"}
	}
	d.revokes.Add(1)
	return d.Connector.Revoke(ctx, req)
}

// A CA that cannot be reached when a certificate is revoked: the record is
// revoked at once and says the CA is pending; the job tells the CA once it
// answers.
func TestRevocationPendingAtAnUnreachableCAIsRetried(t *testing.T) {
	env := newTestEnv(t)
	s := mustServices(t, env)
	ca := &downForRevocation{Connector: s.Core.Connectors["builtin"]}
	ca.down.Store(true)
	env.p.current.Store(withConnector(s, "builtin", ca))
	serial := env.issueJSON(env.token("alice")).Serial

	reply := env.run("alice", "/cert revoke "+serial)
	assert.Contains(t, reply, "is revoked in this plugin's records")
	assert.Contains(t, reply, "will be told as soon as it answers")
	record, err := env.p.store.GetCertificate(serial)
	require.NoError(t, err)
	assert.True(t, record.RevocationPending)
	assert.Contains(t, tableRowWith(env.run("alice", "/cert list"), serial), "revoked (pending at the CA)")

	env.p.runRequestJob()
	assert.Zero(t, ca.revokes.Load(), "still down")
	ca.down.Store(false)
	env.advance(time.Minute) // the next try is a minute after one that failed
	env.p.runRequestJob()
	assert.Equal(t, int32(1), ca.revokes.Load(), "told once it answers")
	record, err = env.p.store.GetCertificate(serial)
	require.NoError(t, err)
	assert.False(t, record.RevocationPending)
	env.p.runRequestJob()
	assert.Equal(t, int32(1), ca.revokes.Load(), "and not again")
}

// A CA that refuses a revocation told again, as step-ca answers 401 to a
// token signed with a provisioner key it has rotated: the certificate
// stays pending at the CA in every view and the log never says the CA
// accepted it; after a day the system admins, by permission, are told
// once, in words they can act on, and none of the log's details.
func TestARefusedRevocationStaysPendingAndTheAdminsAreToldOnce(t *testing.T) {
	env := newTestEnv(t)
	env.users["erin"] = &model.User{Id: model.NewId(), Username: "erin", Email: "erin@example.com", Roles: model.SystemUserRoleId + " it_admins"}
	s := mustServices(t, env)
	ca := &connectortest.ScriptedRevocations{Connector: s.Core.Connectors["builtin"]}
	env.p.current.Store(withConnector(s, "builtin", ca))
	serial := env.issueJSON(env.token("alice")).Serial
	other := env.issueJSON(env.token("alice")).Serial

	ca.Set(&connector.Error{Kind: connector.KindUnavailable, Connector: "builtin", Message: "the certificate authority could not be reached"})
	assert.Contains(t, env.run("alice", "/cert revoke "+serial), "will be told as soon as it answers")
	assert.Contains(t, env.run("alice", "/cert revoke "+other), "will be told as soon as it answers")

	ca.Set(&connector.Error{Kind: connector.KindRejected, Connector: "builtin",
		Message: "The request lacked necessary authorization to be completed",
		Err:     errors.New("revoke at https://ca.internal.example: HTTP 401")})
	env.advance(time.Minute)
	told := ca.Count()
	env.p.runRequestJob()
	require.Equal(t, told+2, ca.Count(), "each pending revocation told again, once")
	assert.Contains(t, tableRowWith(env.run("alice", "/cert list"), serial), "revoked (pending at the CA)")
	assert.Contains(t, tableRowWith(env.run("carol", "/cert admin list"), serial), "revoked, pending at the CA")
	show := env.run("carol", "/cert admin show "+serial)
	assert.Contains(t, show, "Pending at the CA: the CA has not accepted the revocation yet; told again once")
	assert.Contains(t, show, "The request lacked necessary authorization to be completed")
	assert.NotContains(t, strings.Join(env.loggedLines(), "\n"), "accepted a revocation")

	noticesTo := func(name string) []string {
		var out []string
		for _, p := range env.dmsTo(name) {
			if strings.Contains(p.Message, "has not accepted the revocation of the certificate `"+serial+"`") {
				out = append(out, p.Message)
			}
		}
		return out
	}
	for range 22 {
		env.advance(time.Hour)
		env.p.runRequestJob()
	}
	assert.Empty(t, noticesTo("carol"), "not before a day")
	for range 3 {
		env.advance(time.Hour)
		env.p.runRequestJob()
	}
	for _, admin := range []string{"carol", "erin"} {
		notices := noticesTo(admin)
		require.Len(t, notices, 1, admin)
		notice := notices[0]
		assert.Contains(t, notice, "CA connector `builtin`")
		assert.Contains(t, notice, `"The request lacked necessary authorization to be completed"`)
		assert.Contains(t, notice, "revoke it at the CA by hand")
		assert.Contains(t, notice, "credentials")
		assert.Contains(t, notice, "@alice")
		assert.NotContains(t, notice, "ca.internal.example", "the log's details stay in the log")
	}
	assert.Empty(t, noticesTo("alice"))
	assert.Empty(t, noticesTo("bob"))

	// The refusal passes: the CA accepts at the next try, and says so.
	ca.Set(nil)
	env.advance(time.Hour)
	env.p.runRequestJob()
	row := tableRowWith(env.run("alice", "/cert list"), serial)
	assert.Contains(t, row, "revoked")
	assert.NotContains(t, row, "pending")
	assert.Contains(t, strings.Join(env.loggedLines(), "\n"), "A CA accepted a revocation it missed")
	assert.Len(t, noticesTo("carol"), 1, "told once")
}

// While its CA has not accepted a revocation, no word claims it did: an
// admin's revocation says so instead of calling the CA unmanaged, its
// owner is not told the certificate no longer opens anything, and the
// admins' summary of a deactivation marks it.
func TestWordsDoNotClaimARevocationTheCAHasNotAccepted(t *testing.T) {
	env := newTestEnv(t)
	s := mustServices(t, env)
	ca := &connectortest.ScriptedRevocations{Connector: s.Core.Connectors["builtin"]}
	env.p.current.Store(withConnector(s, "builtin", ca))
	byAdmin := env.issueJSON(env.token("alice")).Serial
	byDeactivation := env.issueJSON(env.token("bob")).Serial
	ca.Set(&connector.Error{Kind: connector.KindUnavailable, Connector: "builtin", Message: "the certificate authority could not be reached"})

	reply := env.run("carol", "/cert admin revoke "+byAdmin)
	assert.Contains(t, reply, "is revoked in this plugin's records")
	assert.Contains(t, reply, "Its CA could not be reached just now: it will be told as soon as it answers")
	assert.NotContains(t, reply, "now revoked")
	assert.NotContains(t, reply, "not manage")
	dms := env.dmsTo("alice")
	require.NotEmpty(t, dms)
	assert.Contains(t, dms[len(dms)-1].Message, "Its CA could not be reached just now")
	assert.NotContains(t, dms[len(dms)-1].Message, "no longer opens")

	bob := env.user("bob")
	bob.DeleteAt = env.now().UnixMilli()
	env.p.UserHasBeenDeactivated(nil, bob)
	assert.Equal(t, 1, env.noticesTo("carol", "revoked in this plugin's records only:\n- `"+byDeactivation+"` CN=bob: Its CA could not be reached just now"))
}
