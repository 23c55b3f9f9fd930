package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/mattermost/mattermost/server/public/plugin/plugintest"
	"github.com/mattermost/mattermost/server/public/pluginapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/config"
	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/observe/audittest"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"
)

const (
	testSiteURL = "https://chat.example.com"
	testBotID   = "botuserid00000000000000000"
)

// testEnv is a plugin wired to a server API (plugintest's mock, with the
// calls every request makes served by fakeAPI) and a real in-memory KV
// store, with a clock the test controls.
type testEnv struct {
	t     testing.TB
	p     *Plugin
	api   *plugintest.API
	kv    *pluginapi.MemoryStore
	users map[string]*model.User
	// roles are the server's roles and the permissions each grants.
	roles map[string][]string
	// usersByID indexes users by id (see userByID).
	usersByID sync.Map
	logMu     sync.Mutex
	errors    []string
	logs      []logLine

	postMu sync.Mutex
	// portalMails are the emails the portal's notifier sent (newPortalEnv).
	portalMails []string
	ephemerals  []*model.Post
	dms         []*model.Post
	dialogs     []model.OpenDialogRequest

	clockMu sync.Mutex
	clock   time.Time

	// audits are the audit records the plugin wrote (see audit_test.go).
	audits audittest.Log
}

func newTestEnv(t testing.TB) *testEnv {
	t.Helper()
	env := &testEnv{
		t:     t,
		api:   &plugintest.API{},
		kv:    &pluginapi.MemoryStore{},
		clock: time.Now(),
		users: map[string]*model.User{
			"alice": {Id: model.NewId(), Username: "alice", Email: "alice@example.com"},
			"bob":   {Id: model.NewId(), Username: "bob", Email: "bob@example.com"},
			"gone":  {Id: model.NewId(), Username: "gone", Email: "gone@example.com", DeleteAt: 1},
		},
		roles: map[string][]string{
			model.SystemUserRoleId:  {model.PermissionCreatePost.Id},
			model.SystemAdminRoleId: {model.PermissionCreatePost.Id, model.PermissionManageSystem.Id},
			"it_admins":             {model.PermissionManageSystem.Id},
		},
	}
	api := env.api

	siteURL := testSiteURL
	siteName := "Example"
	api.On("GetConfig").Return(&model.Config{
		ServiceSettings: model.ServiceSettings{SiteURL: &siteURL},
		TeamSettings:    model.TeamSettings{SiteName: &siteName},
	}).Maybe()
	api.On("GetPost", mock.AnythingOfType("string")).Return(
		func(id string) *model.Post { return env.postByID(id) },
		func(id string) *model.AppError {
			if env.postByID(id) == nil {
				return model.NewAppError("GetPost", "not_found", nil, "", http.StatusNotFound)
			}
			return nil
		}).Maybe()
	api.On("UpdatePost", mock.AnythingOfType("*model.Post")).Return(
		func(post *model.Post) *model.Post {
			env.postMu.Lock()
			defer env.postMu.Unlock()
			for i, p := range env.dms {
				if p.Id == post.Id {
					env.dms[i] = post.Clone()
				}
			}
			return post
		},
		func(*model.Post) *model.AppError { return nil }).Maybe()
	api.On("GetUserByUsername", mock.AnythingOfType("string")).Return(
		func(name string) *model.User { return env.users[name] },
		func(name string) *model.AppError {
			if env.users[name] == nil {
				return model.NewAppError("GetUserByUsername", "not_found", nil, "", http.StatusNotFound)
			}
			return nil
		}).Maybe()
	api.On("GetUsers", mock.AnythingOfType("*model.UserGetOptions")).Return(
		func(opts *model.UserGetOptions) []*model.User {
			if opts.Role != "" {
				return env.usersWithRole(opts)
			}
			if opts.Inactive && opts.Page == 0 {
				var inactive []*model.User
				for _, u := range env.users {
					if u.DeleteAt != 0 {
						inactive = append(inactive, u)
					}
				}
				return inactive
			}
			return nil
		},
		func(*model.UserGetOptions) *model.AppError { return nil }).Maybe()
	api.On("OpenInteractiveDialog", mock.AnythingOfType("model.OpenDialogRequest")).Return(
		func(req model.OpenDialogRequest) *model.AppError {
			env.postMu.Lock()
			defer env.postMu.Unlock()
			env.dialogs = append(env.dialogs, req)
			return nil
		}).Maybe()
	// The web app's enroll modal, opened from a reminder's Renew.
	api.On("PublishWebSocketEvent", mock.AnythingOfType("string"), mock.Anything, mock.Anything).Maybe()

	// Teams: alice is in engineering; carol is a system admin.
	env.users["carol"] = &model.User{Id: model.NewId(), Username: "carol", Email: "carol@example.com", Roles: model.SystemUserRoleId + " " + model.SystemAdminRoleId}
	engineering := &model.Team{Id: model.NewId(), Name: "engineering"}
	api.On("GetTeamByName", mock.AnythingOfType("string")).Return(
		func(name string) *model.Team {
			if name == engineering.Name {
				return engineering
			}
			return nil
		},
		func(name string) *model.AppError {
			if name == engineering.Name {
				return nil
			}
			return model.NewAppError("GetTeamByName", "not_found", nil, "", http.StatusNotFound)
		}).Maybe()
	api.On("GetTeamMember", mock.AnythingOfType("string"), mock.AnythingOfType("string")).Return(
		func(teamID, userID string) *model.TeamMember {
			if teamID == engineering.Id && userID == env.users["alice"].Id {
				return &model.TeamMember{TeamId: teamID, UserId: userID}
			}
			return nil
		},
		func(teamID, userID string) *model.AppError {
			if teamID == engineering.Id && userID == env.users["alice"].Id {
				return nil
			}
			return model.NewAppError("GetTeamMember", "not_found", nil, "", http.StatusNotFound)
		}).Maybe()
	api.On("PublishPluginClusterEvent", mock.Anything, mock.Anything).Return(nil).Maybe()
	// The permission system grants manage_system to carol and to the
	// custom role it_admins; a role name alone grants nothing.
	api.On("RolesGrantPermission", mock.Anything, mock.AnythingOfType("string")).Return(
		func(roles []string, permission string) bool {
			for _, role := range roles {
				if slices.Contains(env.roles[role], permission) {
					return true
				}
			}
			return false
		}).Maybe()
	api.On("HasPermissionTo", mock.AnythingOfType("string"), model.PermissionManageSystem).Return(
		func(userID string, _ *model.Permission) bool {
			for _, u := range env.users {
				if u.Id == userID {
					return u.Username == "carol" || strings.Contains(u.Roles, "it_admins")
				}
			}
			return false
		}).Maybe()

	p := NewPlugin()
	server := &fakeAPI{API: api, env: env}
	p.SetAPI(server)
	p.client = pluginapi.NewClient(server, &plugintest.Driver{})
	p.store = store.New(env.kv)
	p.secrets = &config.Secrets{KV: p.store, Now: func() time.Time { return p.now() }}
	// The records stay in the KV store here: these tests are not about
	// the database (server/sqlstore's are, and the end-to-end tests).
	p.inventory = p.store
	p.now = env.now
	var mutexes sync.Map
	p.newMutex = func(name string) (locker, error) {
		m, _ := mutexes.LoadOrStore(name, &sync.Mutex{})
		return m.(*sync.Mutex), nil
	}
	p.caKeeper = p.newCAKeeper()
	p.buildAdapters(testBotID)
	p.admins.RoleNames = func(permission string) ([]string, error) {
		var names []string
		for name, permissions := range env.roles {
			if slices.Contains(permissions, permission) {
				names = append(names, name)
			}
		}
		slices.Sort(names)
		return names, nil
	}
	p.router = p.newRouter()
	env.p = p

	cfg := &config.Configuration{
		LinkSigningSecret: strings.Repeat("s", 43),
		EncryptionSecret:  strings.Repeat("e", 43),
	}
	cfg.SetDefaults()
	env.configure(cfg)
	return env
}

