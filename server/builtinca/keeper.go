// Package builtinca keeps the plugin's certificate authorities over their
// life: it creates the built-in CA once for the whole cluster, seals the
// keys of the built-in CA and of the administrator's own CA in the KV store
// and opens them again, reseals them when the encryption secret changes,
// renews the built-in issuing CA when it is due (and tells the other nodes
// and the system admins), and tells the system admins of CA certificates
// that expire soon.
//
// It knows the server only through what a Keeper is given: the KV store, a
// cluster lock, the clock, a log, the snapshot in use and the server's
// settings (app.Current), and callbacks for what only the plugin can do
// (tell the admins, publish a cluster event, rebuild the services).
package builtinca

import (
	"sync/atomic"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

// Locker is a lock shared by every node of a cluster.
type Locker interface {
	Lock()
	Unlock()
}

// Logger is the part of the server's log a Keeper writes to.
type Logger interface {
	LogInfo(msg string, keyValuePairs ...any)
	LogWarn(msg string, keyValuePairs ...any)
	LogError(msg string, keyValuePairs ...any)
}

// Keeper keeps the CAs. Build it once, with every field set, and do not
// copy it.
type Keeper struct {
	// Store is the KV store the CAs are kept in, their keys sealed.
	Store *store.Store
	// NewMutex makes the cluster-wide lock of a name.
	NewMutex func(name string) (Locker, error)
	// Now is the clock.
	Now func() time.Time
	// Log is the server's log.
	Log Logger
	// Current is the snapshot of services in use and the server's settings
	// (the site's name names a new CA; its URL is in the renewal notice).
	Current *app.Current
	// PluginID is the plugin's id, in the URLs the notices give.
	PluginID string
	// NoticeAdmins tells every system admin, by a direct message.
	NoticeAdmins func(message string)
	// Publish sends a plugin cluster event to the other nodes.
	Publish func(ev model.PluginClusterEvent, opts model.PluginClusterEventSendOptions) error
	// Rebuild rebuilds the services from the configuration in use, so that
	// they sign with the CA stored now.
	Rebuild func()

	// checkedAt is when this node last read the stored CA for a request
	// it could not answer (Unix milliseconds), to bound how often anyone
	// can make it do so.
	checkedAt atomic.Int64
}
