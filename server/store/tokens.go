package store

import (
	"strings"
	"time"

	"github.com/pkg/errors"
)

// A link token's ID moves through these states in the KV store; absent means
// never used.
const (
	tokenClaimed = "claimed"
	tokenUsedPfx = "used:"
)

// TokenState is what the store knows of a link token.
type TokenState struct {
	// InProgress: a request holding the token is being served right now.
	InProgress bool
	// Used: the token has produced a certificate (Serial).
	Used   bool
	Serial string
}

func tokenKey(id string) string { return "token:" + id }

// ClaimToken marks a token as being consumed, atomically: of any number of
// concurrent callers for one id exactly one gets true. ttl should outlast
// the token itself so the mark cannot expire while the token is still valid.
func (s *Store) ClaimToken(id string, ttl time.Duration) (bool, error) {
	claimed, err := s.kv.Set(tokenKey(id), []byte(tokenClaimed), setIfAbsent(), expiry(ttl))
	if err != nil {
		return false, errors.Wrap(err, "claim link token")
	}
	return claimed, nil
}

// ReleaseToken undoes a claim after a failure the user could not cause or fix
// (a CA that is down), so the same link can be retried while it is valid.
// Only a claim still in progress is released: a used token stays used.
func (s *Store) ReleaseToken(id string) error {
	_, err := s.kv.Set(tokenKey(id), nil, setIfEquals([]byte(tokenClaimed)))
	return errors.Wrap(err, "release link token")
}

// CompleteToken records that a claimed token produced the certificate serial.
func (s *Store) CompleteToken(id, serial string, ttl time.Duration) error {
	saved, err := s.kv.Set(tokenKey(id), []byte(tokenUsedPfx+serial), setIfEquals([]byte(tokenClaimed)), expiry(ttl))
	if err != nil {
		return errors.Wrap(err, "record link token use")
	}
	if !saved {
		return errors.New("record link token use: the token was not claimed")
	}
	return nil
}

// GetTokenState tells whether a token is unused, being used, or used.
func (s *Store) GetTokenState(id string) (TokenState, error) {
	var raw []byte
	if err := s.kv.Get(tokenKey(id), &raw); err != nil {
		return TokenState{}, errors.Wrap(err, "read link token state")
	}
	v := string(raw)
	switch {
	case v == "":
		return TokenState{}, nil
	case v == tokenClaimed:
		return TokenState{InProgress: true}, nil
	case strings.HasPrefix(v, tokenUsedPfx):
		return TokenState{Used: true, Serial: strings.TrimPrefix(v, tokenUsedPfx)}, nil
	}
	return TokenState{}, errors.Errorf("unexpected link token state %q", v)
}
