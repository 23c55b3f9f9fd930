package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/config"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"
	"github.com/clientcerts/mattermost-plugin-certs/server/web/enrollment"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

// testCatalog has an open default profile, an S/MIME profile for the
// engineering team, and one for system admins only.
const testCatalog = `{
  "profiles": [
    {"name": "vpn", "description": "VPN access", "validity_days": 30},
    {"name": "smime", "description": "Signed email", "key_types": ["rsa-2048"], "ext_key_usages": ["emailProtection", "clientAuth"],
     "subject": {"common_name": "email", "organization": ["Example Corp"], "organizational_unit": ["Engineering"]},
     "access": {"teams": ["engineering"]}},
    {"name": "ops", "access": {"system_admins_only": true}}
  ]
}`

func newCatalogEnv(t *testing.T) *testEnv {
	t.Helper()
	return newTestEnvWithCatalog(t, testCatalog)
}

// newTestEnvWithCatalog is a test plugin configured with a catalog of
// connectors and profiles.
func newTestEnvWithCatalog(t *testing.T, catalog string) *testEnv {
	t.Helper()
	env := newTestEnv(t)
	c := env.p.getConfiguration().Clone()
	c.ConnectorsAndProfiles = catalog
	env.configure(c)
	return env
}

func TestCommandDownloadWithProfiles(t *testing.T) {
	env := newCatalogEnv(t)

	reply := env.run("bob", "/cert download")
	assert.Contains(t, reply, "(profile `vpn`)", "the first profile is the default")
	assert.Regexp(t, linkPattern, reply)

	reply = env.run("alice", "/cert download SMIME")
	assert.Contains(t, reply, "(profile `smime`)", "the team's member, by the profile's own name")

	reply = env.run("bob", "/cert download smime")
	assert.Contains(t, reply, `You cannot get certificates of profile "smime".`)
	assert.Contains(t, reply, "Profiles you can use: vpn.")
	assert.NotRegexp(t, linkPattern, reply)
}

func TestCommandProfilesListsWhatTheUserMayUse(t *testing.T) {
	env := newCatalogEnv(t)
	alice := env.run("alice", "/cert profiles")
	assert.Contains(t, alice, "`vpn` (default) | VPN access | 30 days | ECDSA P-256")
	assert.Contains(t, alice, "`smime` | Signed email | 365 days | RSA 2048")
}

func TestIssueUnderAProfile(t *testing.T) {
	env := newCatalogEnv(t)
	token := env.tokenFor("alice", "smime")

	page := env.request(http.MethodGet, issuePath(token), "", "")
	require.Equal(t, http.StatusOK, page.Code)
	assert.Contains(t, page.Body.String(), "smime · Signed email")
	assert.Contains(t, page.Body.String(), "RSA 2048")

	resp := env.issueJSON(token)
	_, leaf, _, err := pkcs12.DecodeChain(resp.PKCS12, resp.Passphrase)
	require.NoError(t, err)
	assert.Equal(t, "alice@example.com", leaf.Subject.CommonName, "the file holds the profile's certificate")
}

func TestLinkOutlivesItsProfileOrAccess(t *testing.T) {
	env := newCatalogEnv(t)
	smime := env.tokenFor("alice", "smime")
	vpn := env.tokenFor("alice", "vpn")

	// The admin removes the smime profile and renames vpn.
	c := env.p.getConfiguration().Clone()
	c.ConnectorsAndProfiles = `{"profiles": [{"name": "remote"}]}`
	env.configure(c)
	w := env.request(http.MethodPost, "/issue", form(vpn), "")
	assert.Equal(t, http.StatusGone, w.Code)
	assert.Contains(t, w.Body.String(), "no longer exists")

	// The profile stays, but alice leaves the team that grants it.
	c.ConnectorsAndProfiles = strings.Replace(testCatalog, `"teams": ["engineering"]`, `"teams": ["finance"]`, 1)
	env.configure(c)
	w = env.request(http.MethodPost, "/issue", form(smime), "")
	assert.Equal(t, http.StatusForbidden, w.Code)
	assert.Contains(t, w.Body.String(), "no longer get certificates of this profile")
}

func TestAPIProfilesAndLinks(t *testing.T) {
	env := newCatalogEnv(t)

	profiles := decodeJSON[[]enrollment.ProfileView](t, env.request(http.MethodGet, "/api/v1/profiles", "", "alice").Body.Bytes())
	require.Len(t, profiles, 2)
	assert.Equal(t, "vpn", profiles[0].Name)
	assert.True(t, profiles[0].Default)
	assert.Equal(t, "smime", profiles[1].Name)
	assert.Equal(t, "rsa-2048", profiles[1].KeyType)

	items := decodeJSON[[]model.AutocompleteListItem](t, env.request(http.MethodGet, "/api/v1/autocomplete/profiles", "", "bob").Body.Bytes())
	require.Len(t, items, 1)
	assert.Equal(t, "vpn", items[0].Item)
	assert.Contains(t, items[0].Hint, "default")

	w := env.request(http.MethodPost, "/api/v1/links", `{"profile": "smime"}`, "alice", "Content-Type", "application/json")
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	assert.Equal(t, "smime", decodeJSON[enrollment.LinkView](t, w.Body.Bytes()).Profile)

	w = env.request(http.MethodPost, "/api/v1/links", `{"profile": "smime"}`, "bob", "Content-Type", "application/json")
	assert.Equal(t, http.StatusForbidden, w.Code)
	w = env.request(http.MethodPost, "/api/v1/links", `{"profile": `, "alice", "Content-Type", "application/json")
	assert.Equal(t, http.StatusBadRequest, w.Code)
	w = env.request(http.MethodPost, "/api/v1/links", `{"profile": "`+strings.Repeat("v", web.MaxBodyBytes)+`"}`, "alice", "Content-Type", "application/json")
	assert.Equal(t, http.StatusRequestEntityTooLarge, w.Code, "an oversized body is refused")
}