// configure applies c and requires the plugin to be ready to issue.
func (env *testEnv) configure(c *config.Configuration) {
	env.t.Helper()
	env.p.setConfiguration(c)
	env.p.applyConfiguration(c)
	_, err := env.p.current.Get()
	require.NoError(env.t, err)
}

func (env *testEnv) now() time.Time {
	env.clockMu.Lock()
	defer env.clockMu.Unlock()
	return env.clock
}

func (env *testEnv) advance(d time.Duration) {
	env.clockMu.Lock()
	defer env.clockMu.Unlock()
	env.clock = env.clock.Add(d)
}

// usersWithRole answers GetUsers with a role as the server does: the
// accounts whose roles contain the role's name (a substring), by
// username, a page at a time.
func (env *testEnv) usersWithRole(opts *model.UserGetOptions) []*model.User {
	var matching []*model.User
	for _, u := range env.users {
		if strings.Contains(u.Roles, opts.Role) && (!opts.Active || u.DeleteAt == 0) {
			matching = append(matching, u)
		}
	}
	slices.SortFunc(matching, func(a, b *model.User) int { return strings.Compare(a.Username, b.Username) })
	from := min(opts.Page*opts.PerPage, len(matching))
	return matching[from:min(from+opts.PerPage, len(matching))]
}

