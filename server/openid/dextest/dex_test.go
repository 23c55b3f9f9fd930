//go:build dex

// Sign-ins through a real Dex: `make dex-test` builds it and runs these.
package dextest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/pluginapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/openid"
	"github.com/clientcerts/mattermost-plugin-certs/server/openid/dextest"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

const redirectURL = "https://chat.example.com/plugins/certs/portal/oidc/callback"

var (
	portal   = dextest.Client{ID: "certs-portal", Secret: "portal-secret", RedirectURIs: []string{redirectURL}}
	otherApp = dextest.Client{ID: "other-app", Secret: "other-secret", RedirectURIs: []string{redirectURL}}
	alice    = dextest.User{Email: "alice@example.com", Username: "alice", UserID: "a1b2c3", Password: "correct horse battery"}
)

type bed struct {
	dex   *dextest.Dex
	flows *openid.Flows
}

func newBed(t *testing.T, mock bool) *bed {
	t.Helper()
	dex := dextest.Start(t, dextest.Options{Clients: []dextest.Client{portal, otherApp}, Users: []dextest.User{alice}, Mock: mock})
	return &bed{dex: dex, flows: &openid.Flows{
		Store: store.New(&pluginapi.MemoryStore{}), Now: time.Now, CookiePath: "/plugins/certs/portal/oidc",
		Client: &http.Client{Timeout: 10 * time.Second},
	}}
}

func (b *bed) settings(client dextest.Client) openid.Settings {
	return openid.Settings{
		Issuer: b.dex.Issuer, ClientID: client.ID, ClientSecret: client.Secret, RedirectURL: redirectURL,
		// Dex's password database sends the username as "name", and groups
		// only for the "groups" scope.
		UsernameClaim: "name", Scopes: []string{"groups"},
	}
}

// signIn begins a sign-in with s, signs in at Dex as login and returns the
// callback request the browser comes back with, carrying the portal's
// cookie.
func (b *bed) signIn(t *testing.T, s openid.Settings, login dextest.Login) (*http.Request, error) {
	t.Helper()
	w := httptest.NewRecorder()
	authURL, err := b.flows.Begin(context.Background(), w, s, "/plugins/certs/portal/")
	require.NoError(t, err)
	callback, err := b.dex.SignIn(context.Background(), authURL, login)
	if err != nil {
		return nil, err
	}
	r := httptest.NewRequest(http.MethodGet, callback.String(), nil)
	for _, c := range w.Result().Cookies() {
		r.AddCookie(c)
	}
	return r, nil
}

func (b *bed) finish(r *http.Request, s openid.Settings) (*openid.Identity, error) {
	id, _, err := b.flows.Finish(context.Background(), httptest.NewRecorder(), r, s)
	return id, err
}

func TestSignInWithDex(t *testing.T) {
	b := newBed(t, false)
	s := b.settings(portal)
	require.NoError(t, openid.Check(context.Background(), nil, s))

	r, err := b.signIn(t, s, dextest.Login{Email: alice.Email, Password: alice.Password})
	require.NoError(t, err)
	id, back, err := b.flows.Finish(context.Background(), httptest.NewRecorder(), r, s)
	require.NoError(t, err, "dex log:\n%s", b.dex.Log())
	assert.Equal(t, &openid.Identity{
		Issuer: b.dex.Issuer, Subject: dextest.Subject(alice.UserID, "local"),
		Username: alice.Username, Email: alice.Email, EmailVerified: true,
	}, id)
	assert.Equal(t, records.OIDCUser(b.dex.Issuer, dextest.Subject(alice.UserID, "local")), id.Principal())
	assert.Equal(t, "/plugins/certs/portal/", back)

	// The same callback again: the flow is gone, and Dex's code is used.
	_, err = b.finish(r, s)
	require.ErrorIs(t, err, openid.ErrUnknownFlow)
}

