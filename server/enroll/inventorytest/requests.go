package inventorytest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// A request reads back as it was written, and its id is used once. An
// update writes what the change made of it, at now, and returns it; what
// identifies the request stays as it was made, and a change of state the
// machine does not allow writes nothing.
func requestRoundTrips(t *testing.T, s *suite) {
	now := s.now()
	decided, poll := now.Add(time.Minute), now.Add(time.Hour)
	req := Request("r-1", alice, now)
	req.CSRPEM, req.KeyType, req.Renews, req.CARequestID = "-----BEGIN CERTIFICATE REQUEST-----", "ecdsa-p256", "a1", "ca-7"
	req.Attestation = &records.Attestation{Format: "yubico-piv", DeviceSerial: "123"}
	req.Approvals = []records.Approval{{By: "mm:bob", At: decided}}
	req.DecidedBy, req.DecidedAt, req.Reason, req.Serial = "mm:bob", &decided, "ok", "0a"
	req.ApprovalNotices = []records.ApprovalNotice{{Approver: "mm:bob", Ref: "p1"}}
	req.NextPoll, req.Polls = &poll, 2
	req.PendingKey = &records.SealedKey{KeyID: "k", Sealed: []byte("sealed")}
	req.PendingKeyCopies = []records.SealedKey{{KeyID: "k2", Sealed: []byte("sealed again")}}
	req.CertificateDER, req.ChainDER = []byte{0x30, 0x01}, [][]byte{{0x30, 0x02}}
	s.createRequest(t, req)
	assert.Equal(t, normalizedRequest(req), normalizedRequest(s.getRequest(t, "r-1")))

	plain := Request("r-2", alice, now)
	s.createRequest(t, plain)
	got := s.getRequest(t, "r-2")
	assert.Equal(t, normalizedRequest(plain), normalizedRequest(got))
	assert.Nil(t, got.Approvals)
	assert.Nil(t, got.ApprovalNotices)
	assert.Nil(t, got.PendingKey)
	assert.Nil(t, got.CertificateDER)
	assert.Nil(t, got.ChainDER)

	assert.Error(t, s.inv.CreateRequest(Request("r-1", bob, now)), "an id is used once")
	assert.Equal(t, alice, s.getRequest(t, "r-1").Owner)
	assert.Error(t, s.inv.CreateRequest(&records.Request{ID: "x"}), "a request needs an owner and a state")
	assert.Error(t, s.inv.CreateRequest(&records.Request{Owner: alice, State: records.RequestPending}), "and an id")
	_, err := s.inv.GetRequest("nope")
	assert.ErrorIs(t, err, records.ErrNotFound)

	s.clock.Advance(time.Minute)
	later := s.now()
	updated, err := s.inv.UpdateRequest("r-2", later, func(r *records.Request) error {
		r.Polls, r.NextPoll = 3, &poll
		r.ApprovalNotices = append(r.ApprovalNotices, records.ApprovalNotice{Approver: "mm:carol", Ref: "p2"})
		// What identifies it never changes.
		r.ID, r.Owner, r.Profile, r.Connector, r.CreatedAt, r.Renews = "r-3", bob, "other", "step", later, "zz"
		return nil
	})
	require.NoError(t, err)
	got = s.getRequest(t, "r-2")
	assert.Equal(t, normalizedRequest(got), normalizedRequest(updated), "the request returned is the one written")
	assert.Equal(t, 3, got.Polls)
	assert.True(t, later.Equal(got.UpdatedAt))
	assert.Equal(t, []records.ApprovalNotice{{Approver: "mm:carol", Ref: "p2"}}, got.ApprovalNotices)
	assert.Equal(t, []any{"r-2", alice, "secure", "builtin", ms(now), ""},
		[]any{got.ID, got.Owner, got.Profile, got.Connector, ms(got.CreatedAt), got.Renews})
	_, err = s.inv.GetRequest("r-3")
	assert.ErrorIs(t, err, records.ErrNotFound)

	_, err = s.inv.UpdateRequest("r-2", later, func(r *records.Request) error {
		r.State, r.Polls = records.RequestIssued, 4
		return nil
	})
	var te *records.ErrTransition
	require.ErrorAs(t, err, &te, "pending cannot become issued")
	assert.Equal(t, records.RequestPending, te.From)
	assert.Equal(t, records.RequestIssued, te.To)
	assert.Equal(t, 3, s.getRequest(t, "r-2").Polls, "a refused change writes nothing")

	refused := errors.New("no")
	_, err = s.inv.UpdateRequest("r-2", later, func(r *records.Request) error {
		r.Polls = 5
		return refused
	})
	assert.Equal(t, refused, err, "the change's error, as it is")
	assert.Equal(t, 3, s.getRequest(t, "r-2").Polls)
	called := false
	_, err = s.inv.UpdateRequest("nope", later, func(*records.Request) error {
		called = true
		return nil
	})
	assert.ErrorIs(t, err, records.ErrNotFound)
	assert.False(t, called)
}

