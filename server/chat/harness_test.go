package chat

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/mattermost/mattermost/server/public/model"
	"github.com/mattermost/mattermost/server/public/pluginapi"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/clientcerts/mattermost-plugin-certs/server/admission"
	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/config/configtest"
	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/local"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/sealbox"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"
)

// The door runs here on a real core (the KV store's records over an
// in-memory KV, the built-in CA, a real token minter) with a server and a
// directory that record what they were asked: the words are the door's,
// the rules the core's (tested in server/enroll), and the whole plugin's
// wiring is tested in package main.

const (
	testSiteURL = "https://chat.example.com"
	testBotID   = "bot-id"
)

// fakeAPI is the server: it keeps the posts and dialogs the door sends.
type fakeAPI struct {
	mu         sync.Mutex
	ephemerals []*model.Post
	dialogs    []model.OpenDialogRequest
	dialogErr  *model.AppError
	admins     map[string]bool // user ids granted manage_system
	users      map[string]*model.User
	bundle     string
	logs       []string
	audits     []*model.AuditRecord
	mails      []string // to + "\n" + subject + "\n" + body
	events     []publishedEvent
}

// publishedEvent is a WebSocket event the door sent.
type publishedEvent struct {
	Event  string
	Data   map[string]any
	UserID string
}

func (a *fakeAPI) PublishWebSocketEvent(event string, payload map[string]any, broadcast *model.WebsocketBroadcast) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, publishedEvent{Event: event, Data: payload, UserID: broadcast.UserId})
}

func (a *fakeAPI) SendMail(to, subject, body string) *model.AppError {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.mails = append(a.mails, to+"\n"+subject+"\n"+body)
	return nil
}

func (a *fakeAPI) SendEphemeralPost(userID string, post *model.Post) *model.Post {
	a.mu.Lock()
	defer a.mu.Unlock()
	cp := post.Clone()
	cp.AddProp("to", userID)
	a.ephemerals = append(a.ephemerals, cp)
	return cp
}

func (a *fakeAPI) OpenInteractiveDialog(dialog model.OpenDialogRequest) *model.AppError {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.dialogErr != nil {
		return a.dialogErr
	}
	a.dialogs = append(a.dialogs, dialog)
	return nil
}

func (a *fakeAPI) HasPermissionTo(userID string, permission *model.Permission) bool {
	return permission.Id == model.PermissionManageSystem.Id && a.admins[userID]
}

func (a *fakeAPI) GetUserByUsername(name string) (*model.User, *model.AppError) {
	if u, ok := a.users[name]; ok {
		return u, nil
	}
	return nil, model.NewAppError("GetUserByUsername", "not_found", nil, "", http.StatusNotFound)
}

func (a *fakeAPI) GetBundlePath() (string, error) {
	if a.bundle == "" {
		return "", fmt.Errorf("no bundle")
	}
	return a.bundle, nil
}

func (a *fakeAPI) LogAuditRec(rec *model.AuditRecord) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.audits = append(a.audits, rec)
}

func (a *fakeAPI) log(level, msg string, kv []any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.logs = append(a.logs, level+" "+msg+" "+fmt.Sprint(kv...))
}

func (a *fakeAPI) LogInfo(msg string, kv ...any)  { a.log("info", msg, kv) }
func (a *fakeAPI) LogWarn(msg string, kv ...any)  { a.log("warn", msg, kv) }
func (a *fakeAPI) LogError(msg string, kv ...any) { a.log("error", msg, kv) }

func (a *fakeAPI) loggedLines() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return strings.Join(a.logs, "\n")
}

// directory is the accounts: the door's Directory and the core's; the
// system admins (the API's) approve what names no approver.
type directory struct {
	api      *fakeAPI
	accounts map[records.Principal]*enroll.Requester
}

func (d *directory) Requester(userID string) (*enroll.Requester, error) {
	return d.Lookup(records.MattermostUser(userID))
}

