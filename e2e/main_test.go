//go:build e2e

// Package e2e tests the plugin bundle end to end: a real PostgreSQL, a real
// Mattermost server built from source, the plugin uploaded through the REST
// API, and OpenSSL/NSS as the clients that must accept what it issues.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/clientcerts/mattermost-plugin-certs/e2e/testbed"
)

const (
	pluginID      = "certs"
	botUsername   = "certs-bot"
	teamName      = "e2e"
	adminUsername = "admin"
	// Mattermost's default password policy wants at least 8 characters.
	userPassword = "Passw0rd!e2e"
)

// bed is what TestMain set up; every test reads it.
var bed struct {
	skipReason string

	pg *testbed.Postgres
	mm *testbed.Mattermost
	// mmOptions start mm again on the same port, data and files.
	mmOptions testbed.MattermostOptions
	// auditFile is the server's audit log (ExperimentalAuditSettings,
	// which the server reads only at start); metricsURL its metrics
	// listener (MetricsSettings), where plugins' metrics are served.
	auditFile  string
	metricsURL string
	admin      *testbed.Session
	team       *model.Team

	alice *testUser
	bob   *testUser

	botID    string
	botError error // why the bot could not be found, reported by tests that need it

	// hostPage is the built host page the server serves at / (see
	// webapp/host/), or "" when it has not been built.
	hostPage string
}

func TestMain(m *testing.M) {
	serverDir, bundle := os.Getenv("MM_SERVER_DIR"), os.Getenv("CERTS_BUNDLE")
	if serverDir == "" || bundle == "" {
		// Tests skip one by one with this reason; `make e2e` always sets both.
		bed.skipReason = "MM_SERVER_DIR and CERTS_BUNDLE must be set (run `make e2e`)"
		os.Exit(m.Run())
	}

	stopOnce := sync.OnceFunc(stopBed)
	// Ctrl-C during `go test` must not leave servers behind.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-signals
		fmt.Fprintf(os.Stderr, "e2e: %s: stopping Mattermost and PostgreSQL\n", sig)
		stopOnce()
		os.Exit(130)
	}()

	started := time.Now()
	if err := setUp(serverDir, bundle); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: set-up failed: %v\n", err)
		stopOnce()
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "e2e: PostgreSQL (pid %d, port %d) and Mattermost (pid %d, %s) ready with plugin %s in %s\n",
		bed.pg.PID(), bed.pg.Port, bed.mm.PID(), bed.mm.URL, pluginID, time.Since(started).Round(time.Second))

	code := m.Run()
	if code == 0 && bed.mm != nil {
		// A database call the server's driver could not carry breaks the
		// plugin's connection to it, and says so only on the plugin's
		// stderr: no run passes with such a line in the server log.
		if data, err := os.ReadFile(bed.mm.LogPath); err == nil && strings.Contains(string(data), "error during Plugin.") {
			fmt.Fprintln(os.Stderr, "e2e: the plugin's RPC to the server failed (\"error during Plugin.\" in the server log)")
			code = 1
		}
	}
	if code != 0 && bed.mm != nil {
		fmt.Fprintf(os.Stderr, "e2e: Mattermost log tail (%s):\n%s\n", bed.mm.LogPath, bed.mm.LogTail(60))
	}
	removeWorkRoot = code == 0 && os.Getenv("E2E_KEEP") == ""
	stopOnce()
	os.Exit(code)
}

func setUp(serverDir, bundle string) error {
	if _, err := os.Stat(bundle); err != nil {
		return fmt.Errorf("plugin bundle: %w (run `make dist`)", err)
	}
	root, err := os.MkdirTemp("", "certs-e2e-")
	if err != nil {
		return err
	}
	// The cluster runs as user postgres when we are root: it must reach its directory.
	if err := os.Chmod(root, 0o755); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "e2e: working directory %s (kept after a failure or with E2E_KEEP=1)\n", root)
	workRoot = root

	if bed.pg, err = testbed.StartPostgres(filepath.Join(root, "pg")); err != nil {
		return err
	}
	metricsPort, err := testbed.FreePort()
	if err != nil {
		return err
	}
	bed.hostPage = testbed.HostPageDir(os.Getenv("CERTS_HOST_PAGE"), filepath.Join("..", "webapp", "host", "dist"))
	if bed.hostPage == "" {
		fmt.Fprintln(os.Stderr, "e2e: no host page (CERTS_HOST_PAGE, or `npm run build:host` in webapp/): the tests of the webapp bundle in a browser will be skipped")
	}
	bed.auditFile = filepath.Join(root, "mm", "audit.log")
	bed.metricsURL = fmt.Sprintf("http://127.0.0.1:%d", metricsPort)
	bed.mmOptions = testbed.MattermostOptions{
		ServerDir:  serverDir,
		WorkDir:    filepath.Join(root, "mm"),
		DataSource: bed.pg.DSN(),
		HostPage:   bed.hostPage,
		// Both work without a licence (checked in observability_e2e_test.go).
		Env: []string{
			"MM_EXPERIMENTALAUDITSETTINGS_FILEENABLED=true",
			"MM_EXPERIMENTALAUDITSETTINGS_FILENAME=" + bed.auditFile,
			"MM_METRICSSETTINGS_ENABLE=true",
			fmt.Sprintf("MM_METRICSSETTINGS_LISTENADDRESS=127.0.0.1:%d", metricsPort),
		},
	}
	if bed.mm, err = testbed.StartMattermost(bed.mmOptions); err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if bed.admin, err = bed.mm.CreateFirstUser(ctx, adminUsername, userPassword); err != nil {
		return err
	}
	if bed.team, err = testbed.EnsureTeam(ctx, bed.admin.Client, teamName, "End to end"); err != nil {
		return err
	}
	if _, err = bed.mm.DeployPlugin(ctx, bed.admin.Client, bundle); err != nil {
		return err
	}
	if bed.alice, err = createTestUser(ctx, "alice"); err != nil {
		return err
	}
	if bed.bob, err = createTestUser(ctx, "bob"); err != nil {
		return err
	}
	bot, _, err := bed.admin.Client.GetUserByUsername(ctx, botUsername, "")
	if err != nil {
		bed.botError = fmt.Errorf("the plugin's bot %q was not found: %w", botUsername, err)
	} else {
		bed.botID = bot.Id
	}
	return nil
}

// workRoot holds every server's files and logs; removed only after a clean
// run, so a failure can be investigated.
var (
	workRoot       string
	removeWorkRoot bool
)

func stopBed() {
	for _, user := range []*testUser{bed.alice, bed.bob} {
		if user != nil {
			user.ws.Close()
		}
	}
	if err := bed.mm.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
	}
	if err := bed.pg.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
	}
	if workRoot != "" && removeWorkRoot {
		_ = os.RemoveAll(workRoot)
	}
}

// requireBed skips the test when the environment cannot run it.
func requireBed(t *testing.T) {
	t.Helper()
	if bed.skipReason != "" {
		t.Skip(bed.skipReason)
	}
}
