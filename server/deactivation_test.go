package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/config"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// noticesTo counts the DMs to a user that mention text.
func (env *testEnv) noticesTo(username, text string) int {
	n := 0
	for _, dm := range env.dmsTo(username) {
		if strings.Contains(dm.Message, text) {
			n++
		}
	}
	return n
}

func TestDeactivationRevokesAndTellsTheAdmins(t *testing.T) {
	env := newTestEnv(t)
	first := env.issueJSON(env.token("alice")).Serial
	second := env.issueJSON(env.token("alice")).Serial
	bobs := env.issueJSON(env.token("bob")).Serial

	alice := env.user("alice")
	alice.DeleteAt = env.now().UnixMilli()
	env.p.UserHasBeenDeactivated(nil, alice)

	for _, serial := range []string{first, second} {
		record, err := env.p.store.GetCertificate(serial)
		require.NoError(t, err)
		assert.Equal(t, records.CertRevoked, record.State)
		assert.Equal(t, records.ReasonAffiliationChanged, record.RevocationReason)
		assert.Equal(t, "deactivation", record.RevokedBy)
		_, listed := serialIn(env.crlOf(t), serial)
		assert.True(t, listed, "on the CRL")
	}
	record, err := env.p.store.GetCertificate(bobs)
	require.NoError(t, err)
	assert.Equal(t, records.CertIssued, record.State, "nobody else's")
	assert.Equal(t, 1, env.noticesTo("carol", "@alice was deactivated. 2 of their certificates are now revoked"))

	// The daily job finds nothing more to do for her.
	env.p.runRequestJob()
	assert.Equal(t, 1, env.noticesTo("carol", "@alice was deactivated"))
}

func TestDeactivationCanOnlyNotifyOrDoNothing(t *testing.T) {
	env := newTestEnv(t)
	c := env.p.getConfiguration().Clone()
	c.OnDeactivation = config.OnDeactivationNotify
	env.configure(c)
	serial := env.issueJSON(env.token("alice")).Serial
	alice := env.user("alice")
	alice.DeleteAt = env.now().UnixMilli()
	env.p.UserHasBeenDeactivated(nil, alice)
	record, err := env.p.store.GetCertificate(serial)
	require.NoError(t, err)
	assert.Equal(t, records.CertIssued, record.State, "notify only")
	assert.Equal(t, 1, env.noticesTo("carol", "1 of their certificates are still valid"))
	env.advance(25 * time.Hour)
	env.p.runRequestJob()
	assert.Equal(t, 1, env.noticesTo("carol", "@alice was deactivated"), "told once, not every day")

	c = c.Clone()
	c.OnDeactivation = config.OnDeactivationOff
	env.configure(c)
	bob := env.user("bob")
	env.issueJSON(env.token("bob"))
	bob.DeleteAt = env.now().UnixMilli()
	env.p.UserHasBeenDeactivated(nil, bob)
	assert.Zero(t, env.noticesTo("carol", "@bob was deactivated"))
}

// Deactivated while the plugin was not running: the daily job catches it.
func TestTheJobRevokesForDeactivationsTheHookMissed(t *testing.T) {
	env := newTestEnv(t)
	serial := env.issueJSON(env.token("alice")).Serial
	env.user("alice").DeleteAt = env.now().UnixMilli() // no hook call
	env.p.runRequestJob()
	record, err := env.p.store.GetCertificate(serial)
	require.NoError(t, err)
	assert.Equal(t, records.CertRevoked, record.State)
	assert.Equal(t, 1, env.noticesTo("carol", "@alice was deactivated"))
}
