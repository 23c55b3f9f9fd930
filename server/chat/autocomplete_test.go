package chat

import (
	"net/http"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAutocompleteProfiles(t *testing.T) {
	env := newChatEnv(t, `{"profiles": [{"name": "vpn", "description": "VPN access", "validity_days": 30}, {"name": "ops", "access": {"system_admins_only": true}}]}`)
	items := decodeJSON[[]model.AutocompleteListItem](t, env.serve(http.MethodGet, RouteAutocompleteProfiles, nil, "alice").Body.Bytes())
	require.Len(t, items, 1)
	assert.Equal(t, model.AutocompleteListItem{Item: "vpn", Hint: "30 days, ECDSA P-256, default", HelpText: "VPN access"}, items[0])
	assert.Len(t, decodeJSON[[]model.AutocompleteListItem](t, env.serve(http.MethodGet, RouteAutocompleteProfiles, nil, "carol").Body.Bytes()), 2)

	assert.Equal(t, http.StatusUnauthorized, env.serve(http.MethodGet, RouteAutocompleteProfiles, nil, "").Code)
	env.current.Fail("no CA")
	assert.Equal(t, http.StatusServiceUnavailable, env.serve(http.MethodGet, RouteAutocompleteProfiles, nil, "alice").Code)
}

func TestAutocompleteSerialsOffersWhatCanBeRevoked(t *testing.T) {
	env := newChatEnv(t, "")
	first := env.issue("alice", "")
	second := env.issue("alice", "")
	items := decodeJSON[[]model.AutocompleteListItem](t, env.serve(http.MethodGet, RouteAutocompleteSerials+"?user_input=x", nil, "alice").Body.Bytes())
	require.Len(t, items, 2)
	assert.Equal(t, second.Serial, items[0].Item, "newest first")
	assert.Equal(t, "alice", items[0].Hint)
	assert.Contains(t, items[0].HelpText, "expires "+second.NotAfter.UTC().Format("2006-01-02")+", issued ")
	assert.Empty(t, decodeJSON[[]model.AutocompleteListItem](t, env.serve(http.MethodGet, RouteAutocompleteSerials, nil, "bob").Body.Bytes()))

	env.run("alice", "/cert revoke "+first.Serial)
	items = decodeJSON[[]model.AutocompleteListItem](t, env.serve(http.MethodGet, RouteAutocompleteSerials, nil, "alice").Body.Bytes())
	require.Len(t, items, 1, "revoked certificates are not offered")
	assert.Equal(t, second.Serial, items[0].Item)

	assert.Equal(t, http.StatusUnauthorized, env.serve(http.MethodGet, RouteAutocompleteSerials, nil, "").Code)
	env.current.Fail("no CA")
	assert.Equal(t, http.StatusServiceUnavailable, env.serve(http.MethodGet, RouteAutocompleteSerials, nil, "alice").Code)
}
