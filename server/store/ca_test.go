package store

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testCA(keyID string) *CA {
	return &CA{
		Chain:       [][]byte{{0x30, 0x01}, {0x30, 0x02}},
		IssuingKeys: []records.SealedKey{{KeyID: keyID, Sealed: []byte("sealed issuing key")}},
		RootKeys:    []records.SealedKey{{KeyID: keyID, Sealed: []byte("sealed root key")}},
		CreatedAt:   testNow,
	}
}

func TestCreateCAIfAbsent(t *testing.T) {
	s, _ := newTestStore(t)

	_, err := s.GetCA("builtin")
	require.ErrorIs(t, err, records.ErrNotFound)

	first := testCA("key-1")
	saved, err := s.CreateCA("builtin", first)
	require.NoError(t, err)
	assert.True(t, saved)

	second := testCA("key-2")
	second.CreatedAt = testNow.Add(time.Hour)
	saved, err = s.CreateCA("builtin", second)
	require.NoError(t, err)
	assert.False(t, saved, "a stored CA is never replaced by CreateCA")

	got, err := s.GetCA("builtin")
	require.NoError(t, err)
	assert.Equal(t, first, got, "the first CA is kept")

	// Names are independent.
	saved, err = s.CreateCA("other", second)
	require.NoError(t, err)
	assert.True(t, saved)
	got, err = s.GetCA("other")
	require.NoError(t, err)
	assert.Equal(t, second, got)
}

// Two cluster nodes starting at once both generate a CA; exactly one is
// stored and both then read the same one.
func TestCreateCAConcurrent(t *testing.T) {
	s, _ := newTestStore(t)
	const n = 10
	var wg sync.WaitGroup
	saved := make([]bool, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			saved[i], errs[i] = s.CreateCA("builtin", testCA(string(rune('a'+i))))
		})
	}
	close(start)
	wg.Wait()

	winner := -1
	for i := range n {
		require.NoError(t, errs[i])
		if saved[i] {
			require.Equal(t, -1, winner, "two CAs stored")
			winner = i
		}
	}
	require.NotEqual(t, -1, winner, "no CA stored")
	got, err := s.GetCA("builtin")
	require.NoError(t, err)
	assert.Equal(t, testCA(string(rune('a'+winner))), got)
}

func TestUpdateCA(t *testing.T) {
	s, _ := newTestStore(t)
	_, err := s.CreateCA("builtin", testCA("key-1"))
	require.NoError(t, err)

	// Re-seal under a new secret: add the new copies, then drop the old.
	require.NoError(t, s.UpdateCA("builtin", func(ca *CA) error {
		ca.IssuingKeys = append(ca.IssuingKeys, records.SealedKey{KeyID: "key-2", Sealed: []byte("resealed issuing key")})
		return nil
	}))
	got, err := s.GetCA("builtin")
	require.NoError(t, err)
	require.Len(t, got.IssuingKeys, 2)
	assert.Equal(t, "key-1", got.IssuingKeys[0].KeyID)
	assert.Equal(t, "key-2", got.IssuingKeys[1].KeyID)
	assert.Equal(t, []byte("resealed issuing key"), got.IssuingKeys[1].Sealed)
	assert.Equal(t, testCA("key-1").Chain, got.Chain)

	require.NoError(t, s.UpdateCA("builtin", func(ca *CA) error {
		ca.IssuingKeys = ca.IssuingKeys[1:]
		return nil
	}))
	got, err = s.GetCA("builtin")
	require.NoError(t, err)
	require.Len(t, got.IssuingKeys, 1)
	assert.Equal(t, "key-2", got.IssuingKeys[0].KeyID)
}

func TestUpdateCAErrors(t *testing.T) {
	s, kv := newTestStore(t)

	err := s.UpdateCA("builtin", func(*CA) error { return nil })
	require.ErrorIs(t, err, records.ErrNotFound)
	assert.Empty(t, rawValue(t, kv, caKey("builtin")), "UpdateCA does not create a CA")

	_, err = s.CreateCA("builtin", testCA("key-1"))
	require.NoError(t, err)
	before := rawValue(t, kv, caKey("builtin"))

	errStop := errors.New("stop")
	err = s.UpdateCA("builtin", func(ca *CA) error {
		ca.IssuingKeys = nil
		return errStop
	})
	require.ErrorIs(t, err, errStop)
	assert.Equal(t, before, rawValue(t, kv, caKey("builtin")), "nothing written")
}

func TestUpdateCAConcurrent(t *testing.T) {
	s, _ := newTestStore(t)
	_, err := s.CreateCA("builtin", testCA("key-0"))
	require.NoError(t, err)
	const n = 10

	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = s.UpdateCA("builtin", func(ca *CA) error {
				ca.RootKeys = append(ca.RootKeys, records.SealedKey{KeyID: string(rune('a' + i))})
				return nil
			})
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	got, err := s.GetCA("builtin")
	require.NoError(t, err)
	assert.Len(t, got.RootKeys, n+1)
}
