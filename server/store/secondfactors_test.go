package store

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/clocktest"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

func TestATOTPRecordIsMadeOnItsFirstChangeAndGoneWithItsLastSecret(t *testing.T) {
	s, kv := newTestStore(t)
	_, err := s.TOTPFactor("a1")
	assert.ErrorIs(t, err, records.ErrNotFound)

	secret := &TOTPSecret{Sealed: []records.SealedKey{{KeyID: "k", Sealed: []byte("sealed")}}}
	made, err := s.UpdateTOTPFactor("a1", func(f *TOTPFactor) error {
		f.Pending = secret
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, &TOTPFactor{AccountID: "a1", Pending: secret}, made)
	read, err := s.TOTPFactor("a1")
	require.NoError(t, err)
	assert.Equal(t, made, read)

	refused := errors.New("no")
	_, err = s.UpdateTOTPFactor("a1", func(f *TOTPFactor) error {
		f.Pending = nil
		return refused
	})
	assert.Same(t, refused, err)
	read, err = s.TOTPFactor("a1")
	require.NoError(t, err)
	assert.NotNil(t, read.Pending, "a refused change writes nothing")

	_, err = s.UpdateTOTPFactor("a1", func(f *TOTPFactor) error {
		f.Pending = nil
		return nil
	})
	require.NoError(t, err)
	keys, err := kv.ListKeys(0, 100)
	require.NoError(t, err)
	assert.Empty(t, keys, "a record with neither secret is deleted")
}

func TestTOTPAccountsAreListedByTheirKeys(t *testing.T) {
	s, _ := newTestStore(t)
	require.NoError(t, s.CreateLocalAccount(&LocalAccount{ID: "a1", Username: "dave"}))
	for _, id := range []string{"a1", "a2"} {
		_, err := s.UpdateTOTPFactor(id, func(f *TOTPFactor) error {
			f.Active = &TOTPSecret{}
			return nil
		})
		require.NoError(t, err)
	}
	require.NoError(t, s.DeleteTOTPFactor("a2"))
	ids, err := s.TOTPAccountIDs()
	require.NoError(t, err)
	assert.Equal(t, []string{"a1"}, ids)
}

func TestPasskeysAreAListPerAccount(t *testing.T) {
	s, kv := newTestStore(t)
	none, err := s.Passkeys("a1")
	require.NoError(t, err)
	assert.Empty(t, none)

	add := func(id string) func([]Passkey) ([]Passkey, error) {
		return func(list []Passkey) ([]Passkey, error) { return append(list, Passkey{ID: id}), nil }
	}
	_, err = s.UpdatePasskeys("a1", add("p1"))
	require.NoError(t, err)
	list, err := s.UpdatePasskeys("a1", add("p2"))
	require.NoError(t, err)
	assert.Equal(t, []Passkey{{ID: "p1"}, {ID: "p2"}}, list)
	read, err := s.Passkeys("a1")
	require.NoError(t, err)
	assert.Equal(t, list, read)

	_, err = s.UpdatePasskeys("a1", func([]Passkey) ([]Passkey, error) { return nil, nil })
	require.NoError(t, err)
	keys, err := kv.ListKeys(0, 100)
	require.NoError(t, err)
	assert.Empty(t, keys, "an empty list is deleted")
}

func TestConcurrentPasskeyChangesAreAllKept(t *testing.T) {
	s, _ := newTestStore(t)
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			_, err := s.UpdatePasskeys("a1", func(list []Passkey) ([]Passkey, error) {
				return append(list, Passkey{SignCount: uint32(i)}), nil
			})
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	list, err := s.Passkeys("a1")
	require.NoError(t, err)
	assert.Len(t, list, 10)
}

func TestAPasskeyCeremonyIsTakenOnceBeforeItExpires(t *testing.T) {
	clock := clocktest.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	s := New(newClockKV(clock.Now))
	ceremony := &PasskeyCeremony{AccountID: "a1", Kind: "login", Session: json.RawMessage(`{"challenge":"c"}`)}
	require.NoError(t, s.SavePasskeyCeremony("h1", ceremony, 5*time.Minute))
	assert.Error(t, s.SavePasskeyCeremony("h1", ceremony, 5*time.Minute), "ids never collide silently")

	const takers = 10
	taken := make([]*PasskeyCeremony, takers)
	errs := make([]error, takers)
	var wg sync.WaitGroup
	for i := range takers {
		wg.Go(func() { taken[i], errs[i] = s.TakePasskeyCeremony("h1") })
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		if err == nil {
			won++
			assert.Equal(t, ceremony, taken[i])
		} else {
			assert.ErrorIs(t, err, records.ErrNotFound)
		}
	}
	assert.Equal(t, 1, won)

	require.NoError(t, s.SavePasskeyCeremony("h2", ceremony, 5*time.Minute))
	clock.Advance(5 * time.Minute)
	_, err := s.TakePasskeyCeremony("h2")
	assert.ErrorIs(t, err, records.ErrNotFound)
}
