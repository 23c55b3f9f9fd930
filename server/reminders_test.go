package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExpiryRemindersAreSentOnceEachWithARenewButton(t *testing.T) {
	env := newTestEnv(t)
	issued := env.issueJSON(env.token("alice"))
	gone := env.issueJSON(env.token("alice"))
	assert.Contains(t, env.run("alice", "/cert revoke "+gone.Serial), "is now revoked")
	until := issued.NotAfter

	env.p.runRequestJob()
	assert.Zero(t, env.noticesTo("alice", "expires in"), "nothing is due a year ahead")

	env.advance(until.Sub(env.now()) - 29*24*time.Hour)
	env.p.runRequestJob()
	env.p.runRequestJob()
	assert.Equal(t, 1, env.noticesTo("alice", "expires in 29 days"), "once, however often the job runs")
	assert.Zero(t, env.noticesTo("alice", gone.Serial+"` (CN=alice) expires"), "a revoked certificate is not renewed")

	env.advance(23 * 24 * time.Hour)
	env.p.runRequestJob()
	assert.Equal(t, 1, env.noticesTo("alice", "expires in 6 days"))
	env.advance(5*24*time.Hour + 12*time.Hour)
	env.p.runRequestJob()
	assert.Equal(t, 1, env.noticesTo("alice", "expires within a day"))
	env.p.runRequestJob()
	assert.Equal(t, 3, env.noticesTo("alice", issued.Serial+"` (CN=alice) expires"))

	var reminder = env.dmsTo("alice")[len(env.dmsTo("alice"))-1]
	resp := env.click("alice", reminder, "renew")
	assert.Contains(t, resp.EphemeralText, "[Get my renewed certificate](https://chat.example.com/plugins/certs/issue?token=")
	assert.Contains(t, env.click("bob", reminder, "renew").EphemeralText, "No certificate with this serial belongs to you")
}

func TestRemindersCanBeTurnedOff(t *testing.T) {
	env := newTestEnv(t)
	c := env.p.getConfiguration().Clone()
	off := ""
	c.ReminderDays = &off
	env.configure(c)
	issued := env.issueJSON(env.token("alice"))
	env.advance(issued.NotAfter.Sub(env.now()) - 24*time.Hour)
	env.p.runRequestJob()
	assert.Zero(t, env.noticesTo("alice", "expires"))

	bad := "30,soon"
	c = c.Clone()
	c.ReminderDays = &bad
	require.Error(t, c.IsValid())
}
