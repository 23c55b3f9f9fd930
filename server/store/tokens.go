package store

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/pkg/errors"
)

// tokenUsed is the mark of a used link token in the KV store; absent means
// never used. Marks written by earlier versions ("claimed", "used:<serial>")
// read as used too.
const tokenUsed = "used"

func tokenKey(id string) string { return "token:" + id }

// ClaimToken uses up a link token, atomically: of any number of concurrent
// callers for one id exactly one gets true. The mark is final the moment it
// is written, so that completing an issuance costs no second write; the
// claimer alone may give it back with ReleaseToken, and only when nothing
// was issued. ttl should outlast the token itself so the mark cannot expire
// while the token is still valid.
func (s *Store) ClaimToken(id string, ttl time.Duration) (bool, error) {
	claimed, err := s.kv.Set(tokenKey(id), []byte(tokenUsed), setIfAbsent(), expiry(ttl))
	if err != nil {
		return false, errors.Wrap(err, "claim link token")
	}
	return claimed, nil
}

// ReleaseToken gives a claimed token back after a failure the user could
// not cause or fix (a CA that is down), so the same link can be retried
// while it is valid. Only the caller whose claim succeeded may release it,
// and only when it issued nothing.
func (s *Store) ReleaseToken(id string) error {
	_, err := s.kv.Set(tokenKey(id), nil, setIfEquals([]byte(tokenUsed)))
	return errors.Wrap(err, "release link token")
}

// TokenUsed tells whether a token has been claimed (and not given back).
func (s *Store) TokenUsed(id string) (bool, error) {
	var raw []byte
	if err := s.kv.Get(tokenKey(id), &raw); err != nil {
		return false, errors.Wrap(err, "read link token state")
	}
	return len(raw) > 0, nil
}

func runKey(job string) string { return "run:" + job }

// LastRun is when a periodic duty last ran on any node; zero if never.
func (s *Store) LastRun(job string) (time.Time, error) {
	var at time.Time
	var raw []byte
	if err := s.kv.Get(runKey(job), &raw); err != nil {
		return at, errors.Wrap(err, "read the last run")
	}
	if len(raw) == 0 {
		return at, nil
	}
	err := json.Unmarshal(raw, &at)
	return at, errors.Wrap(err, "decode the last run")
}

// MarkRun records that a periodic duty ran at.
func (s *Store) MarkRun(job string, at time.Time) error {
	_, err := s.kv.Set(runKey(job), at)
	return errors.Wrap(err, "record the run")
}

// DailyDuty reports whether a duty of the job that runs once a day (job)
// is due at now, and marks it done: the job runs on one node at a time, so
// whichever node runs it, the duty runs once a day.
func (s *Store) DailyDuty(job string, now time.Time) bool {
	lastRun, err := s.LastRun(job)
	if err != nil || (!lastRun.IsZero() && now.Sub(lastRun) < 24*time.Hour) {
		return false
	}
	return s.MarkRun(job, now) == nil
}

// ClaimReminder records in the KV store that a certificate's reminder
// days before expiry is sent (for the unit tests' inventory).
func (s *Store) ClaimReminder(serial string, days int) (bool, error) {
	return s.ClaimToken("reminder:"+serial+":"+strconv.Itoa(days), 400*24*time.Hour)
}
