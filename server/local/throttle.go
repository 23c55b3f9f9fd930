package local

import (
	"strings"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

// The throttle's policy. Each account name may fail freeFailures times,
// each client address freeAddressFailures times (an office behind one
// address signs many people in at once, each attempt counted until it
// succeeds); after that each further try waits a delay that doubles from
// firstDelay up to maxDelay, counted from the last try. An account name is
// locked at lockAfter failures until an admin lifts it; an address is only
// slowed. Counts without a new failure are forgotten after forgetAfter.
const (
	freeFailures        = 5
	freeAddressFailures = 20
	firstDelay          = 2 * time.Second
	maxDelay            = 15 * time.Minute
	lockAfter           = 20
	forgetAfter         = 24 * time.Hour
)

// ThrottleStore keeps the attempts, in the KV store so that every node of
// a cluster counts the same.
type ThrottleStore interface {
	SignInFailuresOf(subject string) (store.SignInFailures, error)
	ChargeSignIn(subject string, at time.Time, admit func(store.SignInFailures) error, lockAfter int, forgetAfter time.Duration) error
	RefundSignIn(subject string, forgetAfter time.Duration) error
	ClearSignInFailures(subject string) error
}

// Throttle slows and stops password and code guessing, per account name
// and per client address. Each attempt is counted as a failure before it
// is tried (Attempt), in one compare-and-set with the decision, so a flood
// of attempts at once is decided by the count, not let through while the
// failures before it are still being counted; a success takes its charge
// back (Succeeded). Names that have no account are counted alike, so the
// answers tell nothing of which names exist.
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

// Attempt says whether a sign-in of username from address may be tried
// now, and counts it as failed until Succeeded says otherwise: nil,
// ErrAccountLocked, or a refusal with when to try again. The address is
// charged first, so a flood from one address never reaches the names it
// tries.
func (t *Throttle) Attempt(username, address string) error {
	now := t.Now()
	admit := func(free int) func(f store.SignInFailures) error {
		return func(f store.SignInFailures) error {
			if f.Locked {
				return ErrAccountLocked
			}
			// Only a count past the free ones waits: an attempt at once
			// with this one may have been counted a moment later.
			delay := delayAfter(f.Count, free)
			if wait := f.Last.Add(delay).Sub(now); delay > 0 && wait > 0 {
				return &enroll.Error{Code: enroll.CodeTooMany, RetryAfter: wait,
					Message: "Too many failed sign-ins; wait " + roundUp(wait).String() + " before trying again."}
			}
			return nil
		}
	}
	if err := t.Store.ChargeSignIn(addressSubject(address), now, admit(freeAddressFailures), 0, forgetAfter); err != nil {
		return err
	}
	return t.Store.ChargeSignIn(accountSubject(username), now, admit(freeFailures), lockAfter, forgetAfter)
}

// Succeeded takes back the charge of an attempt that succeeded: the
// account's failures are forgotten, the address's charge refunded (its
// earlier failures stay: one good password does not buy another name more
// guesses).
func (t *Throttle) Succeeded(username, address string) error {
	if err := t.Store.ClearSignInFailures(accountSubject(username)); err != nil {
		return err
	}
	return t.Store.RefundSignIn(addressSubject(address), forgetAfter)
}

// Withdrawn takes back the charge of an attempt that was never tried (the
// server was too busy to check it).
func (t *Throttle) Withdrawn(username, address string) error {
	if err := t.Store.RefundSignIn(accountSubject(username), forgetAfter); err != nil {
		return err
	}
	return t.Store.RefundSignIn(addressSubject(address), forgetAfter)
}

// Unlock lifts an account's lock and forgets its failures (an admin's
// decision).
func (t *Throttle) Unlock(username string) error {
	return t.Store.ClearSignInFailures(accountSubject(username))
}

// delayAfter is how long after its last failure a subject with count
// failures, free of them free, waits.
func delayAfter(count, free int) time.Duration {
	if count < free {
		return 0
	}
	d := firstDelay
	for range count - free {
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
