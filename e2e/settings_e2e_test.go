//go:build e2e

package e2e

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/e2e/testbed"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

// withPluginSettings saves the plugin's settings changed by change through
// the admin REST API (the System Console's path, so the plugin's
// ConfigurationWillBeSaved runs), and restores them when the test ends.
func withPluginSettings(t *testing.T, change func(map[string]any)) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, _, err := bed.admin.Client.GetConfig(ctx)
	require.NoError(t, err)
	original := map[string]any{}
	for k, v := range cfg.PluginSettings.Plugins[pluginID] {
		original[k] = v
	}
	settings := map[string]any{}
	for k, v := range original {
		settings[k] = v
	}
	change(settings)
	cfg.PluginSettings.Plugins[pluginID] = settings
	if _, _, err := bed.admin.Client.UpdateConfig(ctx, cfg); err != nil {
		return err
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cfg, _, err := bed.admin.Client.GetConfig(ctx)
		require.NoError(t, err)
		cfg.PluginSettings.Plugins[pluginID] = original
		_, _, err = bed.admin.Client.UpdateConfig(ctx, cfg)
		require.NoError(t, err)
		waitForDefaultProfile(t)
	})
	return nil
}

// waitForDefaultProfile waits until the plugin has applied a configuration
// whose default profile is "default" (the settings change reaches the plugin
// asynchronously).
func waitForDefaultProfile(t *testing.T) {
	t.Helper()
	waitForProfiles(t, bed.alice, "default")
}