func (d *directory) Lookup(p records.Principal) (*enroll.Requester, error) {
	if r, ok := d.accounts[p]; ok {
		return r, nil
	}
	return nil, fmt.Errorf("no account %s", p)
}

func (d *directory) OwnerName(owner records.Principal) string {
	if r, ok := d.accounts[owner]; ok {
		return "@" + r.Username
	}
	return string(owner)
}

func (d *directory) ActorName(actor string) string { return d.OwnerName(records.ActorOf(actor)) }

func (d *directory) Admits(r *enroll.Requester, a profile.Access) bool {
	return a.Everyone() || d.IsAdmin(r)
}

func (d *directory) Approvers(string, []string) []records.Principal {
	var approvers []records.Principal
	for id := range d.api.admins {
		approvers = append(approvers, records.MattermostUser(id))
	}
	return approvers
}

func (d *directory) IsAdmin(r *enroll.Requester) bool {
	return d.api.admins[r.Principal.MattermostUserID()]
}

// chatEnv is a door over a core, and the clock they share.
type chatEnv struct {
	t       testing.TB
	door    *Door
	api     *fakeAPI
	dir     *directory
	store   *store.Store
	current *app.Current
	router  *mux.Router

	clockMu sync.Mutex
	clock   time.Time
}

func (env *chatEnv) now() time.Time {
	env.clockMu.Lock()
	defer env.clockMu.Unlock()
	return env.clock
}

// newChatEnv is a door over a core with catalog ("" for the default
// profile only); alice and bob are users, carol a system admin.
func newChatEnv(t testing.TB, catalog string) *chatEnv {
	t.Helper()
	env := &chatEnv{t: t, clock: time.Now()}
	env.api = &fakeAPI{admins: map[string]bool{}, users: map[string]*model.User{}}
	env.dir = &directory{api: env.api, accounts: map[records.Principal]*enroll.Requester{}}
	for _, name := range []string{"alice", "bob", "carol"} {
		env.api.users[name] = &model.User{Id: userID(name), Username: name}
		env.dir.accounts[records.MattermostUser(userID(name))] = &enroll.Requester{Principal: records.MattermostUser(userID(name)),
			Username: name, Email: name + "@example.com", EmailVerified: true, Active: true}
	}
	env.api.admins[userID("carol")] = true

	cfg := configtest.Valid()
	cfg.ConnectorsAndProfiles = catalog
	parsed, err := cfg.Catalog()
	require.NoError(t, err)
	h, err := pki.GenerateHierarchy("Test", env.now())
	require.NoError(t, err)
	minter, err := linktoken.NewMinter(cfg.LinkSigningSecret, env.now)
	require.NoError(t, err)
	sealKey, err := sealbox.NewKey(cfg.EncryptionSecret)
	require.NoError(t, err)
	env.store = store.New(&pluginapi.MemoryStore{}, store.WithClock(env.now))
	core := enroll.New(enroll.Settings{
		Catalog: parsed, Connectors: map[string]connector.Connector{"builtin": connector.NewBuiltin("builtin", h.CA(), env.now)},
		Minter: minter, PKCS12Format: pki.PKCS12Compatible, SealKey: sealKey, LinkLifetime: cfg.LinkLifetime(),
		IdentityHost: "chat.example.com",
	}, enroll.Ports{Inventory: env.store, Directories: map[string]enroll.Directory{records.KindMattermost: env.dir},
		Log: env.api, Clock: env.now, RSAKeys: admission.NewQueue(1, 60)})

	env.current = &app.Current{}
	env.current.SetSite(&app.Site{URL: testSiteURL, Name: "Example", Host: "chat.example.com", PluginID: "certs"})
	env.current.Store(&app.Snapshot{Config: cfg, Catalog: parsed, Core: core})
	env.door = &Door{API: env.api, Current: env.current, Directory: env.dir, BotID: testBotID,
		Manifest: &model.Manifest{Id: "certs", Name: "Client Certificates", Version: "9.8.7"}, Now: env.now,
		Accounts: &local.Accounts{Store: env.store, Now: env.now, Cost: bcrypt.MinCost, Throttle: &local.Throttle{Store: env.store, Now: env.now}}}
	env.router = web.NewRouter(env.api)
	env.door.Mount(env.router)
	return env
}

