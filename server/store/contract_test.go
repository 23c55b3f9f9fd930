package store

import (
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/pluginapi"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll/inventorytest"
)

// The KV store keeps the core's records as the database does: the
// contract every inventory passes.
func TestInventoryContract(t *testing.T) {
	inventorytest.Run(t, func(_ *testing.T, clock *inventorytest.Clock) enroll.Inventory {
		return New(newClockKV(clock.Now), WithClock(clock.Now))
	})
}

// clockKV is an in-memory KV store whose values expire by a clock of the
// test's, not the wall's.
type clockKV struct {
	*pluginapi.MemoryStore
	now     func() time.Time
	mu      sync.Mutex
	expires map[string]time.Time
}

func newClockKV(now func() time.Time) *clockKV {
	return &clockKV{MemoryStore: &pluginapi.MemoryStore{}, now: now, expires: map[string]time.Time{}}
}

// expire drops the values whose time is up.
func (kv *clockKV) expire() {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	now := kv.now()
	for key, at := range kv.expires {
		if !now.Before(at) {
			_ = kv.MemoryStore.Delete(key)
			delete(kv.expires, key)
		}
	}
}

func (kv *clockKV) Set(key string, value any, options ...pluginapi.KVSetOption) (bool, error) {
	kv.expire()
	var opts pluginapi.KVSetOptions
	for _, o := range options {
		o(&opts)
	}
	// The memory store's own expiry is the wall's: it keeps none here.
	saved, err := kv.MemoryStore.Set(key, value, append(options, pluginapi.SetExpiry(0))...)
	if err != nil || !saved {
		return saved, err
	}
	kv.mu.Lock()
	defer kv.mu.Unlock()
	if opts.ExpireInSeconds > 0 && value != nil {
		kv.expires[key] = kv.now().Add(time.Duration(opts.ExpireInSeconds) * time.Second)
	} else {
		delete(kv.expires, key)
	}
	return true, nil
}

func (kv *clockKV) Get(key string, o any) error {
	kv.expire()
	return kv.MemoryStore.Get(key, o)
}

// SetAtomicWithRetries writes a value that never expires.
func (kv *clockKV) SetAtomicWithRetries(key string, valueFunc func(oldValue []byte) (newValue any, err error)) error {
	kv.expire()
	if err := kv.MemoryStore.SetAtomicWithRetries(key, valueFunc); err != nil {
		return err
	}
	kv.forget(key)
	return nil
}

func (kv *clockKV) Delete(key string) error {
	kv.forget(key)
	return kv.MemoryStore.Delete(key)
}

func (kv *clockKV) forget(key string) {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	delete(kv.expires, key)
}

func (kv *clockKV) ListKeys(page, count int, options ...pluginapi.ListKeysOption) ([]string, error) {
	kv.expire()
	return kv.MemoryStore.ListKeys(page, count, options...)
}