// userByID finds a user by id: through an index in front of the scan, as a
// benchmark's every request looks its user up among hundreds. A user the
// index holds is checked against env.users, which tests change directly.
func (env *testEnv) userByID(id string) *model.User {
	if u, ok := env.usersByID.Load(id); ok && env.users[u.(*model.User).Username] == u {
		return u.(*model.User)
	}
	for _, u := range env.users {
		if u.Id == id {
			env.usersByID.Store(id, u)
			return u
		}
	}
	return nil
}

// addUsers adds n users named prefix1 … prefixN, before the test sends
// requests, and returns their names.
func (env *testEnv) addUsers(prefix string, n int) []string {
	names := make([]string, 0, n)
	for i := range n {
		name := fmt.Sprintf("%s%d", prefix, i+1)
		env.users[name] = &model.User{Id: model.NewId(), Username: name, Email: name + "@example.com"}
		names = append(names, name)
	}
	return names
}

func (env *testEnv) user(name string) *model.User {
	u, ok := env.users[name]
	require.True(env.t, ok, "unknown test user %s", name)
	return u
}

// token mints an issue link for a user under the default profile and
// returns its token.
func (env *testEnv) token(username string) string {
	env.t.Helper()
	return env.tokenFor(username, "default")
}

// tokenFor mints an issue link for a user and profile and returns its token.
func (env *testEnv) tokenFor(username, profileName string) string {
	env.t.Helper()
	s, err := env.p.current.Get()
	require.NoError(env.t, err)
	link, err := env.linkURL(s, username, profileName, linktoken.PurposeIssue)
	require.NoError(env.t, err)
	u, err := url.Parse(link)
	require.NoError(env.t, err)
	require.Equal(env.t, "/plugins/certs/issue", u.Path)
	return u.Query().Get("token")
}

// request sends a request to the plugin's router, as the server would after
// stripping /plugins/<id>. asUser sets the server-verified user header.
func (env *testEnv) request(method, target string, body string, asUser string, headers ...string) *httptest.ResponseRecorder {
	env.t.Helper()
	return env.serve(env.newRequest(method, target, body, asUser, headers...))
}

