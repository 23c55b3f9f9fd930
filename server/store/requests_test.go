package store

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"

	"github.com/mattermost/mattermost/server/public/pluginapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newRequest(id string, owner records.Principal) *records.Request {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	return &records.Request{ID: id, Owner: owner, Profile: "vpn", Connector: "builtin", State: records.RequestPending,
		CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(7 * 24 * time.Hour)}
}

func TestRequestStateMachine(t *testing.T) {
	allowed := map[records.RequestState][]records.RequestState{
		records.RequestPending:   {records.RequestApproved, records.RequestWaitingCA, records.RequestDenied, records.RequestCancelled, records.RequestExpired},
		records.RequestWaitingCA: {records.RequestIssued, records.RequestApproved, records.RequestDenied, records.RequestCancelled, records.RequestExpired},
		records.RequestApproved:  {records.RequestIssued, records.RequestWaitingCA, records.RequestExpired, records.RequestCancelled},
	}
	all := []records.RequestState{records.RequestPending, records.RequestWaitingCA, records.RequestApproved, records.RequestIssued, records.RequestDenied, records.RequestCancelled, records.RequestExpired}
	for _, from := range all {
		for _, to := range all {
			want := false
			for _, ok := range allowed[from] {
				want = want || ok == to
			}
			assert.Equal(t, want, from.CanMoveTo(to), "%s → %s", from, to)
		}
		assert.Equal(t, len(allowed[from]) == 0, from.Final(), "%s final", from)
	}
}

func TestRequestLifecycleAndIndexes(t *testing.T) {
	s := New(&pluginapi.MemoryStore{})
	alice := records.MattermostUser("alice")
	require.NoError(t, s.CreateRequest(newRequest("r1", alice)))
	require.NoError(t, s.CreateRequest(newRequest("r2", alice)))
	require.Error(t, s.CreateRequest(newRequest("r1", alice)), "ids are unique")
	require.Error(t, s.CreateRequest(&records.Request{ID: "x"}), "owner and state are required")

	open, err := s.ListOpenRequests()
	require.NoError(t, err)
	assert.Len(t, open, 2)

	now := time.Now()
	r, err := s.UpdateRequest("r1", now, func(r *records.Request) error {
		r.State = records.RequestApproved
		r.DecidedBy = "carol"
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, records.RequestApproved, r.State)
	assert.Equal(t, now, r.UpdatedAt)

	_, err = s.UpdateRequest("r1", now, func(r *records.Request) error { r.State = records.RequestDenied; return nil })
	var te *records.ErrTransition
	require.ErrorAs(t, err, &te)
	assert.Equal(t, records.RequestApproved, te.From)
	got, err := s.GetRequest("r1")
	require.NoError(t, err)
	assert.Equal(t, records.RequestApproved, got.State, "a refused transition writes nothing")

	_, err = s.UpdateRequest("r1", now, func(r *records.Request) error { r.State = records.RequestIssued; r.Serial = "abc"; return nil })
	require.NoError(t, err)
	open, err = s.ListOpenRequests()
	require.NoError(t, err)
	require.Len(t, open, 1, "final requests leave the open index")
	assert.Equal(t, "r2", open[0].ID)

	mine, err := s.ListRequests(alice)
	require.NoError(t, err)
	require.Len(t, mine, 2, "the owner's index keeps every request")

	_, err = s.UpdateRequest("nope", now, func(*records.Request) error { return nil })
	assert.ErrorIs(t, err, records.ErrNotFound)
	boom := errors.New("boom")
	_, err = s.UpdateRequest("r2", now, func(*records.Request) error { return boom })
	assert.ErrorIs(t, err, boom)
}

func TestConcurrentDecisionsDecideOnce(t *testing.T) {
	s := New(&pluginapi.MemoryStore{})
	require.NoError(t, s.CreateRequest(newRequest("r", records.MattermostUser("alice"))))
	const n = 20
	var wg sync.WaitGroup
	results := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, results[i] = s.UpdateRequest("r", time.Now(), func(r *records.Request) error {
				if r.State != records.RequestPending {
					return &records.ErrTransition{From: r.State, To: records.RequestApproved}
				}
				if i%2 == 0 {
					r.State = records.RequestApproved
				} else {
					r.State = records.RequestDenied
				}
				r.DecidedBy = fmt.Sprint(i)
				return nil
			})
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range results {
		if err == nil {
			wins++
		} else {
			var te *records.ErrTransition
			assert.ErrorAs(t, err, &te)
		}
	}
	assert.Equal(t, 1, wins, "exactly one approver decides")
}

func TestMoveRequestChecksTheStartingState(t *testing.T) {
	s := New(&pluginapi.MemoryStore{})
	require.NoError(t, s.CreateRequest(newRequest("r", records.MattermostUser("alice"))))
	now := time.Now()
	_, err := s.MoveRequest("r", now, []records.RequestState{records.RequestWaitingCA}, records.RequestApproved, nil)
	var te *records.ErrTransition
	require.ErrorAs(t, err, &te, "pending is not among the allowed starting states")
	r, err := s.MoveRequest("r", now, []records.RequestState{records.RequestPending}, records.RequestApproved, func(r *records.Request) error { r.DecidedBy = "carol"; return nil })
	require.NoError(t, err)
	assert.Equal(t, records.RequestApproved, r.State)
	assert.Equal(t, "carol", r.DecidedBy)
	_, err = s.MoveRequest("r", now, nil, records.RequestApproved, nil)
	require.ErrorAs(t, err, &te, "a move to the same state is refused, so a decision happens once")
	_, err = s.MoveRequest("r", now, nil, records.RequestPending, nil)
	require.ErrorAs(t, err, &te, "the machine still rules when from is empty")
}
