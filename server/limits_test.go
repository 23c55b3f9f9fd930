package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The rules of limits are the core's (server/enroll); here, how each door
// words a refusal: the chat's reply, the API's status, the page's.
func TestProfileLimitsRefuseWithWhatToDo(t *testing.T) {
	env := newTestEnvWithCatalog(t, `{"profiles": [{"name": "vpn", "limits": {"active": 2}}, {"name": "lab", "limits": {"per_day": 1}}]}`)
	env.issueJSON(env.tokenFor("alice", "vpn"))
	env.issueJSON(env.tokenFor("alice", "vpn"))
	reply := env.run("alice", "/cert download vpn")
	assert.Contains(t, reply, "You hold 2 valid certificates of profile vpn, the most it allows.")
	assert.Contains(t, reply, "/cert revoke <serial> superseded")
	w := env.request(http.MethodPost, "/api/v1/enrollments", `{"profile": "vpn"}`, "alice", "Content-Type", "application/json")
	assert.Equal(t, http.StatusForbidden, w.Code)

	// A link minted before the limit was reached is refused when used.
	token := env.tokenFor("alice", "lab")
	env.issueJSON(env.tokenFor("alice", "lab"))
	w = env.request(http.MethodPost, "/issue", form(token), "", "Accept", "application/json")
	require.Equal(t, http.StatusForbidden, w.Code, w.Body.String())
	assert.Contains(t, w.Body.String(), "in the last 24 hours")
}
