package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTheDailyJobAsksOwnersWhoseEmailChangedToRenew(t *testing.T) {
	env := newTestEnv(t)
	issued := env.issueJSON(env.token("alice"))
	env.p.runRequestJob()
	assert.Zero(t, env.noticesTo("alice", "no longer your email address"))

	env.user("alice").Email = "alice@new.example.com"
	env.p.runRequestJob()
	assert.Zero(t, env.noticesTo("alice", "no longer your email address"), "the check runs once a day")

	env.advance(25 * time.Hour)
	env.p.runRequestJob()
	require.Equal(t, 1, env.noticesTo("alice", "no longer your email address"))
	dms := env.dmsTo("alice")
	reminder := dms[len(dms)-1]
	assert.Contains(t, reminder.Message, "names alice@example.com, which is no longer your email address (it is now alice@new.example.com)")
	assert.Contains(t, env.run("carol", "/cert admin list @alice"), "| issued, owner's email changed |")
	assert.Contains(t, env.run("carol", "/cert admin show "+issued.Serial), "which its owner no longer has")

	resp := env.click("alice", reminder, "renew")
	assert.Contains(t, resp.EphemeralText, "[Get my renewed certificate](")
	assert.Contains(t, resp.EphemeralText, "It replaces `"+issued.Serial+"`")

	env.advance(25 * time.Hour)
	env.p.runRequestJob()
	assert.Equal(t, 1, env.noticesTo("alice", "no longer your email address"), "asked once")
}
