//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// autocompleteSuggestions is what the web client is offered while user
// types input in a channel.
func autocompleteSuggestions(t *testing.T, user *testUser, input string) []model.AutocompleteSuggestion {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	query := url.Values{"user_input": {input}, "channel_id": {user.townSquareID}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		bed.mm.URL+"/api/v4/teams/"+bed.team.Id+"/commands/autocomplete_suggestions?"+query.Encode(), nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+user.Token())
	resp, err := pluginClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "autocomplete %q as %s: %s", input, user.name(), body)
	var list []model.AutocompleteSuggestion
	require.NoError(t, json.Unmarshal(body, &list), "autocomplete answer: %s", body)
	return list
}

func suggestionItems(list []model.AutocompleteSuggestion) []string {
	var out []string
	for _, s := range list {
		out = append(out, s.Suggestion)
	}
	return out
}

// TestAdminCommandsThroughTheServer: `/cert admin` and the admin API as a
// system admin (list, show, revoke with a reason the owner is told,
// requests, the listing and its CSV export) and as a user (refused, and
// not offered in autocomplete).
func TestAdminCommandsThroughTheServer(t *testing.T) {
	requireBed(t)
	owner := newTestUser(t, "owned")
	user := newTestUser(t, "plain")
	boss := newTestUser(t, "boss")
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	_, err := bed.admin.Client.UpdateUserRoles(ctx, boss.User.Id, model.SystemUserRoleId+" "+model.SystemAdminRoleId)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		defer cancel()
		_, _ = bed.admin.Client.UpdateUserRoles(ctx, boss.User.Id, model.SystemUserRoleId)
	})
	issued, _ := owner.issueJSON(t)

	// A user: refused on every door, and not offered the command.
	assert.Contains(t, user.runCommand(t, "/cert admin list").Message, "is for system admins")
	assert.Contains(t, user.runCommand(t, "/cert admin revoke "+issued.serial).Message, "is for system admins")
	for _, path := range []string{"/api/v1/admin/certificates", "/api/v1/admin/certificates.csv", "/api/v1/admin/certificates/" + issued.serial} {
		reply := pluginRequest(t, http.MethodGet, path, nil, user.Token(), "application/json")
		assert.Equal(t, http.StatusForbidden, reply.status, "%s as a user: %s", path, reply)
		assert.NotContains(t, reply.body, issued.serial)
	}
	assert.NotContains(t, suggestionItems(autocompleteSuggestions(t, user, "/cert ")), "admin")
	assert.Contains(t, suggestionItems(autocompleteSuggestions(t, boss, "/cert ")), "admin")

	// A system admin.
	list := boss.runCommand(t, "/cert admin list @"+owner.name()).Message
	assert.Contains(t, list, "| `"+issued.serial+"` | @"+owner.name()+" |")
	show := boss.runCommand(t, "/cert admin show "+issued.serial).Message
	assert.Contains(t, show, "#### Certificate `"+issued.serial+"`")
	assert.Contains(t, show, "- Owner: @"+owner.name())
	assert.NotContains(t, boss.runCommand(t, "/cert admin requests").Message, "is for system admins")

	api := pluginRequest(t, http.MethodGet, "/api/v1/admin/certificates?owner="+owner.User.Id, nil, boss.Token(), "application/json")
	require.Equal(t, http.StatusOK, api.status, api.String())
	assert.Contains(t, api.body, issued.serial)
	csv := pluginRequest(t, http.MethodGet, "/api/v1/admin/certificates.csv?owner="+owner.User.Id, nil, boss.Token(), "")
	require.Equal(t, http.StatusOK, csv.status, csv.String())
	assert.True(t, strings.HasPrefix(csv.body, "serial,owner,"), csv.body)
	assert.Contains(t, csv.body, issued.serial)

	revoked := boss.runCommand(t, "/cert admin revoke "+issued.serial+" keyCompromise").Message
	assert.Contains(t, revoked, "is now revoked (keyCompromise)")
	botDMWithin(t, owner.Session, replyTimeout, func(p *model.Post) bool {
		return strings.Contains(p.Message, issued.serial) && strings.Contains(p.Message, "revoked")
	})
	one := pluginRequest(t, http.MethodGet, "/api/v1/admin/certificates/"+issued.serial, nil, boss.Token(), "application/json")
	require.Equal(t, http.StatusOK, one.status, one.String())
	assert.Contains(t, one.body, `"revocation_reason":"keyCompromise"`)
}
