package store

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/pluginapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const tokenTTL = 20 * time.Minute

func isUsed(t *testing.T, s *Store, id string) bool {
	t.Helper()
	used, err := s.TokenUsed(id)
	require.NoError(t, err)
	return used
}

// Marks written by the previous version (a claim in progress, a use with its
// serial) still count as used, and are never released by this one.
func TestTokenMarksOfThePreviousVersionAreUsed(t *testing.T) {
	s, kv := newTestStore(t)
	for id, mark := range map[string]string{"in-progress": "claimed", "done": "used:1a2b"} {
		_, err := kv.Set(tokenKey(id), []byte(mark))
		require.NoError(t, err)
		assert.True(t, isUsed(t, s, id), id)
		claimed, err := s.ClaimToken(id, tokenTTL)
		require.NoError(t, err)
		assert.False(t, claimed, id)
		require.NoError(t, s.ReleaseToken(id))
		assert.True(t, isUsed(t, s, id), "%s: not released", id)
	}
}

// Claim, release and claim again, concurrently with other claimers: at any
// time at most one holder.
func TestClaimReleaseConcurrent(t *testing.T) {
	s, _ := newTestStore(t)
	const id = "tok"
	const workers = 10
	const rounds = 20

	var mu sync.Mutex
	holders := 0
	maxHolders := 0
	wins := 0
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds*2)
	for range workers {
		wg.Go(func() {
			for range rounds {
				claimed, err := s.ClaimToken(id, tokenTTL)
				if err != nil {
					errs <- err
					return
				}
				if !claimed {
					continue
				}
				mu.Lock()
				holders++
				wins++
				maxHolders = max(maxHolders, holders)
				mu.Unlock()
				runtime.Gosched() // let the others try while this one holds it
				mu.Lock()
				holders--
				mu.Unlock()
				if err := s.ReleaseToken(id); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, 1, maxHolders)
	assert.Positive(t, wins)
	assert.False(t, isUsed(t, s, id))
}

// The claim mark always expires: the KV store counts whole seconds, and a
// TTL under a second must not become "never expires".
func TestExpiryNeverRoundsToForever(t *testing.T) {
	for _, tc := range []struct {
		ttl  time.Duration
		want int64
	}{
		{-time.Hour, 1},
		{0, 1},
		{time.Millisecond, 1},
		{999 * time.Millisecond, 1},
		{time.Second, 1},
		{90 * time.Second, 90},
		{tokenTTL, int64(tokenTTL / time.Second)},
	} {
		var opts pluginapi.KVSetOptions
		expiry(tc.ttl)(&opts)
		assert.Equal(t, tc.want, opts.ExpireInSeconds, "ttl %s", tc.ttl)
	}
}
