package admission_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/admission"
)

func TestAdmitsUpToCapacityThenBusy(t *testing.T) {
	q := admission.NewQueue(2, 5)
	require.Equal(t, int64(5), q.Capacity())
	var tickets []*admission.Ticket
	for range 5 {
		ticket, err := q.Admit(1)
		require.NoError(t, err)
		tickets = append(tickets, ticket)
	}
	_, err := q.Admit(1)
	require.ErrorIs(t, err, admission.ErrBusy)

	tickets[0].Release()
	tickets[0].Release() // twice is harmless
	again, err := q.Admit(1)
	require.NoError(t, err, "a released place is free again, once")
	_, err = q.Admit(1)
	require.ErrorIs(t, err, admission.ErrBusy)
	again.Release()
	for _, ticket := range tickets[1:] {
		ticket.Release()
	}
}

// The line holds a bounded cost of work: many cheap requests, or few dear
// ones.
func TestAdmitsByCost(t *testing.T) {
	q := admission.NewQueue(1, 12)
	dear, err := q.Admit(10)
	require.NoError(t, err)
	_, err = q.Admit(10)
	require.ErrorIs(t, err, admission.ErrBusy, "a second dear request does not fit")
	cheap, err := q.Admit(2)
	require.NoError(t, err, "a cheap one still does")
	_, err = q.Admit(1)
	require.ErrorIs(t, err, admission.ErrBusy)
	dear.Release()
	for range 10 {
		ticket, err := q.Admit(0)
		require.NoError(t, err, "a cost below 1 counts as 1")
		defer ticket.Release()
	}
	_, err = q.Admit(1)
	require.ErrorIs(t, err, admission.ErrBusy)
	cheap.Release()
}

func TestDoRunsAtMostWorkersAtOnce(t *testing.T) {
	const workers, requests = 2, 8
	q := admission.NewQueue(workers, requests)
	var running, peak atomic.Int32
	release := make(chan struct{})
	var wg sync.WaitGroup
	for range requests {
		ticket, err := q.Admit(1)
		require.NoError(t, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer ticket.Release()
			assert.NoError(t, ticket.Do(context.Background(), func() error {
				n := running.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				<-release
				running.Add(-1)
				return nil
			}))
		}()
	}
	require.Eventually(t, func() bool { return running.Load() == workers }, time.Minute, time.Millisecond,
		"the workers fill up")
	// Let the work through one at a time: at no point do more than
	// workers run.
	for range requests {
		release <- struct{}{}
	}
	wg.Wait()
	assert.Equal(t, int32(workers), peak.Load(), "never more than the workers at once")
}

func TestDoGivesUpWhenTheContextEnds(t *testing.T) {
	q := admission.NewQueue(1, 2)
	first, err := q.Admit(1)
	require.NoError(t, err)
	started, finish := make(chan struct{}), make(chan struct{})
	go func() {
		_ = first.Do(context.Background(), func() error {
			close(started)
			<-finish
			return nil
		})
	}()
	<-started

	second, err := q.Admit(1)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	err = second.Do(ctx, func() error { ran = true; return nil })
	require.ErrorIs(t, err, context.Canceled)
	assert.False(t, ran, "work that waited past its context does not run")
	second.Release()
	close(finish)
	first.Release()
}

func TestNilTicketJustRuns(t *testing.T) {
	var ticket *admission.Ticket
	ran := false
	require.NoError(t, ticket.Do(context.Background(), func() error { ran = true; return nil }))
	assert.True(t, ran)
	ticket.Release()
}

func TestReleasedTicketCannotRun(t *testing.T) {
	q := admission.NewQueue(1, 1)
	ticket, err := q.Admit(1)
	require.NoError(t, err)
	ticket.Release()
	assert.Error(t, ticket.Do(context.Background(), func() error { return nil }))
}
