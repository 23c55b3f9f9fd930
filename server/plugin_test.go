package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/mattermost/mattermost/server/public/plugin/plugintest"
	"github.com/mattermost/mattermost/server/public/pluginapi"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

const (
	testSiteURL = "https://chat.example.com"
	testBotID   = "botuserid00000000000000000"
)

// testEnv is a plugin wired to a mocked server API (plugintest) and a real
// in-memory KV store, with a clock the test controls.
type testEnv struct {
	t      testing.TB
	p      *Plugin
	api    *plugintest.API
	kv     *pluginapi.MemoryStore
	users  map[string]*model.User
	logMu  sync.Mutex
	errors []string

	postMu     sync.Mutex
	ephemerals []*model.Post
	dms        []*model.Post
	dialogs    []model.OpenDialogRequest

	clockMu sync.Mutex
	clock   time.Time
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
	}
	api := env.api
	env.allowLogs()

	siteURL := testSiteURL
	siteName := "Example"
	api.On("GetConfig").Return(&model.Config{
		ServiceSettings: model.ServiceSettings{SiteURL: &siteURL},
		TeamSettings:    model.TeamSettings{SiteName: &siteName},
	}).Maybe()
	api.On("GetUser", mock.AnythingOfType("string")).Return(
		func(id string) *model.User { return env.userByID(id) },
		func(id string) *model.AppError {
			if env.userByID(id) == nil {
				return model.NewAppError("GetUser", "not_found", nil, "", http.StatusNotFound)
			}
			return nil
		}).Maybe()
	api.On("SendEphemeralPost", mock.AnythingOfType("string"), mock.AnythingOfType("*model.Post")).Return(
		func(userID string, post *model.Post) *model.Post {
			env.postMu.Lock()
			defer env.postMu.Unlock()
			cp := post.Clone()
			cp.AddProp("to", userID)
			env.ephemerals = append(env.ephemerals, cp)
			return cp
		}).Maybe()
	api.On("GetDirectChannel", testBotID, mock.AnythingOfType("string")).Return(
		func(_, userID string) *model.Channel { return &model.Channel{Id: "dm_" + userID} },
		func(_, _ string) *model.AppError { return nil }).Maybe()
	api.On("CreatePost", mock.AnythingOfType("*model.Post")).Return(
		func(post *model.Post) *model.Post {
			env.postMu.Lock()
			defer env.postMu.Unlock()
			cp := post.Clone()
			cp.Id = model.NewId()
			env.dms = append(env.dms, cp)
			return cp
		},
		func(*model.Post) *model.AppError { return nil }).Maybe()
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
			if opts.Role == model.SystemAdminRoleId && opts.Page == 0 {
				return []*model.User{env.users["carol"]}
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

	// Teams: alice is in engineering; carol is a system admin.
	env.users["carol"] = &model.User{Id: model.NewId(), Username: "carol", Email: "carol@example.com"}
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
	api.On("HasPermissionTo", mock.AnythingOfType("string"), model.PermissionManageSystem).Return(
		func(userID string, _ *model.Permission) bool { return userID == env.users["carol"].Id }).Maybe()

	p := NewPlugin()
	p.SetAPI(api)
	p.client = pluginapi.NewClient(api, &plugintest.Driver{})
	p.store = store.New(env.kv)
	p.now = env.now
	var mutexes sync.Map
	p.newMutex = func(name string) (locker, error) {
		m, _ := mutexes.LoadOrStore(name, &sync.Mutex{})
		return m.(*sync.Mutex), nil
	}
	p.botUserID = testBotID
	p.router = p.newRouter()
	env.p = p

	cfg := &configuration{
		LinkSigningSecret: strings.Repeat("s", 43),
		EncryptionSecret:  strings.Repeat("e", 43),
	}
	cfg.setDefaults()
	env.configure(cfg)
	return env
}

// configure applies c and requires the plugin to be ready to issue.
func (env *testEnv) configure(c *configuration) {
	env.t.Helper()
	env.p.setConfiguration(c)
	env.p.applyConfiguration(c)
	_, err := env.p.getServices()
	require.NoError(env.t, err)
}

// allowLogs accepts log calls of any arity: the mock matches variadic
// arguments one by one.
func (env *testEnv) allowLogs() {
	for _, level := range []string{"LogDebug", "LogInfo", "LogWarn", "LogError"} {
		for n := 1; n <= 15; n += 2 {
			args := make([]any, n)
			for i := range args {
				args[i] = mock.Anything
			}
			call := env.api.On(level, args...).Maybe()
			if level == "LogError" {
				call.Run(func(a mock.Arguments) {
					env.logMu.Lock()
					defer env.logMu.Unlock()
					env.errors = append(env.errors, a.String(0))
				})
			}
		}
	}
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

func (env *testEnv) userByID(id string) *model.User {
	for _, u := range env.users {
		if u.Id == id {
			return u
		}
	}
	return nil
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
	s, err := env.p.getServices()
	require.NoError(env.t, err)
	link, _, err := env.p.mintLink(s, env.user(username).Id, profileName, linktoken.PurposeIssue)
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
		r.Header.Set(headerUserID, env.user(asUser).Id)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
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
	s, err := env.p.getServices()
	require.NoError(t, err)
	chain, err := s.connectors["builtin"].Chain(context.Background())
	require.NoError(t, err)
	require.Len(t, chain, 2, "built-in CA serves issuing CA and root")
	require.Empty(t, env.loggedErrors())
}
