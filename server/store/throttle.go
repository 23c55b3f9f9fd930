package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/pkg/errors"
)

// SignInFailures is what the KV store remembers of failed sign-ins of one
// subject (an account name, a client address).
type SignInFailures struct {
	Count int       `json:"count"`
	Last  time.Time `json:"last"`
	// Locked is set once the subject may not try again until an admin
	// lifts it.
	Locked bool `json:"locked,omitempty"`
}

// throttleKey keys a subject by its hash: names and addresses stay out of
// the keys, and any length fits.
func throttleKey(subject string) string {
	sum := sha256.Sum256([]byte(subject))
	return "signin:" + hex.EncodeToString(sum[:])
}

// SignInFailuresOf reads a subject's failures; the zero value when it has
// none.
func (s *Store) SignInFailuresOf(subject string) (SignInFailures, error) {
	f, _, err := s.signInFailures(subject)
	return f, err
}

func (s *Store) signInFailures(subject string) (SignInFailures, []byte, error) {
	var raw []byte
	if err := s.kv.Get(throttleKey(subject), &raw); err != nil {
		return SignInFailures{}, nil, errors.Wrap(err, "read sign-in failures")
	}
	var f SignInFailures
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &f); err != nil {
			return SignInFailures{}, nil, errors.Wrap(err, "decode sign-in failures")
		}
	}
	return f, raw, nil
}

// AddSignInFailure counts one more failure of subject at at, with a
// compare-and-set from the value read, so failures on many nodes at once
// are all counted. It locks the subject at lockAfter failures (0: never).
// An unlocked count is forgotten after forgetAfter without failures; a lock
// stays until ClearSignInFailures.
func (s *Store) AddSignInFailure(subject string, at time.Time, lockAfter int, forgetAfter time.Duration) (SignInFailures, error) {
	for attempt := range updateAttempts {
		f, old, err := s.signInFailures(subject)
		if err != nil {
			return SignInFailures{}, err
		}
		f.Count++
		f.Last = at
		if lockAfter > 0 && f.Count >= lockAfter {
			f.Locked = true
		}
		raw, err := json.Marshal(f)
		if err != nil {
			return SignInFailures{}, errors.Wrap(err, "encode sign-in failures")
		}
		cas := setIfEquals(old)
		if old == nil {
			cas = setIfAbsent()
		}
		var written bool
		if f.Locked {
			written, err = s.kv.Set(throttleKey(subject), raw, cas)
		} else {
			written, err = s.kv.Set(throttleKey(subject), raw, cas, expiry(forgetAfter))
		}
		if err != nil {
			return SignInFailures{}, errors.Wrap(err, "count a sign-in failure")
		}
		if written {
			return f, nil
		}
		time.Sleep(backoff(attempt))
	}
	return SignInFailures{}, errors.New("counting a sign-in failure kept colliding with other writers")
}

// ClearSignInFailures forgets a subject's failures, and lifts its lock.
func (s *Store) ClearSignInFailures(subject string) error {
	return errors.Wrap(s.kv.Delete(throttleKey(subject)), "clear sign-in failures")
}