// userID is a test user's Mattermost id.
func userID(name string) string { return "id-" + name }

// run executes a /cert command as username and returns the bot's reply.
func (env *chatEnv) run(username, command string) string {
	env.t.Helper()
	resp, appErr := env.door.Execute(&model.CommandArgs{Command: command, UserId: userID(username), ChannelId: "channel1", RootId: "root1"})
	require.Nil(env.t, appErr)
	require.NotNil(env.t, resp)
	env.api.mu.Lock()
	defer env.api.mu.Unlock()
	require.NotEmpty(env.t, env.api.ephemerals, "no ephemeral post was sent")
	post := env.api.ephemerals[len(env.api.ephemerals)-1]
	require.Equal(env.t, testBotID, post.UserId, "replies come from the bot")
	require.Equal(env.t, "channel1", post.ChannelId)
	require.Equal(env.t, "root1", post.RootId, "replies stay in the thread")
	require.Equal(env.t, userID(username), post.GetProp("to"))
	return post.Message
}

// requester is a test user as the core sees them.
func (env *chatEnv) requester(name string) *enroll.Requester {
	env.t.Helper()
	r, err := env.dir.Requester(userID(name))
	require.NoError(env.t, err)
	return r
}

// core is the core in use.
func (env *chatEnv) core() *enroll.Core {
	env.t.Helper()
	s, err := env.current.Get()
	require.NoError(env.t, err)
	return s.Core
}

// issue makes a certificate of profileName for username, as the JSON API
// does.
func (env *chatEnv) issue(username, profileName string) *records.Certificate {
	env.t.Helper()
	outcome, err := env.core().Enroll(context.Background(), env.requester(username), profileName, enroll.Options{})
	require.NoError(env.t, err)
	require.NotNil(env.t, outcome.Issued)
	return outcome.Issued.Record
}

// request asks for a certificate of profileName, which needs an approver,
// as username: the request that waits.
func (env *chatEnv) request(username, profileName string) *records.Request {
	env.t.Helper()
	start, err := env.core().StartEnrollment(env.requester(username), enroll.StartRequest{Profile: profileName})
	require.NoError(env.t, err)
	require.NotNil(env.t, start.Request)
	return start.Request
}

// serve sends a request to the door's routes as username ("" for none).
func (env *chatEnv) serve(method, target string, body any, username string) *httptest.ResponseRecorder {
	env.t.Helper()
	var r *http.Request
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(env.t, err)
		r = httptest.NewRequest(method, target, strings.NewReader(string(raw)))
		r.Header.Set("Content-Type", "application/json")
	} else {
		r = httptest.NewRequest(method, target, nil)
	}
	if username != "" {
		r.Header.Set(web.MattermostUserHeader, userID(username))
	}
	w := httptest.NewRecorder()
	env.router.ServeHTTP(w, r)
	return w
}

// click presses a button whose context is ctx, on route, as username.
func (env *chatEnv) click(username, route string, ctx map[string]any) model.PostActionIntegrationResponse {
	env.t.Helper()
	w := env.serve(http.MethodPost, route, model.PostActionIntegrationRequest{UserId: "spoofed", TriggerId: "trigger-1", Context: ctx}, username)
	require.Equal(env.t, http.StatusOK, w.Code, w.Body.String())
	return decodeJSON[model.PostActionIntegrationResponse](env.t, w.Body.Bytes())
}

func decodeJSON[T any](t testing.TB, body []byte) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(body, &v), string(body))
	return v
}
