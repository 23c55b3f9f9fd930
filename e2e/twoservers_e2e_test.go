//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/e2e/testbed"
)

// startSecondServer starts another Mattermost on the same database and file
// store, with the first one's configuration (so the plugin's settings and
// secrets), and waits until the plugin runs on it.
func startSecondServer(t *testing.T) *testbed.Mattermost {
	t.Helper()
	return startSecondServerWith(t, 0)
}

// startSecondServerWith starts the second server on port (0: any free
// one), with settings of its own (KEY=value) over the first one's.
func startSecondServerWith(t *testing.T, port int, env ...string) *testbed.Mattermost {
	t.Helper()
	opts := bed.mmOptions
	opts.WorkDir = filepath.Join(filepath.Dir(bed.mmOptions.WorkDir), "mm2")
	opts.Port = port
	opts.FileDir = filepath.Join(bed.mmOptions.WorkDir, "data")
	// Its own audit file, and no second metrics listener on the first's port.
	opts.Env = append(slices.Clone(bed.mmOptions.Env),
		"MM_EXPERIMENTALAUDITSETTINGS_FILENAME="+filepath.Join(opts.WorkDir, "audit.log"),
		"MM_METRICSSETTINGS_ENABLE=false")
	opts.Env = append(opts.Env, env...)
	config, err := os.ReadFile(filepath.Join(bed.mmOptions.WorkDir, "config", "config.json"))
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Join(opts.WorkDir, "config"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(opts.WorkDir, "config", "config.json"), config, 0o600))
	second, err := testbed.StartMattermost(opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = second.Stop() })

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin := model.NewAPIv4Client(second.URL)
	admin.SetToken(bed.admin.Client.AuthToken) // sessions live in the shared database
	if err := second.WaitForPluginRunning(ctx, admin, pluginID, 30*time.Second); err != nil {
		// Not synced from the shared file store at start: install it here.
		_, err = second.DeployPlugin(ctx, admin, os.Getenv("CERTS_BUNDLE"))
		require.NoError(t, err)
	}
	return second
}

// TestTwoServersOnOneDatabase: two Mattermost servers on one database issue
// at once, each link minted on one server and redeemed on the other; no
// record is lost or doubled, both list the same, and a link raced on both
// issues once.
func TestTwoServersOnOneDatabase(t *testing.T) {
	requireBed(t)
	require.NoError(t, withPluginSettings(t, func(s map[string]any) { s["connectorsandprofiles"] = "" }))
	second := startSecondServer(t)
	servers := []string{bed.mm.URL, second.URL}
	users := []*testUser{newTestUser(t, "ida"), newTestUser(t, "jon"), newTestUser(t, "kim"), newTestUser(t, "lou")}

	const n = 40
	serials := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := users[i%len(users)]
			token, err := linkAt(servers[i%2], u)
			if err == nil {
				serials[i], err = redeemAt(servers[(i+1)%2], token)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, err := range errs {
		require.NoError(t, err, "certificate %d", i)
		require.False(t, seen[serials[i]], "serial %s issued twice", serials[i])
		seen[serials[i]] = true
	}

	for _, u := range users {
		var lists [2]map[string]bool
		for s, base := range servers {
			reply, err := doPluginRequestAt(base, http.MethodGet, "/api/v1/certificates", nil, u.Token(), "application/json")
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, reply.status, reply.String())
			var listed []struct{ Serial string }
			require.NoError(t, json.Unmarshal([]byte(reply.body), &listed))
			lists[s] = map[string]bool{}
			for _, c := range listed {
				lists[s][c.Serial] = true
			}
		}
		assert.Len(t, lists[0], n/len(users), "%s: every certificate listed once", u.name())
		assert.Equal(t, lists[0], lists[1], "%s: both servers list the same", u.name())
	}

	// One link, redeemed on both servers at once: one certificate.
	token, err := linkAt(servers[0], users[0])
	require.NoError(t, err)
	codes := make([]int, 2)
	for s, base := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reply, err := doPluginRequestAt(base, http.MethodPost, "/issue", url.Values{"token": {token}}, "", "application/json")
			if err == nil {
				codes[s] = reply.status
			}
		}()
	}
	wg.Wait()
	assert.ElementsMatch(t, []int{http.StatusOK, http.StatusConflict}, codes)

	log, err := os.ReadFile(second.LogPath)
	require.NoError(t, err)
	assert.NotContains(t, string(log), "error during Plugin.", "the second server's plugin reached its database without an RPC failure")
	assert.Contains(t, string(log), "Certificate inventory ready", "the second server's plugin uses the same inventory")
}

// linkAt asks the server at base for u's enrollment link and returns its token.
func linkAt(base string, u *testUser) (string, error) {
	reply, err := doPluginRequestAt(base, http.MethodPost, "/api/v1/links", nil, u.Token(), "application/json")
	if err != nil {
		return "", err
	}
	if reply.status != http.StatusCreated {
		return "", fmt.Errorf("POST /api/v1/links at %s: %s", base, reply)
	}
	var link struct{ URL string }
	if err := json.Unmarshal([]byte(reply.body), &link); err != nil {
		return "", err
	}
	parsed, err := url.Parse(link.URL)
	if err != nil {
		return "", err
	}
	return parsed.Query().Get("token"), nil
}

// redeemAt redeems a token at the server at base and returns the serial.
func redeemAt(base, token string) (string, error) {
	reply, err := doPluginRequestAt(base, http.MethodPost, "/issue", url.Values{"token": {token}}, "", "application/json")
	if err != nil {
		return "", err
	}
	if reply.status != http.StatusOK {
		return "", fmt.Errorf("POST /issue at %s: %s", base, reply)
	}
	var answer issueAnswer
	if err := json.Unmarshal([]byte(reply.body), &answer); err != nil {
		return "", err
	}
	return answer.Serial, nil
}