func TestWrongPasswordNeverComesBack(t *testing.T) {
	b := newBed(t, false)
	_, err := b.signIn(t, b.settings(portal), dextest.Login{Email: alice.Email, Password: "wrong horse"})
	require.ErrorIs(t, err, dextest.ErrNoCallback)
	_, err = b.signIn(t, b.settings(portal), dextest.Login{Email: "mallory@example.com", Password: alice.Password})
	require.ErrorIs(t, err, dextest.ErrNoCallback)
}

// A code Dex issued to another client does not sign anyone in to the
// portal: put in the callback of a portal sign-in (an injected code), Dex
// refuses to redeem it for the portal; a sign-in begun for the other
// client does not finish under the portal's settings.
func TestAnotherClientsSignInIsRefused(t *testing.T) {
	b := newBed(t, false)
	login := dextest.Login{Email: alice.Email, Password: alice.Password}

	theirs, err := b.signIn(t, b.settings(otherApp), login)
	require.NoError(t, err)
	ours, err := b.signIn(t, b.settings(portal), login)
	require.NoError(t, err)
	injected := ours.URL.Query()
	injected.Set("code", theirs.URL.Query().Get("code"))
	ours.URL.RawQuery = injected.Encode()
	_, err = b.finish(ours, b.settings(portal))
	require.ErrorIs(t, err, openid.ErrExchangeFailed)

	theirs, err = b.signIn(t, b.settings(otherApp), login)
	require.NoError(t, err)
	_, err = b.finish(theirs, b.settings(portal))
	require.ErrorIs(t, err, openid.ErrSettingsChanged)
}

// Dex's mock connector signs in a person with groups: the required group
// and the allowed domains decide who gets in.
func TestGroupsAndDomainsWithDex(t *testing.T) {
	b := newBed(t, true)
	mock := dextest.Login{Connector: dextest.MockConnector}
	tests := []struct {
		name   string
		change func(*openid.Settings)
		want   error
	}{
		{name: "in the required group", change: func(s *openid.Settings) { s.RequiredGroup = "authors" }},
		{name: "not in the required group", change: func(s *openid.Settings) { s.RequiredGroup = "editors" }, want: openid.ErrGroupMissing},
		{name: "without the groups scope", change: func(s *openid.Settings) { s.RequiredGroup, s.Scopes = "authors", nil }, want: openid.ErrGroupMissing},
		{name: "allowed domain", change: func(s *openid.Settings) { s.AllowedDomains = []string{"kilgore.trout"} }},
		{name: "foreign domain", change: func(s *openid.Settings) { s.AllowedDomains = []string{"example.com"} }, want: openid.ErrDomainNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := b.settings(portal)
			tc.change(&s)
			r, err := b.signIn(t, s, mock)
			require.NoError(t, err)
			id, err := b.finish(r, s)
			if tc.want != nil {
				require.ErrorIs(t, err, tc.want)
				return
			}
			require.NoError(t, err, "dex log:\n%s", b.dex.Log())
			assert.Equal(t, dextest.Subject(dextest.MockUser.UserID, dextest.MockConnector), id.Subject)
			assert.Equal(t, dextest.MockUser.Email, id.Email)
			assert.True(t, id.EmailVerified)
			assert.Equal(t, dextest.MockGroups, id.Groups)
		})
	}
}

func TestCheckAgainstDex(t *testing.T) {
	b := newBed(t, false)
	s := b.settings(portal)
	require.NoError(t, openid.Check(context.Background(), nil, s))

	s.Issuer = b.dex.Issuer + "/"
	var settingsErr *openid.SettingsError
	require.ErrorAs(t, openid.Check(context.Background(), nil, s), &settingsErr)
	assert.Equal(t, "Issuer", settingsErr.Field)

	unreachable := b.settings(portal)
	b.dex.Stop()
	require.ErrorAs(t, openid.Check(context.Background(), nil, unreachable), &settingsErr)
	assert.Contains(t, settingsErr.Message, "could not be reached")
}
