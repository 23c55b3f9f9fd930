package main

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/web/admin"
)

// checkSettings posts a catalog to the settings check as username.
func (env *testEnv) checkSettings(username, catalog string) (int, admin.SettingsCheckResult, string) {
	env.t.Helper()
	body, err := json.Marshal(map[string]string{"connectors_and_profiles": catalog})
	require.NoError(env.t, err)
	w := env.request(http.MethodPost, "/api/v1/admin/settings/check", string(body), username, "Content-Type", "application/json")
	var result admin.SettingsCheckResult
	if w.Code == http.StatusOK {
		result = decodeJSON[admin.SettingsCheckResult](env.t, w.Body.Bytes())
	}
	return w.Code, result, w.Body.String()
}

func TestSettingsCheckIsForSystemAdminsOnly(t *testing.T) {
	env := newTestEnv(t)
	code, _, body := env.checkSettings("alice", `{"profiles": [{"name": "vpn"}]}`)
	assert.Equal(t, http.StatusForbidden, code)
	assert.JSONEq(t, `{"error": "only a system admin may check the plugin's settings", "status_code": 403}`, body)

	w := env.request(http.MethodPost, "/api/v1/admin/settings/check", `{"connectors_and_profiles": ""}`, "")
	assert.Equal(t, http.StatusUnauthorized, w.Code, "no Mattermost session")

	w = env.request(http.MethodGet, "/api/v1/admin/settings/check", "", "carol")
	assert.Contains(t, []int{http.StatusMethodNotAllowed, http.StatusNotFound}, w.Code, "a check is a POST (a subrouter may answer 404)")
}

func TestSettingsCheckOfAGoodCatalogHasNoProblems(t *testing.T) {
	env := newTestEnv(t)
	for _, catalog := range []string{"", testCatalog, `{"profiles": [{"name": "vpn", "validity_days": 90}]}`} {
		code, result, body := env.checkSettings("carol", catalog)
		require.Equal(t, http.StatusOK, code, body)
		assert.JSONEq(t, `{"problems": []}`, body, catalog)
		assert.Empty(t, result.Problems)
	}
}

func TestSettingsCheckNamesTheFieldOfEachProblem(t *testing.T) {
	env := newTestEnv(t)
	code, result, body := env.checkSettings("carol", `{"profiles": [{"name": "vpn"}, {"name": "long", "validity_days": 5000},
	  {"name": "hw", "attestation": "require"}], "default_profile": "nope"}`)
	require.Equal(t, http.StatusOK, code, body)
	assert.Equal(t, []admin.SettingsProblem{
		{Field: "profiles[1].validity_days", Message: `profile "long": validity_days must be between 1 and 3650 (got 5000)`},
		{Field: "default_profile", Message: `default_profile: no profile is called "nope"`},
	}, result.Problems)

	// The save's other checks of the catalog: attestation needs roots.
	_, result, _ = env.checkSettings("carol", `{"profiles": [{"name": "vpn"}, {"name": "hw", "attestation": "require"}]}`)
	require.Len(t, result.Problems, 1)
	assert.Equal(t, "profiles[1].attestation", result.Problems[0].Field)
	assert.Contains(t, result.Problems[0].Message, `Trusted attestation roots: profile "hw" verifies hardware attestations`)

	// The words are those the save hook refuses with.
	_, result, _ = env.checkSettings("carol", `{"profiles": [{"name": "vpn", "validity_dayz": 1}]}`)
	require.Len(t, result.Problems, 1)
	assert.Equal(t, admin.SettingsProblem{Field: "profiles[0].validity_dayz", Message: `profile "vpn": unknown field "validity_dayz"`}, result.Problems[0])

	_, result, _ = env.checkSettings("carol", `{"profiles": [`)
	require.Len(t, result.Problems, 1)
	assert.Empty(t, result.Problems[0].Field, "a syntax error is about the whole JSON")
	assert.Contains(t, result.Problems[0].Message, "the JSON cannot be read")

	w := env.request(http.MethodPost, "/api/v1/admin/settings/check", `{}`, "carol")
	assert.Equal(t, http.StatusBadRequest, w.Code)
	assert.Contains(t, w.Body.String(), "connectors_and_profiles")
}
