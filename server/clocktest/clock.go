// Package clocktest is the clock tests move by hand, safe for the many
// goroutines a test of races runs.
package clocktest

import (
	"sync"
	"time"
)

// Clock is a time that stands still until the test moves it.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New is a clock standing at now.
func New(now time.Time) *Clock { return &Clock{now: now} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set puts the clock at t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
