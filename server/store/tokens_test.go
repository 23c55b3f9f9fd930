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

func tokenState(t *testing.T, s *Store, id string) TokenState {
	t.Helper()
	state, err := s.GetTokenState(id)
	require.NoError(t, err)
	return state
}

func TestTokenLifecycle(t *testing.T) {
	s, _ := newTestStore(t)
	const id = "0123456789abcdef0123456789abcdef"

	assert.Equal(t, TokenState{}, tokenState(t, s, id), "a token never seen is unused")

	claimed, err := s.ClaimToken(id, tokenTTL)
	require.NoError(t, err)
	require.True(t, claimed)
	assert.Equal(t, TokenState{InProgress: true}, tokenState(t, s, id))

	claimed, err = s.ClaimToken(id, tokenTTL)
	require.NoError(t, err)
	assert.False(t, claimed, "a claimed token cannot be claimed again")

	require.NoError(t, s.CompleteToken(id, "1a2b", tokenTTL))
	assert.Equal(t, TokenState{Used: true, Serial: "1a2b"}, tokenState(t, s, id))

	claimed, err = s.ClaimToken(id, tokenTTL)
	require.NoError(t, err)
	assert.False(t, claimed, "a used token cannot be claimed again")
	assert.Equal(t, TokenState{Used: true, Serial: "1a2b"}, tokenState(t, s, id))

	// Tokens are independent.
	assert.Equal(t, TokenState{}, tokenState(t, s, "another"))
}

func TestReleaseTokenFreesAClaim(t *testing.T) {
	s, _ := newTestStore(t)
	const id = "tok"

	claimed, err := s.ClaimToken(id, tokenTTL)
	require.NoError(t, err)
	require.True(t, claimed)

	require.NoError(t, s.ReleaseToken(id))
	assert.Equal(t, TokenState{}, tokenState(t, s, id))

	// The link can be retried.
	claimed, err = s.ClaimToken(id, tokenTTL)
	require.NoError(t, err)
	assert.True(t, claimed)
}

func TestReleaseTokenNeverFreesAUsedToken(t *testing.T) {
	s, _ := newTestStore(t)
	const id = "tok"

	claimed, err := s.ClaimToken(id, tokenTTL)
	require.NoError(t, err)
	require.True(t, claimed)
	require.NoError(t, s.CompleteToken(id, "1a2b", tokenTTL))

	require.NoError(t, s.ReleaseToken(id))
	assert.Equal(t, TokenState{Used: true, Serial: "1a2b"}, tokenState(t, s, id))
	claimed, err = s.ClaimToken(id, tokenTTL)
	require.NoError(t, err)
	assert.False(t, claimed)
}

func TestReleaseTokenUnclaimed(t *testing.T) {
	s, _ := newTestStore(t)
	require.NoError(t, s.ReleaseToken("never-claimed"))
	assert.Equal(t, TokenState{}, tokenState(t, s, "never-claimed"))
}

// CompleteToken only turns a claim into a use; it does not mark a token it
// finds unclaimed, nor overwrite a use with another serial. (Whether it
// reports that as an error is left open: today it returns nil.)
func TestCompleteTokenNeedsAClaim(t *testing.T) {
	s, _ := newTestStore(t)

	_ = s.CompleteToken("unclaimed", "1a2b", tokenTTL)
	assert.Equal(t, TokenState{}, tokenState(t, s, "unclaimed"))

	claimed, err := s.ClaimToken("tok", tokenTTL)
	require.NoError(t, err)
	require.True(t, claimed)
	require.NoError(t, s.CompleteToken("tok", "1a2b", tokenTTL))
	_ = s.CompleteToken("tok", "ffff", tokenTTL)
	assert.Equal(t, TokenState{Used: true, Serial: "1a2b"}, tokenState(t, s, "tok"), "the first use is kept")
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
	assert.Equal(t, TokenState{InProgress: true}, tokenState(t, s, id))
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
	assert.Equal(t, TokenState{}, tokenState(t, s, id))
}

func TestGetTokenStateUnexpectedValue(t *testing.T) {
	s, kv := newTestStore(t)
	_, err := kv.Set(tokenKey("tok"), []byte("something else"))
	require.NoError(t, err)
	_, err = s.GetTokenState("tok")
	require.Error(t, err)
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
