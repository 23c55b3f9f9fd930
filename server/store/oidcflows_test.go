package store

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

func testFlow() *OIDCFlow {
	return &OIDCFlow{
		Issuer: "https://idp.example.com", ClientID: "certs", Nonce: "n", PKCEVerifier: "v",
		BrowserHash: "b", ReturnTo: "/plugins/certs/portal/", CreatedAt: testNow, ExpiresAt: testNow.Add(10 * time.Minute),
	}
}

func TestOIDCFlowIsConsumedOnce(t *testing.T) {
	s, kv := newTestStore(t)
	saved, err := s.SaveOIDCFlow("h1", testFlow(), 10*time.Minute)
	require.NoError(t, err)
	require.True(t, saved)

	again, err := s.SaveOIDCFlow("h1", testFlow(), 10*time.Minute)
	require.NoError(t, err)
	assert.False(t, again, "a taken hash is not overwritten")

	flow, err := s.ConsumeOIDCFlow("h1")
	require.NoError(t, err)
	assert.Equal(t, testFlow(), flow)
	assert.Empty(t, rawValue(t, kv, oidcFlowKey("h1")), "nothing is left behind")

	_, err = s.ConsumeOIDCFlow("h1")
	assert.ErrorIs(t, err, records.ErrNotFound)
	_, err = s.ConsumeOIDCFlow("never-saved")
	assert.ErrorIs(t, err, records.ErrNotFound)
}

func TestOIDCFlowConcurrentConsumersOneWins(t *testing.T) {
	s, _ := newTestStore(t)
	for round := range 20 {
		hash := "h" + string(rune('a'+round))
		_, err := s.SaveOIDCFlow(hash, testFlow(), 10*time.Minute)
		require.NoError(t, err)
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				if _, err := s.ConsumeOIDCFlow(hash); err == nil {
					wins.Add(1)
				} else {
					assert.ErrorIs(t, err, records.ErrNotFound)
				}
			})
		}
		wg.Wait()
		assert.Equal(t, int32(1), wins.Load(), "round %d", round)
	}
}