func TestCAPEMPerConnector(t *testing.T) {
	env := newCatalogEnv(t)
	w := env.request(http.MethodGet, "/ca/builtin.pem", "", "")
	require.Equal(t, http.StatusOK, w.Code)
	chain, err := pki.ParseCertificatesPEM(w.Body.Bytes())
	require.NoError(t, err)
	assert.Len(t, chain, 2)
	assert.Equal(t, http.StatusNotFound, env.request(http.MethodGet, "/ca/nope.pem", "", "").Code)
}

const stepCATestCatalog = `{
  "connectors": [{"name": "builtin", "type": "builtin"},
    {"name": "corp", "type": "stepca", "stepca": {"url": "https://127.0.0.1:1", "root_fingerprint": "` + "abababababababababababababababababababababababababababababababab" + `",
      "provisioner": "mattermost", "provisioner_password": "hunter2-provisioner", "timeout_seconds": 2}}],
  "profiles": [{"name": "vpn", "connector": "builtin"}, {"name": "step", "connector": "corp", "validity_days": 1}]
}`

func TestStepCAPasswordIsSealedAndTheConnectorBuilt(t *testing.T) {
	env := newTestEnv(t)
	cfg := env.p.getConfiguration()
	current := map[string]any{"linksigningsecret": cfg.LinkSigningSecret, "encryptionsecret": cfg.EncryptionSecret}
	next := map[string]any{"linksigningsecret": cfg.LinkSigningSecret, "encryptionsecret": cfg.EncryptionSecret,
		"connectorsandprofiles": stepCATestCatalog}
	saved, err := env.saveConfigReturning(current, next)
	require.NoError(t, err)
	require.NotNil(t, saved)
	catalogJSON, _ := saved.PluginSettings.Plugins["certs"]["connectorsandprofiles"].(string)
	assert.NotContains(t, catalogJSON, "hunter2-provisioner", "the password never reaches the server configuration")
	assert.Contains(t, catalogJSON, `"provisioner_password": "sealed:`)
	assert.Contains(t, catalogJSON, `"validity_days": 1`, "the rest of the admin's JSON is kept")

	loaded, err := config.FromMap(saved.PluginSettings.Plugins["certs"])
	require.NoError(t, err)
	env.configure(loaded)
	s, err := env.p.current.Get()
	require.NoError(t, err)
	assert.Equal(t, "stepca", s.Core.Connectors["corp"].Type())

	// The CA is down: the user is told, and the link survives.
	token := env.tokenFor("alice", "step")
	w := env.request(http.MethodPost, "/issue", form(token), "")
	assert.Equal(t, http.StatusServiceUnavailable, w.Code, w.Body.String())
	assert.Contains(t, w.Body.String(), "could not be reached")
	used, err := env.p.store.TokenUsed(mustClaims(t, s, token).ID)
	require.NoError(t, err)
	assert.False(t, used, "a CA outage does not burn the link")
	certs, err := env.p.store.ListCertificates(records.MattermostUser(env.user("alice").Id))
	require.NoError(t, err)
	assert.Empty(t, certs, "nothing is recorded as issued")

	// Saving again (the console sends the marker back) seals nothing new.
	again, err := env.p.ConfigurationWillBeSaved(saved)
	require.NoError(t, err)
	assert.Nil(t, again)

	// A new encryption secret keeps the password usable.
	rotated := map[string]any{}
	for k, v := range saved.PluginSettings.Plugins["certs"] {
		rotated[k] = v
	}
	rotated["encryptionsecret"] = strings.Repeat("r", 43)
	require.NoError(t, env.saveConfig(saved.PluginSettings.Plugins["certs"], rotated))
	rotatedCfg, err := config.FromMap(rotated)
	require.NoError(t, err)
	env.configure(rotatedCfg)

	// A wrong encryption secret is reported, not ignored.
	wrong := rotatedCfg.Clone()
	wrong.EncryptionSecret = strings.Repeat("w", 43)
	env.p.applyConfiguration(wrong)
	_, err = env.p.current.Get()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "different encryption secret")
}

func mustClaims(t *testing.T, s *app.Snapshot, token string) *linktoken.Claims {
	t.Helper()
	claims, err := s.Core.Minter.Verify(token, linktoken.PurposeIssue)
	require.NoError(t, err)
	return claims
}
