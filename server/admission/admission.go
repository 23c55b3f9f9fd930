// Package admission bounds slow work: how much of it runs at once, and how
// much may wait for its turn, counted by its cost so that the line holds a
// bounded amount of work rather than a number of requests. A request that
// finds the line full is told at once that the server is busy, before it has
// used up anything (a single-use link), instead of waiting without limit;
// work of other kinds does not queue behind it.
package admission

import (
	"context"
	"errors"

	"golang.org/x/sync/semaphore"
)

// ErrBusy means the line is full: try again in a moment.
var ErrBusy = errors.New("busy: too much of this work is waiting; try again in a moment")

// Queue runs at most workers requests at once and admits requests while the
// cost of all those admitted (running and waiting) stays within capacity.
type Queue struct {
	capacity int64
	admitted *semaphore.Weighted
	workers  *semaphore.Weighted
}

// NewQueue returns a queue of workers (at least 1) that admits work costing
// capacity in all.
func NewQueue(workers int, capacity int64) *Queue {
	return &Queue{
		capacity: capacity,
		admitted: semaphore.NewWeighted(capacity),
		workers:  semaphore.NewWeighted(int64(max(1, workers))),
	}
}

// Capacity is the cost the queue admits at once, running and waiting.
func (q *Queue) Capacity() int64 { return q.capacity }

// Admit takes a place in line for work of the given cost (at least 1)
// without waiting, or gives ErrBusy. The ticket must be released when the
// request ends.
func (q *Queue) Admit(cost int64) (*Ticket, error) {
	cost = max(1, cost)
	if !q.admitted.TryAcquire(cost) {
		return nil, ErrBusy
	}
	return &Ticket{queue: q, cost: cost}, nil
}

// Ticket is an admitted request's place in a queue; it belongs to that one
// request. A nil ticket stands for work that needs no queue: Do just runs it.
type Ticket struct {
	queue    *Queue
	cost     int64
	released bool
}

// Do waits for a worker, runs fn, and frees the worker. A context that ends
// while waiting gives its error and fn does not run.
func (t *Ticket) Do(ctx context.Context, fn func() error) error {
	if t == nil {
		return fn()
	}
	if t.released {
		return errors.New("admission: ticket used after release")
	}
	if err := t.queue.workers.Acquire(ctx, 1); err != nil {
		return err
	}
	defer t.queue.workers.Release(1)
	return fn()
}

// Release gives the place back; releasing twice, or a nil ticket, is
// harmless.
func (t *Ticket) Release() {
	if t == nil || t.released {
		return
	}
	t.released = true
	t.queue.admitted.Release(t.cost)
}