// MoveRequest moves a request only from the states it is given (any the
// machine allows when none is), so that of two moves only one happens.
func moveRequest(t *testing.T, s *suite) {
	now := s.now()
	s.createRequest(t, Request("r", alice, now))
	var te *records.ErrTransition
	_, err := s.inv.MoveRequest("r", now, []records.RequestState{records.RequestWaitingCA}, records.RequestApproved, nil)
	require.ErrorAs(t, err, &te, "pending is not among the allowed starting states")
	assert.Equal(t, records.RequestPending, te.From)
	assert.Equal(t, records.RequestPending, s.getRequest(t, "r").State)

	refused := errors.New("no")
	_, err = s.inv.MoveRequest("r", now, nil, records.RequestApproved, func(*records.Request) error { return refused })
	assert.Equal(t, refused, err)
	assert.Equal(t, records.RequestPending, s.getRequest(t, "r").State)

	moved, err := s.inv.MoveRequest("r", now, []records.RequestState{records.RequestPending}, records.RequestApproved,
		func(r *records.Request) error {
			r.DecidedBy = "carol"
			return nil
		})
	require.NoError(t, err)
	assert.Equal(t, records.RequestApproved, moved.State)
	got := s.getRequest(t, "r")
	assert.Equal(t, records.RequestApproved, got.State)
	assert.Equal(t, "carol", got.DecidedBy)

	_, err = s.inv.MoveRequest("r", now, nil, records.RequestApproved, nil)
	require.ErrorAs(t, err, &te, "a move to the same state is refused, so a decision happens once")
	_, err = s.inv.MoveRequest("r", now, nil, records.RequestPending, nil)
	require.ErrorAs(t, err, &te, "the machine rules when no state is given")
	_, err = s.inv.MoveRequest("r", now, nil, records.RequestExpired, nil)
	require.NoError(t, err)
	_, err = s.inv.MoveRequest("r", now, nil, records.RequestCancelled, nil)
	require.ErrorAs(t, err, &te, "nothing happens to a request that ended")
	_, err = s.inv.MoveRequest("nope", now, nil, records.RequestCancelled, nil)
	assert.ErrorIs(t, err, records.ErrNotFound)
}

// An owner's requests, and every open one (pending, approved, held by the
// CA), oldest first. (Of requests made in one millisecond, the database
// lists the lower id first, the KV store the one made first.)
func listRequests(t *testing.T, s *suite) {
	base := s.now()
	add := func(id string, owner records.Principal, minutes int, state records.RequestState) {
		r := Request(id, owner, base.Add(time.Duration(minutes)*time.Minute))
		r.State = state
		s.createRequest(t, r)
	}
	add("r4", alice, 4, records.RequestPending)
	add("r0", alice, 0, records.RequestWaitingCA)
	add("rb", bob, 1, records.RequestApproved)
	add("r3", alice, 3, records.RequestPending)
	add("r2", alice, 2, records.RequestPending)
	add("rf", alice, 5, records.RequestIssued)

	mine, err := s.inv.ListRequests(alice)
	require.NoError(t, err)
	assert.Equal(t, []string{"r0", "r2", "r3", "r4", "rf"}, requestIDs(mine))
	open, err := s.inv.ListOpenRequests()
	require.NoError(t, err)
	assert.Equal(t, []string{"r0", "rb", "r2", "r3", "r4"}, requestIDs(open), "a request made final is never open")

	_, err = s.inv.MoveRequest("r2", base, nil, records.RequestDenied, nil)
	require.NoError(t, err)
	_, err = s.inv.MoveRequest("rb", base, nil, records.RequestIssued, nil)
	require.NoError(t, err)
	open, err = s.inv.ListOpenRequests()
	require.NoError(t, err)
	assert.Equal(t, []string{"r0", "r3", "r4"}, requestIDs(open))
	mine, err = s.inv.ListRequests(alice)
	require.NoError(t, err)
	assert.Len(t, mine, 5, "an owner's list keeps every request")
	none, err := s.inv.ListRequests(carol)
	require.NoError(t, err)
	assert.Empty(t, none)
}

// Approvers and deniers racing on one request: exactly one decides it.
func racingDecisions(t *testing.T, s *suite) {
	s.createRequest(t, Request("r-1", alice, s.now()))
	var wg sync.WaitGroup
	results := make([]error, 20)
	for i := range results {
		to := records.RequestApproved
		if i%2 == 1 {
			to = records.RequestDenied
		}
		wg.Go(func() {
			_, results[i] = s.inv.MoveRequest("r-1", s.now(), []records.RequestState{records.RequestPending}, to, nil)
		})
	}
	wg.Wait()
	wins := 0
	for _, err := range results {
		var te *records.ErrTransition
		if err == nil {
			wins++
		} else {
			assert.ErrorAs(t, err, &te)
		}
	}
	assert.Equal(t, 1, wins)
}
