package local

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/pluginapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/clocktest"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

func newThrottle() (*Throttle, *clocktest.Clock) {
	clock := clocktest.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	return &Throttle{Store: store.New(&pluginapi.MemoryStore{}), Now: clock.Now}, clock
}

// waitOf is how long an Attempt refusal says to wait; 0 when allowed.
func waitOf(t *testing.T, err error) time.Duration {
	t.Helper()
	if err == nil {
		return 0
	}
	var e *enroll.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, enroll.CodeTooMany, e.Code, e.Message)
	return e.RetryAfter
}

func TestAttemptsPastTheFreeOnesWaitLongerEachTime(t *testing.T) {
	th, clock := newThrottle()
	for range freeFailures {
		assert.Zero(t, waitOf(t, th.Attempt("dave", "192.0.2.1")))
	}
	var waits []time.Duration
	for range 6 {
		wait := waitOf(t, th.Attempt("dave", "192.0.2.1"))
		require.Positive(t, wait)
		waits = append(waits, wait)
		clock.Advance(wait)
		assert.Zero(t, waitOf(t, th.Attempt("dave", "192.0.2.1")), "allowed once the wait is over")
	}
	for i := 1; i < len(waits); i++ {
		assert.Greater(t, waits[i], waits[i-1], "each wait longer than the one before")
	}
	assert.Equal(t, firstDelay, waits[0])
}

func TestTheWaitStopsGrowingAtItsCeiling(t *testing.T) {
	assert.Equal(t, maxDelay, delayAfter(freeFailures+40, freeFailures))
	assert.Zero(t, delayAfter(freeFailures-1, freeFailures))
}

func TestAnAccountIsLockedUntilAnAdminUnlocksIt(t *testing.T) {
	th, clock := newThrottle()
	for i := range lockAfter {
		require.NoError(t, th.Attempt("Dave", "198.51.100."+string(rune('a'+i))))
		clock.Advance(maxDelay)
	}
	assert.Same(t, ErrAccountLocked, th.Attempt("dave", "203.0.113.9"), "names are compared without case")
	clock.Advance(48 * time.Hour)
	assert.Same(t, ErrAccountLocked, th.Attempt("dave", "203.0.113.9"), "a lock does not wear off")
	assert.Zero(t, waitOf(t, th.Attempt("erin", "203.0.113.10")), "another name is not locked")
	require.NoError(t, th.Unlock("dave"))
	assert.NoError(t, th.Attempt("dave", "203.0.113.11"))
}

func TestOneAddressTryingManyNamesIsSlowed(t *testing.T) {
	th, _ := newThrottle()
	for i := range freeAddressFailures {
		require.NoError(t, th.Attempt("name"+string(rune('a'+i)), "192.0.2.7"))
	}
	assert.Positive(t, waitOf(t, th.Attempt("a-name-never-tried", "192.0.2.7")), "the address waits")
	assert.Zero(t, waitOf(t, th.Attempt("a-name-never-tried", "192.0.2.8")), "other addresses do not")
}

func TestASuccessTakesItsChargeBack(t *testing.T) {
	th, _ := newThrottle()
	for i := range freeAddressFailures - 1 {
		require.NoError(t, th.Attempt("name"+string(rune('a'+i)), "192.0.2.1"))
	}
	// Many people behind one address who sign in well are never slowed.
	for range 3 * freeFailures {
		require.NoError(t, th.Attempt("erin", "192.0.2.1"))
		require.NoError(t, th.Succeeded("erin", "192.0.2.1"))
	}
	require.NoError(t, th.Attempt("dave", "192.0.2.1"))
	require.NoError(t, th.Succeeded("dave", "192.0.2.1"))
	assert.Zero(t, waitOf(t, th.Attempt("dave", "192.0.2.2")), "the account's failures are forgotten")
	// The address keeps its failures: one good password buys no more
	// guesses.
	require.NoError(t, th.Attempt("frank", "192.0.2.1"))
	assert.Positive(t, waitOf(t, th.Attempt("grace", "192.0.2.1")))
}

// A flood of attempts at once is decided by the count: only the free ones
// are let through, not every attempt that arrives before the failures
// before it were counted.
func TestAFloodAtOnceGetsOnlyTheFreeAttempts(t *testing.T) {
	th, _ := newThrottle()
	var admitted atomic.Int32
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Go(func() {
			if th.Attempt("name"+string(rune('a'+i%26))+string(rune('a'+i/26)), "192.0.2.1") == nil {
				admitted.Add(1)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int32(freeAddressFailures), admitted.Load())
}

// Attempts at once are counted in some order, each with the time it was
// made: one counted a moment after a later one is not told to wait while
// the count is within the free ones.
func TestAnAttemptCountedOutOfOrderIsNotTurnedAway(t *testing.T) {
	th, _ := newThrottle()
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	th.Now = func() time.Time { return at.Add(time.Millisecond) }
	require.NoError(t, th.Attempt("erin", "192.0.2.1"))
	th.Now = func() time.Time { return at }
	assert.NoError(t, th.Attempt("dave", "192.0.2.1"), "made first, counted second")
}
