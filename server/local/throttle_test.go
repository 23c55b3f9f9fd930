package local

import (
	"sync"
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

// waitOf is how long a Check refusal says to wait; 0 when allowed.
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

func TestFailuresPastTheFreeOnesWaitLongerEachTime(t *testing.T) {
	th, clock := newThrottle()
	for range freeFailures - 1 {
		require.NoError(t, th.Failed("dave", "192.0.2.1"))
		assert.Zero(t, waitOf(t, th.Check("dave", "192.0.2.1")))
	}
	var waits []time.Duration
	for range 6 {
		require.NoError(t, th.Failed("dave", "192.0.2.1"))
		wait := waitOf(t, th.Check("dave", "192.0.2.1"))
		require.Positive(t, wait)
		waits = append(waits, wait)
		clock.Advance(wait)
		assert.Zero(t, waitOf(t, th.Check("dave", "192.0.2.1")), "allowed once the wait is over")
	}
	for i := 1; i < len(waits); i++ {
		assert.Greater(t, waits[i], waits[i-1], "each wait longer than the one before")
	}
	assert.Equal(t, firstDelay, waits[0])
}

func TestTheDelayStopsGrowingAtItsCeiling(t *testing.T) {
	assert.Equal(t, maxDelay, delayAfter(1000))
	assert.Zero(t, delayAfter(freeFailures-1))
}

func TestAnAccountNameIsLockedUntilAnAdminLiftsIt(t *testing.T) {
	th, clock := newThrottle()
	for i := range lockAfter {
		// Each from another address, as a spread attack would.
		require.NoError(t, th.Failed("Dave", "198.51.100."+string(rune('a'+i))))
	}
	assert.Same(t, ErrAccountLocked, th.Check("dave", "203.0.113.9"), "names are compared without case")
	clock.Advance(7 * 24 * time.Hour)
	assert.Same(t, ErrAccountLocked, th.Check("dave", "203.0.113.9"), "a lock does not wear off")
	assert.Zero(t, waitOf(t, th.Check("erin", "203.0.113.9")), "another name is not locked")

	require.NoError(t, th.Unlock("dave"))
	assert.NoError(t, th.Check("dave", "203.0.113.9"))
}

func TestOneAddressTryingManyNamesIsSlowed(t *testing.T) {
	th, _ := newThrottle()
	for i := range freeFailures + 2 {
		require.NoError(t, th.Failed("name"+string(rune('a'+i)), "192.0.2.7"))
	}
	assert.Positive(t, waitOf(t, th.Check("a-name-never-tried", "192.0.2.7")), "the address waits")
	assert.Zero(t, waitOf(t, th.Check("a-name-never-tried", "192.0.2.8")), "other addresses do not")
}

func TestASuccessForgetsTheAccountsFailuresNotTheAddresss(t *testing.T) {
	th, _ := newThrottle()
	for range freeFailures + 1 {
		require.NoError(t, th.Failed("dave", "192.0.2.1"))
	}
	require.NoError(t, th.Succeeded("dave"))
	assert.Zero(t, waitOf(t, th.Check("dave", "192.0.2.2")))
	assert.Positive(t, waitOf(t, th.Check("erin", "192.0.2.1")), "one good password buys that address no more guesses")
}

func TestFailuresAtOnceOnManyNodesAreAllCounted(t *testing.T) {
	th, _ := newThrottle()
	var wg sync.WaitGroup
	for range lockAfter {
		wg.Go(func() { assert.NoError(t, th.Failed("dave", "192.0.2.1")) })
	}
	wg.Wait()
	assert.Same(t, ErrAccountLocked, th.Check("dave", "192.0.2.1"), "every failure counted, so the lock came")
}
