//go:build e2e

package sqlstore

import (
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/pluginapi"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll/inventorytest"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

// contractInventory is the inventory as the plugin opens it (see
// server/inventory.go): the records in the database, the link tokens in
// the KV store.
type contractInventory struct {
	*Store
	marks *store.Store
}

func (i contractInventory) ClaimToken(id string, ttl time.Duration) (bool, error) {
	return i.marks.ClaimToken(id, ttl)
}

func (i contractInventory) ReleaseToken(id string) error { return i.marks.ReleaseToken(id) }

func (i contractInventory) TokenUsed(id string) (bool, error) { return i.marks.TokenUsed(id) }

// The database keeps the core's records as the contract says: it is the
// contract's truth.
func TestInventoryContract(t *testing.T) {
	inventorytest.Run(t, func(t *testing.T, clock *inventorytest.Clock) enroll.Inventory {
		db := newDatabase(t)
		_, err := Migrate(db, &sync.Mutex{}, clock.Now)
		require.NoError(t, err)
		return contractInventory{Store: New(db, clock.Now), marks: store.New(&pluginapi.MemoryStore{})}
	})
}
