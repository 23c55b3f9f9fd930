//go:build e2e

package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/clientcerts/mattermost-plugin-certs/e2e/testbed"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

const (
	adminUsername = "loadadmin"
	// Mattermost's default password policy wants at least 8 characters.
	password = "Load-passw0rd!"
	teamName = "load"
	botName  = "certs-bot"
)

// target is the server under load and what the tool knows of it.
type target struct {
	srv   *server
	admin *model.Client4
	meter cpuMeter
	// profiles maps a key type to the profile that generates it ("" for
	// the server's default profile).
	profiles map[pki.KeyType]string
	teamID   string
	version  string
	// dsn reaches the database directly (the tool's own bed only): the
	// inventory scenario seeds it.
	dsn  string
	stop func()
}

// startBed starts PostgreSQL and Mattermost on loopback with the plugin
// installed, as the end-to-end tests do, and one profile per key type.
func startBed(ctx context.Context, o options) (*target, error) {
	root, err := os.MkdirTemp("", "certload-")
	if err != nil {
		return nil, err
	}
	// As root, the cluster belongs to user postgres, which must reach it.
	if err := os.Chmod(root, 0o755); err != nil {
		return nil, err
	}
	pg, err := testbed.StartPostgres(filepath.Join(root, "pg"))
	if err != nil {
		return nil, err
	}
	mm, err := testbed.StartMattermostContext(ctx, testbed.MattermostOptions{
		ServerDir: o.serverDir, WorkDir: filepath.Join(root, "mm"), DataSource: pg.DSN(),
		// What a production server logs; the tool's own progress is on
		// standard output.
		Env: []string{"MM_LOGSETTINGS_CONSOLELEVEL=WARN", "MM_TEAMSETTINGS_MAXUSERSPERTEAM=100000"},
	})
	if err != nil {
		_ = pg.Stop()
		return nil, err
	}
	stop := func() {
		if err := mm.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "certload:", err)
		}
		if err := pg.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "certload:", err)
		}
		if o.keep {
			fmt.Printf("Kept the test bed in %s\n", root)
			return
		}
		_ = os.RemoveAll(root)
	}
	t, err := provisionBed(ctx, o, mm)
	if err != nil {
		fmt.Fprintf(os.Stderr, "certload: Mattermost log tail:\n%s\n", mm.LogTail(30))
		stop()
		return nil, err
	}
	t.meter = cpuMeter{mattermostPID: mm.PID(), postgresPID: pg.PID()}
	t.dsn = pg.DSN()
	t.stop = stop
	return t, nil
}

func provisionBed(ctx context.Context, o options, mm *testbed.Mattermost) (*target, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	admin, err := mm.CreateFirstUser(ctx, adminUsername, password)
	if err != nil {
		return nil, err
	}
	team, err := testbed.EnsureTeam(ctx, admin.Client, teamName, "Load")
	if err != nil {
		return nil, err
	}
	if _, err := mm.DeployPlugin(ctx, admin.Client, o.bundle); err != nil {
		return nil, err
	}
	t := &target{srv: newServer(mm.URL, o.concurrency), admin: admin.Client, teamID: team.Id, stop: func() {}}
	if err := t.configureProfiles(ctx); err != nil {
		return nil, err
	}
	return t, t.identify(ctx)
}

// attach uses a server someone else runs: its admin token, its default
// profile (or -profile), and the CPU of the processes given.
func attach(ctx context.Context, o options) (*target, error) {
	admin := model.NewAPIv4Client(o.url)
	admin.SetToken(o.adminToken)
	me, _, err := admin.GetMe(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("the admin token does not sign in: %w", err)
	}
	if !me.IsSystemAdmin() {
		return nil, fmt.Errorf("%s is not a system admin", me.Username)
	}
	team, err := testbed.EnsureTeam(ctx, admin, teamName, "Load")
	if err != nil {
		return nil, err
	}
	t := &target{
		srv: newServer(o.url, o.concurrency), admin: admin, teamID: team.Id, stop: func() {},
		meter:    cpuMeter{mattermostPID: o.mattermostPID, postgresPID: o.postgresPID},
		profiles: map[pki.KeyType]string{pki.KeyType(o.keyType): o.profile},
	}
	return t, t.identify(ctx)
}

// identify finds the plugin's bot and the server's version.
func (t *target) identify(ctx context.Context) error {
	bot, _, err := t.admin.GetUserByUsername(ctx, botName, "")
	if err != nil {
		return fmt.Errorf("the plugin's bot %s: %w (is the plugin enabled?)", botName, err)
	}
	t.srv.botID = bot.Id
	_, resp, err := t.admin.GetPing(ctx)
	if err != nil {
		return err
	}
	t.version = resp.ServerVersion
	return nil
}

