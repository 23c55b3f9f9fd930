// Package store keeps the plugin's state in the Mattermost plugin KV store:
// one key per entity, every read-modify-write a compare-and-set computed from
// the value it replaces, so it stays correct with many users at once and on a
// cluster.
package store

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"

	"github.com/mattermost/mattermost/server/public/pluginapi"
	"github.com/pkg/errors"
)

// KV is the part of the plugin KV API the store uses. It is satisfied by
// &pluginapi.Client.KV in production and by &pluginapi.MemoryStore{} in tests.
type KV interface {
	Set(key string, value any, options ...pluginapi.KVSetOption) (bool, error)
	Get(key string, o any) error
	Delete(key string) error
	SetAtomicWithRetries(key string, valueFunc func(oldValue []byte) (newValue any, err error)) error
	ListKeys(page, count int, options ...pluginapi.ListKeysOption) ([]string, error)
}

// Store is the plugin's persistent state.
type Store struct {
	kv  KV
	now func() time.Time
}

// Option changes how a Store is made.
type Option func(*Store)

// WithClock makes the store read the time from now (time.Now otherwise):
// what has expired, as the database store reads its own clock.
func WithClock(now func() time.Time) Option {
	return func(s *Store) { s.now = now }
}

// New returns a Store over kv.
func New(kv KV, options ...Option) *Store {
	s := &Store{kv: kv, now: time.Now}
	for _, o := range options {
		o(s)
	}
	return s
}

// updateAttempts bounds how often a contended update is retried. Each attempt
// is itself SetAtomicWithRetries (a few quick tries); between attempts the
// writers back off with jitter so that a burst of writers on one key (50
// certificates for one user at once) drains instead of colliding again.
const updateAttempts = 40

// update runs a compare-and-set of key: fn computes the new value from the
// old one (nil when the key is empty). An error from fn aborts the update and
// is returned as it is.
func (s *Store) update(key string, fn func(old []byte) (any, error)) error {
	var lastErr error
	for attempt := range updateAttempts {
		var fnErr error
		err := s.kv.SetAtomicWithRetries(key, func(old []byte) (any, error) {
			v, err := fn(old)
			fnErr = err
			return v, err
		})
		if err == nil {
			return nil
		}
		if fnErr != nil {
			return fnErr
		}
		lastErr = err
		time.Sleep(backoff(attempt))
	}
	return errors.Wrapf(lastErr, "update of %s kept colliding with other writers", key)
}

// getJSON reads the JSON value of key; records.ErrNotFound when the key holds
// nothing. what names the value in errors.
func getJSON[T any](s *Store, key, what string) (*T, error) {
	var raw []byte
	if err := s.kv.Get(key, &raw); err != nil {
		return nil, errors.Wrapf(err, "read %s", what)
	}
	if len(raw) == 0 {
		return nil, records.ErrNotFound
	}
	v := new(T)
	if err := json.Unmarshal(raw, v); err != nil {
		return nil, errors.Wrapf(err, "decode %s", what)
	}
	return v, nil
}

// updateJSON changes the JSON value of key with a compare-and-set: change
// edits the decoded value or returns an error to leave it alone. It returns
// the value as written; records.ErrNotFound when the key holds nothing.
func updateJSON[T any](s *Store, key, what string, change func(*T) error) (*T, error) {
	var updated *T
	err := s.update(key, func(old []byte) (any, error) {
		if len(old) == 0 {
			return nil, records.ErrNotFound
		}
		v := new(T)
		if err := json.Unmarshal(old, v); err != nil {
			return nil, errors.Wrapf(err, "decode %s", what)
		}
		if err := change(v); err != nil {
			return nil, err
		}
		updated = v
		return v, nil
	})
	if err != nil {
		return nil, err
	}
	return updated, nil
}

// lockAttempts bounds how long lock waits for another holder: its backoff
// reaches 100 ms, so about 40 s in all.
const lockAttempts = 400

// lockLifetime is how long a lock outlives a holder that never releases
// it (a node that stopped).
const lockLifetime = 30 * time.Second

// lock takes the lock named name, for one holder at a time across every
// node that shares the KV store, as the database store's advisory locks
// do; the function it returns releases it.
func (s *Store) lock(name string) (func(), error) {
	key := "lock:" + name
	holder := []byte(strconv.FormatUint(rand.Uint64(), 36))
	for attempt := range lockAttempts {
		taken, err := s.kv.Set(key, holder, setIfAbsent(), expiry(lockLifetime))
		if err != nil {
			return nil, errors.Wrapf(err, "take the lock %s", name)
		}
		if taken {
			return func() { _, _ = s.kv.Set(key, nil, setIfEquals(holder)) }, nil
		}
		time.Sleep(backoff(attempt))
	}
	return nil, errors.Errorf("the lock %s stayed taken by another writer", name)
}

func backoff(attempt int) time.Duration {
	limit := time.Duration(min(attempt+1, 10)) * 10 * time.Millisecond
	return time.Duration(rand.Int64N(int64(limit))) + time.Millisecond
}
