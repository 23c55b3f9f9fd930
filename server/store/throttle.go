package store

import (
	"encoding/json"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/randtoken"
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
	return "signin:" + randtoken.Hash(subject)
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

// ChargeSignIn counts an attempt of subject at at as a failure before it
// is tried, if admit lets it try: admit sees the count as it is, and its
// error is the answer, with nothing written. The read and the write are one
// compare-and-set, so of many attempts at once on many nodes only those
// the count admits go on. It locks the subject at lockAfter (0: never). An
// unlocked count is forgotten after forgetAfter without attempts; a lock
// stays until ClearSignInFailures.
func (s *Store) ChargeSignIn(subject string, at time.Time, admit func(SignInFailures) error, lockAfter int, forgetAfter time.Duration) error {
	for attempt := range updateAttempts {
		f, old, err := s.signInFailures(subject)
		if err != nil {
			return err
		}
		if err := admit(f); err != nil {
			return err
		}
		f.Count++
		f.Last = at
		if lockAfter > 0 && f.Count >= lockAfter {
			f.Locked = true
		}
		written, err := s.writeSignInFailures(subject, f, old, forgetAfter)
		if err != nil {
			return errors.Wrap(err, "count a sign-in attempt")
		}
		if written {
			return nil
		}
		time.Sleep(backoff(attempt))
	}
	return errors.New("counting a sign-in attempt kept colliding with other writers")
}

// RefundSignIn takes back one charged attempt of subject that succeeded.
func (s *Store) RefundSignIn(subject string, forgetAfter time.Duration) error {
	for attempt := range updateAttempts {
		f, old, err := s.signInFailures(subject)
		if err != nil {
			return err
		}
		if f.Count == 0 {
			return nil
		}
		f.Count--
		written, err := s.writeSignInFailures(subject, f, old, forgetAfter)
		if err != nil {
			return errors.Wrap(err, "refund a sign-in attempt")
		}
		if written {
			return nil
		}
		time.Sleep(backoff(attempt))
	}
	return errors.New("refunding a sign-in attempt kept colliding with other writers")
}

// writeSignInFailures writes f in place of old (absent when nil); false
// when another writer came first.
func (s *Store) writeSignInFailures(subject string, f SignInFailures, old []byte, forgetAfter time.Duration) (bool, error) {
	raw, err := json.Marshal(f)
	if err != nil {
		return false, errors.Wrap(err, "encode sign-in failures")
	}
	cas := setIfEquals(old)
	if old == nil {
		cas = setIfAbsent()
	}
	if f.Locked {
		return s.kv.Set(throttleKey(subject), raw, cas)
	}
	return s.kv.Set(throttleKey(subject), raw, cas, expiry(forgetAfter))
}

// ClearSignInFailures forgets a subject's failures, and lifts its lock.
func (s *Store) ClearSignInFailures(subject string) error {
	return errors.Wrap(s.kv.Delete(throttleKey(subject)), "clear sign-in failures")
}
