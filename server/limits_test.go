package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestProfileLimitsRefuseWithWhatToDo(t *testing.T) {
	env := newTestEnvWithCatalog(t, `{"profiles": [{"name": "vpn", "limits": {"active": 2}}, {"name": "lab", "limits": {"per_day": 1}}]}`)
	first := env.issueJSON(env.tokenFor("alice", "vpn")).Serial
	env.issueJSON(env.tokenFor("alice", "vpn"))
	reply := env.run("alice", "/cert download vpn")
	assert.Contains(t, reply, "You hold 2 valid certificates of profile vpn, the most it allows.")
	assert.Contains(t, reply, "/cert revoke <serial> superseded")
	w := env.request(http.MethodPost, "/api/v1/enrollments", `{"profile": "vpn"}`, "alice", "Content-Type", "application/json")
	assert.Equal(t, http.StatusForbidden, w.Code)
	assert.Contains(t, env.run("bob", "/cert download vpn"), "[Get my certificate]", "the limit is per owner")

	assert.Contains(t, env.run("alice", "/cert revoke "+first+" superseded"), "is now revoked")
	assert.Contains(t, env.run("alice", "/cert download vpn"), "[Get my certificate]", "a revoked one does not count")

	// A link minted before the limit was reached is refused when used.
	token := env.tokenFor("alice", "lab")
	env.issueJSON(env.tokenFor("alice", "lab"))
	w = env.request(http.MethodPost, "/issue", form(token), "", "Accept", "application/json")
	require.Equal(t, http.StatusForbidden, w.Code, w.Body.String())
	assert.Contains(t, w.Body.String(), "in the last 24 hours")
	env.advance(25 * time.Hour)
	env.issueJSON(env.tokenFor("alice", "lab"))
}
