package local

import (
	"strings"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

// The throttle's policy. Each account name and each client address may
// fail freeFailures times; after that each further try waits a delay that
// doubles from firstDelay up to maxDelay. An account name is locked at
// lockAfter failures until an admin lifts it; an address is only slowed.
// Counts without a new failure are forgotten after forgetAfter.
const (
	freeFailures = 5
	firstDelay   = 2 * time.Second
	maxDelay     = 15 * time.Minute
	lockAfter    = 20
	forgetAfter  = 24 * time.Hour
)

// ThrottleStore keeps the failures, in the KV store so that every node of
// a cluster counts the same.
type ThrottleStore interface {
	SignInFailuresOf(subject string) (store.SignInFailures, error)
	AddSignInFailure(subject string, at time.Time, lockAfter int, forgetAfter time.Duration) (store.SignInFailures, error)
	ClearSignInFailures(subject string) error
}

// Throttle slows and stops password guessing, per account name and per
// client address. Check is asked before any password hash is computed, so
// a flood of wrong passwords costs a KV read each, not a bcrypt each; it
// answers the same for a name that has no account, so the answer tells
// nothing of which names exist.
type Throttle struct {
	Store ThrottleStore
	Now   func() time.Time
}

// ErrAccountLocked is the answer for an account name locked after too many
// failures.
var ErrAccountLocked = &enroll.Error{Code: enroll.CodeForbidden, Next: enroll.NextAskAdmin,
	Message: "This account is locked after too many failed sign-ins.", Hint: "Ask an administrator to unlock it."}

func accountSubject(username string) string {
	return "account:" + strings.ToLower(strings.TrimSpace(username))
}

func addressSubject(address string) string { return "address:" + address }

// Check says whether a sign-in of username from address may be tried now:
// nil, ErrAccountLocked, or a 429 with when to try again.
func (t *Throttle) Check(username, address string) error {
	now := t.Now()
	var wait time.Duration
	for _, subject := range []string{accountSubject(username), addressSubject(address)} {
		f, err := t.Store.SignInFailuresOf(subject)
		if err != nil {
			return err
		}
		if f.Locked {
			return ErrAccountLocked
		}
		wait = max(wait, f.Last.Add(delayAfter(f.Count)).Sub(now))
	}
	if wait > 0 {
		return &enroll.Error{Code: enroll.CodeTooMany, RetryAfter: wait,
			Message: "Too many failed sign-ins; wait " + roundUp(wait).String() + " before trying again."}
	}
	return nil
}

// Failed counts a failed sign-in of username from address.
func (t *Throttle) Failed(username, address string) error {
	now := t.Now()
	if _, err := t.Store.AddSignInFailure(accountSubject(username), now, lockAfter, forgetAfter); err != nil {
		return err
	}
	_, err := t.Store.AddSignInFailure(addressSubject(address), now, 0, forgetAfter)
	return err
}

// Succeeded forgets the account's failures once it signed in. The
// address keeps its count: one good password does not buy another name
// more guesses.
func (t *Throttle) Succeeded(username string) error {
	return t.Store.ClearSignInFailures(accountSubject(username))
}

// Unlock lifts an account's lock and forgets its failures (an admin's
// decision).
func (t *Throttle) Unlock(username string) error {
	return t.Store.ClearSignInFailures(accountSubject(username))
}

// delayAfter is how long after its last failure a subject with count
// failures waits.
func delayAfter(count int) time.Duration {
	if count < freeFailures {
		return 0
	}
	d := firstDelay
	for range count - freeFailures {
		if d >= maxDelay {
			break
		}
		d *= 2
	}
	return min(d, maxDelay)
}

func roundUp(d time.Duration) time.Duration {
	return d.Truncate(time.Second) + time.Second
}