// newRequest makes a request as the server hands it to the plugin: a form
// body for a POST, asUser signed in, and the headers given in pairs.
func (env *testEnv) newRequest(method, target string, body string, asUser string, headers ...string) *http.Request {
	env.t.Helper()
	var r *http.Request
	if body != "" {
		r = httptest.NewRequest(method, target, strings.NewReader(body))
	} else {
		r = httptest.NewRequest(method, target, nil)
	}
	if method == http.MethodPost && body != "" {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if asUser != "" {
		r.Header.Set(web.MattermostUserHeader, env.user(asUser).Id)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	return r
}

// serve has the plugin answer r.
func (env *testEnv) serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	env.p.ServeHTTP(nil, w, r)
	return w
}

func (env *testEnv) lastEphemeral() *model.Post {
	env.postMu.Lock()
	defer env.postMu.Unlock()
	require.NotEmpty(env.t, env.ephemerals, "no ephemeral post was sent")
	return env.ephemerals[len(env.ephemerals)-1]
}

func (env *testEnv) dmsTo(username string) []*model.Post {
	env.postMu.Lock()
	defer env.postMu.Unlock()
	var out []*model.Post
	for _, p := range env.dms {
		if p.ChannelId == "dm_"+env.user(username).Id {
			out = append(out, p)
		}
	}
	return out
}

func (env *testEnv) postByID(id string) *model.Post {
	env.postMu.Lock()
	defer env.postMu.Unlock()
	for _, p := range env.dms {
		if p.Id == id {
			return p.Clone()
		}
	}
	return nil
}

func (env *testEnv) loggedErrors() []string {
	env.logMu.Lock()
	defer env.logMu.Unlock()
	return append([]string(nil), env.errors...)
}

func TestActivatedPluginIsReady(t *testing.T) {
	env := newTestEnv(t)
	s, err := env.p.current.Get()
	require.NoError(t, err)
	chain, err := s.Core.Connectors["builtin"].Chain(context.Background())
	require.NoError(t, err)
	require.Len(t, chain, 2, "built-in CA serves issuing CA and root")
	require.Empty(t, env.loggedErrors())
}

// fakeAPI serves the server calls every request makes (users, posts, logs)
// from the test environment, without the mock's argument matching, which
// would cost more than the plugin's own work in a benchmark. Everything
// else goes to the mock.
type fakeAPI struct {
	*plugintest.API
	env *testEnv
}

func (a *fakeAPI) GetUser(id string) (*model.User, *model.AppError) {
	if u := a.env.userByID(id); u != nil {
		return u, nil
	}
	return nil, model.NewAppError("GetUser", "not_found", nil, "", http.StatusNotFound)
}

func (a *fakeAPI) SendEphemeralPost(userID string, post *model.Post) *model.Post {
	a.env.postMu.Lock()
	defer a.env.postMu.Unlock()
	cp := post.Clone()
	cp.AddProp("to", userID)
	a.env.ephemerals = append(a.env.ephemerals, cp)
	return cp
}

func (a *fakeAPI) GetDirectChannel(userID1, userID2 string) (*model.Channel, *model.AppError) {
	if userID1 != testBotID {
		return nil, model.NewAppError("GetDirectChannel", "unexpected", nil, "only the bot opens DMs", http.StatusBadRequest)
	}
	return &model.Channel{Id: "dm_" + userID2}, nil
}

func (a *fakeAPI) CreatePost(post *model.Post) (*model.Post, *model.AppError) {
	a.env.postMu.Lock()
	defer a.env.postMu.Unlock()
	cp := post.Clone()
	cp.Id = model.NewId()
	a.env.dms = append(a.env.dms, cp)
	return cp, nil
}

func (a *fakeAPI) LogDebug(msg string, keyValuePairs ...any) { a.env.log("debug", msg, keyValuePairs) }
func (a *fakeAPI) LogInfo(msg string, keyValuePairs ...any)  { a.env.log("info", msg, keyValuePairs) }
func (a *fakeAPI) LogWarn(msg string, keyValuePairs ...any)  { a.env.log("warn", msg, keyValuePairs) }
func (a *fakeAPI) LogError(msg string, keyValuePairs ...any) { a.env.log("error", msg, keyValuePairs) }

// logLine is one call of a log method.
type logLine struct {
	level, msg string
	fields     []any
}

// log keeps every log line, message and fields, so that tests can look for
// what must never be logged. Lines are formatted only when read.
func (env *testEnv) log(level, msg string, keyValuePairs []any) {
	env.logMu.Lock()
	defer env.logMu.Unlock()
	env.logs = append(env.logs, logLine{level: level, msg: msg, fields: keyValuePairs})
	if level == "error" {
		env.errors = append(env.errors, msg)
	}
}

// loggedLines is every log line so far, at every level, with its fields.
func (env *testEnv) loggedLines() []string {
	env.logMu.Lock()
	defer env.logMu.Unlock()
	lines := make([]string, 0, len(env.logs))
	for _, l := range env.logs {
		lines = append(lines, l.level+" "+l.msg+" "+fmt.Sprintln(l.fields...))
	}
	return lines
}

// The server's Site URL and name are read once per configuration change,
// not per request (GetConfig copies the whole server configuration over
// RPC), and a change reaches the next link.
func TestServerSettingsAreReadOncePerConfigurationChange(t *testing.T) {
	env := newTestEnv(t)
	getConfigCalls := func() int {
		n := 0
		for _, call := range env.api.Calls {
			if call.Method == "GetConfig" {
				n++
			}
		}
		return n
	}
	before := getConfigCalls()
	for range 5 {
		env.token("alice")
	}
	assert.Equal(t, before, getConfigCalls(), "minting links reads no server configuration")

	moved := "https://certs.example.org/"
	env.api.ExpectedCalls = removeCalls(env.api.ExpectedCalls, "GetConfig")
	env.api.On("GetConfig").Return(&model.Config{ServiceSettings: model.ServiceSettings{SiteURL: &moved}})
	env.configure(env.p.getConfiguration())
	s, err := env.p.current.Get()
	require.NoError(t, err)
	link, err := env.linkURL(s, "alice", "default", linktoken.PurposeIssue)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(link, "https://certs.example.org/plugins/certs/issue?token="), link)
}

// The inventory lives in PostgreSQL: a server on MySQL is refused at
// activation, with the reason.
func TestActivationRefusesMySQL(t *testing.T) {
	env := newTestEnv(t)
	driver := "mysql"
	env.api.ExpectedCalls = removeCalls(env.api.ExpectedCalls, "GetConfig")
	env.api.On("GetConfig").Return(&model.Config{SqlSettings: model.SqlSettings{DriverName: &driver}})
	_, err := env.p.openInventory()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "needs PostgreSQL")
	assert.Contains(t, err.Error(), `"mysql"`)
}
