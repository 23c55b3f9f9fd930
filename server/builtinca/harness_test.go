package builtinca

import (
	"crypto/x509"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/mattermost/mattermost/server/public/pluginapi"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/clocktest"
	"github.com/clientcerts/mattermost-plugin-certs/server/config"
	"github.com/clientcerts/mattermost-plugin-certs/server/config/configtest"
	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

const testSiteURL = "https://chat.example.com"

// node is one node of a cluster as the keeper sees it: a Keeper over a KV
// store (shared by the nodes of a test), and what the plugin would give
// it, recorded. Its rebuild is the plugin's applyConfiguration cut down to
// what the CAs need: the built-in connectors and a core over them.
type node struct {
	t      *testing.T
	kv     *pluginapi.MemoryStore
	store  *store.Store
	keeper *Keeper

	mu        sync.Mutex
	cfg       *config.Configuration
	clock     *clocktest.Clock
	notices   []string
	published []model.PluginClusterEvent
	sendTypes []string
	logs      []string
	errors    []string
	rebuilds  int
}

// newNode is a node over kv, configured with configtest.Valid.
func newNode(t *testing.T, kv *pluginapi.MemoryStore, clock *clocktest.Clock) *node {
	t.Helper()
	n := &node{t: t, kv: kv, store: store.New(kv), clock: clock}
	current := &app.Current{}
	current.SetSite(&app.Site{URL: testSiteURL, Name: "Example", Host: "chat.example.com"})
	var mutexes sync.Map
	n.keeper = &Keeper{
		Store: n.store,
		NewMutex: func(name string) (Locker, error) {
			m, _ := mutexes.LoadOrStore(name, &sync.Mutex{})
			return m.(*sync.Mutex), nil
		},
		Now:          clock.Now,
		Log:          n,
		Current:      current,
		PluginID:     "certs",
		NoticeAdmins: n.noticeAdmins,
		Publish:      n.publish,
		Rebuild:      n.rebuild,
	}
	n.configure(configtest.Valid())
	return n
}

// newTestNode is a node of a cluster of one.
func newTestNode(t *testing.T) *node {
	return newNode(t, &pluginapi.MemoryStore{}, clocktest.New(time.Now()))
}

func (n *node) now() time.Time          { return n.clock.Now() }
func (n *node) advance(d time.Duration) { n.clock.Advance(d) }

// configure makes c the configuration in use and requires the services to
// build.
func (n *node) configure(c *config.Configuration) {
	n.t.Helper()
	n.mu.Lock()
	n.cfg = c
	n.mu.Unlock()
	n.rebuild()
	_, err := n.keeper.Current.Get()
	require.NoError(n.t, err)
}

func (n *node) config() *config.Configuration {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cfg
}

// rebuild builds the services of the configuration in use, as the plugin
// does, for the CAs: a connector per built-in entry of the catalog.
func (n *node) rebuild() {
	n.mu.Lock()
	n.rebuilds++
	n.mu.Unlock()
	c := n.config()
	s, err := n.build(c)
	if err != nil {
		n.keeper.Current.Fail(err.Error())
		return
	}
	n.keeper.Current.Store(s)
}

func (n *node) build(c *config.Configuration) (*app.Snapshot, error) {
	catalog, err := c.Catalog()
	if err != nil {
		return nil, err
	}
	connectors := map[string]connector.Connector{}
	var builtinCA *connector.Builtin
	for _, spec := range catalog.Connectors {
		if spec.Type != profile.TypeBuiltin {
			continue
		}
		loaded, err := n.keeper.Load(c)
		if err != nil {
			return nil, err
		}
		b := connector.NewBuiltinGenerations(spec.Name, loaded.Current, loaded.Previous, n.now)
		connectors[spec.Name] = b
		if !c.UsesCustomCA() {
			builtinCA = b
		}
	}
	core := enroll.New(enroll.Settings{Catalog: catalog, Connectors: connectors}, enroll.Ports{Log: n, Clock: n.now})
	return &app.Snapshot{Config: c, Catalog: catalog, Core: core, BuiltinCA: builtinCA}, nil
}

// services is the snapshot in use.
func (n *node) services() *app.Snapshot {
	n.t.Helper()
	s, err := n.keeper.Current.Get()
	require.NoError(n.t, err)
	return s
}

// issuingCA is the issuing CA that signs now.
func (n *node) issuingCA() *x509.Certificate {
	n.t.Helper()
	chain, err := n.services().Core.Connectors["builtin"].Chain(n.t.Context())
	require.NoError(n.t, err)
	return chain[0]
}

// root is the root of the built-in CA.
func (n *node) root() *x509.Certificate {
	n.t.Helper()
	chain, err := n.services().Core.Connectors["builtin"].Chain(n.t.Context())
	require.NoError(n.t, err)
	return chain[len(chain)-1]
}

// runJob is the request job's duties of the CAs, in its order.
func (n *node) runJob() {
	s, err := n.keeper.Current.Get()
	if err != nil {
		return
	}
	n.keeper.RenewIfDue(s)
	if s, err = n.keeper.Current.Get(); err != nil {
		return
	}
	n.keeper.NoticeExpiringCAs(s)
}

func (n *node) noticeAdmins(message string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.notices = append(n.notices, message)
}

// noticesWith counts the notices the admins got that contain text.
func (n *node) noticesWith(text string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	count := 0
	for _, m := range n.notices {
		if strings.Contains(m, text) {
			count++
		}
	}
	return count
}

func (n *node) publish(ev model.PluginClusterEvent, opts model.PluginClusterEventSendOptions) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.published = append(n.published, ev)
	n.sendTypes = append(n.sendTypes, opts.SendType)
	return nil
}

func (n *node) LogInfo(msg string, kv ...any)  { n.log("info", msg, kv) }
func (n *node) LogWarn(msg string, kv ...any)  { n.log("warn", msg, kv) }
func (n *node) LogError(msg string, kv ...any) { n.log("error", msg, kv) }

func (n *node) log(level, msg string, kv []any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.logs = append(n.logs, level+" "+msg+" "+fmt.Sprintln(kv...))
	if level == "error" {
		n.errors = append(n.errors, msg)
	}
}

func (n *node) loggedErrors() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.errors...)
}

// logged counts the log lines that contain text.
func (n *node) logged(text string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	count := 0
	for _, l := range n.logs {
		if strings.Contains(l, text) {
			count++
		}
	}
	return count
}
