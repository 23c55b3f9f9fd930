package store

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKeyMarkLifecycle(t *testing.T) {
	s, _ := newTestStore(t)
	const fp = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	upload := records.KeyHolder{Kind: records.KeyHeldByUpload, ID: "u1"}
	request := records.KeyHolder{Kind: records.KeyHeldByRequest, ID: "r-1"}
	cert := records.KeyHolder{Kind: records.KeyHeldByCertificate, ID: "1a2b"}

	holder, err := s.KeyHolderOf(fp)
	require.NoError(t, err)
	assert.Equal(t, records.KeyHolder{}, holder, "a key never seen is free")

	claimed, holder, err := s.ClaimKey(fp, upload, time.Hour)
	require.NoError(t, err)
	assert.True(t, claimed)
	assert.Equal(t, upload, holder)

	claimed, holder, err = s.ClaimKey(fp, records.KeyHolder{Kind: records.KeyHeldByUpload, ID: "u2"}, time.Hour)
	require.NoError(t, err)
	assert.False(t, claimed)
	assert.Equal(t, upload, holder, "the second upload learns who holds the key")

	require.NoError(t, s.MoveKey(fp, upload, request, time.Hour))
	assert.Error(t, s.MoveKey(fp, upload, cert, time.Hour), "only the holder hands the key on")
	require.NoError(t, s.ReleaseKey(fp, upload), "releasing as a former holder changes nothing")
	holder, err = s.KeyHolderOf(fp)
	require.NoError(t, err)
	assert.Equal(t, request, holder)

	require.NoError(t, s.MoveKey(fp, request, cert, time.Hour))
	holder, err = s.KeyHolderOf(fp)
	require.NoError(t, err)
	assert.Equal(t, cert, holder)

	other := "0000000000000000000000000000000000000000000000000000000000000000"
	_, _, err = s.ClaimKey(other, upload, time.Hour)
	require.NoError(t, err)
	require.NoError(t, s.ReleaseKey(other, upload))
	claimed, _, err = s.ClaimKey(other, upload, time.Hour)
	require.NoError(t, err)
	assert.True(t, claimed, "a released key may be submitted again")
}

func TestConcurrentKeyClaimsHaveOneWinner(t *testing.T) {
	s, _ := newTestStore(t)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			claimed, _, err := s.ClaimKey("fp", records.KeyHolder{Kind: records.KeyHeldByUpload, ID: string(rune('a' + i))}, time.Hour)
			assert.NoError(t, err)
			if claimed {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(1), wins.Load())
}
