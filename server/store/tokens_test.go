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

func TestTokenLifecycle(t *testing.T) {
	s, _ := newTestStore(t)
	const id = "0123456789abcdef0123456789abcdef"

	assert.False(t, isUsed(t, s, id), "a token never seen is unused")

	claimed, err := s.ClaimToken(id, tokenTTL)
	require.NoError(t, err)
	require.True(t, claimed)
	assert.True(t, isUsed(t, s, id), "a claimed token is used at once")

	claimed, err = s.ClaimToken(id, tokenTTL)
	require.NoError(t, err)
	assert.False(t, claimed, "a used token cannot be claimed again")

	// Tokens are independent.
	assert.False(t, isUsed(t, s, "another"))
}

func TestReleaseTokenFreesAClaim(t *testing.T) {
	s, _ := newTestStore(t)
	const id = "tok"

	claimed, err := s.ClaimToken(id, tokenTTL)
	require.NoError(t, err)
	require.True(t, claimed)

	require.NoError(t, s.ReleaseToken(id))
	assert.False(t, isUsed(t, s, id))

	// The link can be retried.
	claimed, err = s.ClaimToken(id, tokenTTL)
	require.NoError(t, err)
	assert.True(t, claimed)
}

func TestReleaseTokenUnclaimed(t *testing.T) {
	s, _ := newTestStore(t)
	require.NoError(t, s.ReleaseToken("never-claimed"))
	assert.False(t, isUsed(t, s, "never-claimed"))
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

func TestClaimTokenConcurrent(t *testing.T) {
	s, _ := newTestStore(t)
	const n = 20
	const id = "0123456789abcdef0123456789abcdef"

	var wg sync.WaitGroup
	results := make([]bool, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			results[i], errs[i] = s.ClaimToken(id, tokenTTL)
		})
	}
	close(start)
	wg.Wait()

	winners := 0
	for i := range n {
		require.NoError(t, errs[i])
		if results[i] {
			winners++
		}
	}
	assert.Equal(t, 1, winners, "exactly one concurrent claim wins")
	assert.True(t, isUsed(t, s, id))
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