// configureProfiles saves one profile per key type through the admin API
// (the System Console's path), offered on the portal too, turns the
// portal's local accounts on (a password alone, no second factor), and
// waits until the plugin offers the profiles.
func (t *target) configureProfiles(ctx context.Context) error {
	type access struct {
		Portal bool `json:"portal"`
	}
	type profile struct {
		Name     string   `json:"name"`
		KeyTypes []string `json:"key_types"`
		Access   access   `json:"access"`
	}
	catalog := struct {
		Connectors     []map[string]string `json:"connectors"`
		Profiles       []profile           `json:"profiles"`
		DefaultProfile string              `json:"default_profile"`
	}{Connectors: []map[string]string{{"name": "builtin", "type": "builtin"}}, DefaultProfile: string(pki.KeyECDSAP256)}
	t.profiles = map[pki.KeyType]string{}
	for _, kt := range pki.KeyTypes {
		catalog.Profiles = append(catalog.Profiles, profile{Name: string(kt), KeyTypes: []string{string(kt)}, Access: access{Portal: true}})
		t.profiles[kt] = string(kt)
	}
	data, err := json.Marshal(catalog)
	if err != nil {
		return err
	}
	cfg, _, err := t.admin.GetConfig(ctx)
	if err != nil {
		return err
	}
	settings := cfg.PluginSettings.Plugins[pluginID]
	if settings == nil {
		settings = map[string]any{}
	}
	settings["connectorsandprofiles"] = string(data)
	settings["portallocalaccounts"] = true
	settings["portalsecondfactor"] = "off"
	cfg.PluginSettings.Plugins[pluginID] = settings
	if _, _, err := t.admin.UpdateConfig(ctx, cfg); err != nil {
		return fmt.Errorf("saving the profiles: %w", err)
	}
	probe := &account{token: t.admin.AuthToken}
	for deadline := time.Now().Add(time.Minute); ; {
		var offered []struct {
			Name string `json:"name"`
		}
		err := t.srv.do(ctx, probe, http.MethodGet, "/plugins/"+pluginID+"/api/v1/profiles", "", nil, http.StatusOK, &offered)
		if err == nil && slices.ContainsFunc(offered, func(p struct {
			Name string `json:"name"`
		}) bool {
			return p.Name == string(pki.KeyRSA4096)
		}) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the plugin did not offer the load profiles within a minute (last: %v)", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// createAccounts makes n users in the load team, signs each in, gives each
// a direct channel with the next one, and, for commands, a WebSocket.
func (t *target) createAccounts(ctx context.Context, n int, withWebSocket bool) ([]*account, error) {
	run := make([]byte, 3)
	if _, err := rand.Read(run); err != nil {
		return nil, err
	}
	prefix := "load" + hex.EncodeToString(run) + "u"
	accounts := make([]*account, n)
	errs := make([]error, n)
	townSquare := ""
	if channel, _, err := t.admin.GetChannelByName(ctx, model.DefaultChannelName, t.teamID, ""); err == nil {
		townSquare = channel.Id
	}
	// Passwords are hashed with bcrypt: a few at a time is as fast as it gets.
	runAll(n, 4, func(i int) {
		name := fmt.Sprintf("%s%d", prefix, i+1)
		user, _, err := t.admin.CreateUser(ctx, &model.User{Username: name, Email: testbed.Email(name), Password: password, EmailVerified: true})
		if err != nil {
			errs[i] = fmt.Errorf("creating %s: %w", name, err)
			return
		}
		if _, _, err := t.admin.AddTeamMember(ctx, t.teamID, user.Id); err != nil {
			errs[i] = fmt.Errorf("adding %s to the team: %w", name, err)
			return
		}
		client := model.NewAPIv4Client(t.srv.url)
		if _, _, err := client.Login(ctx, name, password); err != nil {
			errs[i] = fmt.Errorf("signing in as %s: %w", name, err)
			return
		}
		accounts[i] = &account{name: name, id: user.Id, token: client.AuthToken, townSquare: townSquare}
	})
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	var mu sync.Mutex
	var firstErr error
	runAll(n, 8, func(i int) {
		a, next := accounts[i], accounts[(i+1)%n]
		client := model.NewAPIv4Client(t.srv.url)
		client.SetToken(a.token)
		channel, _, err := client.CreateDirectChannel(ctx, a.id, next.id)
		if err == nil {
			a.dmChannel = channel.Id
		}
		if err == nil && withWebSocket {
			a.ws, err = (&testbed.Mattermost{URL: t.srv.url}).ConnectWebSocket(a.token)
		}
		if err != nil {
			mu.Lock()
			firstErr = cmp.Or(firstErr, fmt.Errorf("setting up %s: %w", a.name, err))
			mu.Unlock()
		}
	})
	return accounts, firstErr
}
