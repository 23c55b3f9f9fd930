//go:build e2e

package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/e2e/testbed"
	"github.com/clientcerts/mattermost-plugin-certs/server/openid/dextest"
)

// The portal's demo: a local account, and a person at a Dex of its own.
const (
	portalUsername = "partner"
	portalPassword = "Outside-chat-2026!"
	dexClientID    = "certs-portal"
	dexSecret      = "demo-portal-client-secret"
)

var dexPerson = dextest.User{Email: "sso@example.com", Username: "sso", UserID: "sso-1", Password: "Sso-passw0rd!"}

// portalCatalog offers "partners" to the portal's people, and "vpn" to
// Mattermost users.
const portalCatalog = `{"profiles": [{"name": "vpn", "description": "VPN and Wi-Fi"}, {"name": "partners", "description": "For people outside chat", "access": {"portal": true}}]}`

// startDex runs Dex (DEX_BIN, which `make run` builds) for the portal's
// single sign-on; nil when there is none.
func startDex(runDir string, mm *testbed.Mattermost) (*dextest.Dex, error) {
	if os.Getenv(dextest.BinaryEnv) == "" {
		return nil, nil
	}
	dir := filepath.Join(runDir, "dex")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return dextest.StartDex(dir, dextest.Options{
		Clients: []dextest.Client{{ID: dexClientID, Secret: dexSecret, RedirectURIs: []string{mm.URL + "/plugins/certs/portal/oidc/callback"}}},
		Users:   []dextest.User{dexPerson},
		Mock:    true,
	})
}

// provisionPortal turns the portal on with the demo's settings and makes
// the demo local account, its password set as its owner would.
func provisionPortal(ctx context.Context, mm *testbed.Mattermost, dex *dextest.Dex) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	admin, err := mm.Login(ctx, adminUsername, adminPassword)
	if err != nil {
		return err
	}
	cfg, _, err := admin.Client.GetConfig(ctx)
	if err != nil {
		return err
	}
	settings := cfg.PluginSettings.Plugins["certs"]
	if settings == nil {
		settings = map[string]any{}
	}
	settings["portallocalaccounts"] = true
	settings["connectorsandprofiles"] = portalCatalog
	if dex != nil {
		settings["oidcissuer"] = dex.Issuer
		settings["oidcclientid"] = dexClientID
		settings["oidcclientsecret"] = dexSecret
		settings["oidcusernameclaim"] = "name"
		settings["oidcscopes"] = "groups"
	} else {
		settings["oidcissuer"] = ""
	}
	cfg.PluginSettings.Plugins["certs"] = settings
	if _, _, err := admin.Client.UpdateConfig(ctx, cfg); err != nil {
		return fmt.Errorf("turning the portal on: %w", err)
	}

	// The account, or a reset of it from an earlier run.
	return testbed.AddLocalAccount(ctx, http.DefaultClient, mm.URL, admin.Client.AuthToken, portalUsername, portalUsername+"@example.com", portalPassword)
}

// printPortal tells where the portal is and who can sign in.
func printPortal(mm *testbed.Mattermost, dex *dextest.Dex) {
	fmt.Printf(`
 The portal for people outside chat: %[1]s/plugins/certs/portal/
   Local account:   %[2]s / %[3]s
`, mm.URL, portalUsername, portalPassword)
	if dex != nil {
		fmt.Printf(`   Single sign-on:  %[1]s / %[2]s at Dex (%[3]s), or Dex's mock person (group "authors")
`, dexPerson.Email, dexPerson.Password, dex.Issuer)
	}
	fmt.Printf("   Mattermost users open it signed in as themselves.\n\n Press Ctrl-C to stop the servers.\n")
}
