package inventorytest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// A link token is used once: its claim is final at once, and only a
// release gives it back; of claims racing for one, one wins.
func tokens(t *testing.T, s *suite) {
	used := func(id string) bool {
		t.Helper()
		used, err := s.inv.TokenUsed(id)
		require.NoError(t, err)
		return used
	}
	claim := func(id string) bool {
		t.Helper()
		claimed, err := s.inv.ClaimToken(id, 20*time.Minute)
		require.NoError(t, err)
		return claimed
	}
	assert.False(t, used("tok"), "a token never seen is unused")
	assert.True(t, claim("tok"))
	assert.True(t, used("tok"), "a claimed token is used at once")
	assert.False(t, claim("tok"), "a used token cannot be claimed again")
	assert.False(t, used("another"), "tokens are independent")
	require.NoError(t, s.inv.ReleaseToken("tok"))
	assert.False(t, used("tok"))
	assert.True(t, claim("tok"), "a released token may be used again")
	require.NoError(t, s.inv.ReleaseToken("never-claimed"))
	assert.False(t, used("never-claimed"))

	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			claimed, err := s.inv.ClaimToken("raced", 20*time.Minute)
			assert.NoError(t, err)
			if claimed {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int32(1), wins.Load())
}

// A public key is held by one holder at a time, until its claim expires:
// a second claim learns who holds it; only the holder hands it on; a
// release by another changes nothing.
func keyClaims(t *testing.T, s *suite) {
	upload := records.KeyHolder{Kind: records.KeyHeldByUpload, ID: "u1"}
	req := records.KeyHolder{Kind: records.KeyHeldByRequest, ID: "r-1"}
	cert := records.KeyHolder{Kind: records.KeyHeldByCertificate, ID: "01"}
	holderOf := func(fingerprint string) records.KeyHolder {
		t.Helper()
		claimed, holder, err := s.inv.ClaimKey(fingerprint, records.KeyHolder{Kind: records.KeyHeldByUpload, ID: "probe"}, time.Minute)
		require.NoError(t, err)
		require.False(t, claimed, "the key is held")
		return holder
	}

	claimed, holder, err := s.inv.ClaimKey("fp", upload, time.Minute)
	require.NoError(t, err)
	assert.True(t, claimed)
	assert.Equal(t, upload, holder)
	assert.Equal(t, upload, holderOf("fp"), "the second upload learns who holds the key")

	require.NoError(t, s.inv.MoveKey("fp", upload, req, time.Hour))
	assert.Error(t, s.inv.MoveKey("fp", upload, cert, time.Hour), "only the holder hands the key on")
	require.NoError(t, s.inv.ReleaseKey("fp", upload), "releasing as a former holder changes nothing")
	assert.Equal(t, req, holderOf("fp"))
	require.NoError(t, s.inv.MoveKey("fp", req, cert, time.Hour))
	assert.Equal(t, cert, holderOf("fp"))
	assert.Error(t, s.inv.MoveKey("other", upload, cert, time.Hour), "nobody holds it")

	s.clock.Advance(30 * time.Minute)
	assert.Equal(t, cert, holderOf("fp"), "a move gives the key a new lifetime")
	s.clock.Advance(time.Hour)
	claimed, _, err = s.inv.ClaimKey("fp", upload, time.Minute)
	require.NoError(t, err)
	assert.True(t, claimed, "an expired claim is taken over")
	require.NoError(t, s.inv.ReleaseKey("fp", upload))
	claimed, _, err = s.inv.ClaimKey("fp", req, time.Minute)
	require.NoError(t, err)
	assert.True(t, claimed, "a released key may be submitted again")
}

// The same key uploaded many times at once: one claim wins.
func concurrentKeyClaims(t *testing.T, s *suite) {
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			claimed, _, err := s.inv.ClaimKey("fp", records.KeyHolder{Kind: records.KeyHeldByUpload, ID: fmt.Sprint(i)}, time.Minute)
			assert.NoError(t, err)
			if claimed {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int32(1), wins.Load())
}