func waitForProfiles(t *testing.T, u *testUser, want ...string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		reply := pluginRequest(t, http.MethodGet, "/api/v1/profiles", nil, u.Token(), "application/json")
		last = reply.body
		var profiles []struct {
			Name string `json:"name"`
		}
		if reply.status == http.StatusOK && json.Unmarshal([]byte(reply.body), &profiles) == nil {
			var names []string
			for _, p := range profiles {
				names = append(names, p.Name)
			}
			if strings.Join(names, ",") == strings.Join(want, ",") {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("the plugin never offered profiles %v to %s; last answer: %s", want, u.name(), last)
}

// TestSettingsAreValidatedOnSave: the server refuses a bad plugin setting
// with the plugin's message, as the System Console shows it.
func TestSettingsAreValidatedOnSave(t *testing.T) {
	requireBed(t)
	cases := map[string]struct {
		key, value, want string
	}{
		"link lifetime":    {"linklifetimeminutes", "600", "Link lifetime must be between 1 and 60 minutes"},
		"key type":         {"keytype", "rsa-1024", "Key type"},
		"catalog json":     {"connectorsandprofiles", `{"profiles": [{"name": "p", "validity_days": 99999}]}`, `profile "p": validity_days must be between 1 and 3650`},
		"catalog typo":     {"connectorsandprofiles", `{"profiles": [{"name": "p", "validty_days": 5}]}`, `unknown field "validty_days"`},
		"ca without a key": {"cacertificatepem", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "CA private key"},
		"revocation base":  {"revocationbaseurl", "ftp://pki.example.com", "Revocation URL base must be an http:// or https:// URL"},
		"daily bound":      {"certificatesperuserperday", "-3", "Certificates per user per day must be between 0"},
		"two builtin CAs": {"connectorsandprofiles", `{"connectors": [{"name": "wifi", "type": "builtin"}, {"name": "vpn", "type": "builtin"}],
			"profiles": [{"name": "wifi", "connector": "wifi"}, {"name": "vpn", "connector": "vpn"}]}`, "the plugin has one built-in CA"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := withPluginSettings(t, func(s map[string]any) { s[tc.key] = tc.value })
			require.Error(t, err, "the server saved an invalid %s", tc.key)
			require.Contains(t, err.Error(), "Client Certificates: ")
			require.Contains(t, err.Error(), tc.want)
		})
	}
	// Nothing was saved: issuing still works.
	bed.alice.issueJSON(t)
}

// TestProfilesThroughTheServer: a catalog saved through the REST API takes
// effect; team membership decides who may use a profile.
func TestProfilesThroughTheServer(t *testing.T) {
	requireBed(t)
	catalog := `{"profiles": [
	  {"name": "default", "description": "VPN"},
	  {"name": "smime", "description": "Email", "ext_key_usages": ["emailProtection"], "subject": {"common_name": "email", "organizational_unit": ["E2E"]},
	   "access": {"teams": ["` + teamName + `"]}},
	  {"name": "finance", "access": {"teams": ["finance"]}}
	]}`
	// A team nobody of the test is in; a profile may only name teams that
	// exist.
	_, err := testbed.EnsureTeam(context.Background(), bed.admin.Client, "finance", "Finance")
	require.NoError(t, err)
	require.NoError(t, withPluginSettings(t, func(s map[string]any) { s["connectorsandprofiles"] = catalog }))
	waitForProfiles(t, bed.alice, "default", "smime")

	reply := bed.alice.runCommand(t, "/cert download smime")
	require.Contains(t, reply.Message, "(profile `smime`)")
	reply = bed.alice.runCommand(t, "/cert download finance")
	require.Contains(t, reply.Message, `You cannot get certificates of profile "finance". Profiles you can use: default, smime.`)

	links := pluginRequest(t, http.MethodPost, "/api/v1/links", nil, bed.alice.Token(), "application/json")
	require.Equal(t, http.StatusCreated, links.status, links.String())
	body := `{"profile": "smime"}`
	req, err := http.NewRequest(http.MethodPost, bed.mm.URL+"/plugins/"+pluginID+"/api/v1/links", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+bed.alice.Token())
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	var link struct {
		URL string `json:"url"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&link))

	_, leaf := bed.alice.redeemJSON(t, tokenOf(t, link.URL))
	require.Equal(t, bed.alice.User.Email, leaf.Subject.CommonName)
	require.Equal(t, []string{"E2E"}, leaf.Subject.OrganizationalUnit)
	require.Equal(t, []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}, leaf.ExtKeyUsage)
}

// useCustomCA has the plugin sign with an admin's own CA of a new
// hierarchy (with the settings change, if any), until the test ends, and
// waits until ca.pem serves it. Afterwards it waits for the built-in CA to
// be back, as later tests expect it.
func useCustomCA(t *testing.T, organization string, change func(map[string]any)) *pki.Hierarchy {
	t.Helper()
	h, err := pki.GenerateHierarchy(organization, time.Now())
	require.NoError(t, err)
	keyDER, err := pki.MarshalPrivateKey(h.IssuingKey)
	require.NoError(t, err)
	// Registered first, so it runs after the settings are restored.
	t.Cleanup(func() {
		deadline := time.Now().Add(20 * time.Second)
		for fetchCAChain(t)[1].Equal(h.Root) {
			require.True(t, time.Now().Before(deadline), "ca.pem never switched back to the built-in CA")
			time.Sleep(200 * time.Millisecond)
		}
	})
	require.NoError(t, withPluginSettings(t, func(s map[string]any) {
		s["cacertificatepem"] = string(pki.EncodeCertificatesPEM([]*x509.Certificate{h.Issuing, h.Root}))
		s["caprivatekeypem"] = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
		if change != nil {
			change(s)
		}
	}))
	deadline := time.Now().Add(20 * time.Second)
	for {
		chain := fetchCAChain(t)
		if chain[len(chain)-1].Equal(h.Root) {
			return h
		}
		require.True(t, time.Now().Before(deadline), "ca.pem never switched to the custom CA")
		time.Sleep(200 * time.Millisecond)
	}
}

// TestCustomCAKeyNeverReachesTheConfigFile: an admin's own CA works, and its
// private key is sealed into the KV store instead of the server's config.
func TestCustomCAKeyNeverReachesTheConfigFile(t *testing.T) {
	requireBed(t)
	h := useCustomCA(t, "E2E Corp", nil)

	configFile, err := os.ReadFile(filepath.Join(bed.mm.WorkDir, "config", "config.json"))
	require.NoError(t, err)
	require.NotContains(t, string(configFile), "PRIVATE KEY", "the CA key must not be stored in the server config")
	require.Contains(t, string(configFile), "sealed:"+pki.Fingerprint(h.Issuing))

	// The plugin issues under it.
	_, leaf := bed.alice.issueJSON(t)
	require.NoError(t, leaf.CheckSignatureFrom(h.Issuing))
}
