package store

import (
	"strings"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"

	"github.com/pkg/errors"
)

// holderValue is how a key mark stores its holder.
func holderValue(h records.KeyHolder) []byte { return []byte(h.Kind + ":" + h.ID) }

func keyMarkKey(fingerprint string) string { return "pubkey:" + fingerprint }

// ClaimKey marks a public key as held by holder, atomically: of concurrent
// claims exactly one succeeds. A key already held gives false and its holder.
func (s *Store) ClaimKey(fingerprint string, holder records.KeyHolder, ttl time.Duration) (bool, records.KeyHolder, error) {
	saved, err := s.kv.Set(keyMarkKey(fingerprint), holderValue(holder), setIfAbsent(), expiry(ttl))
	if err != nil {
		return false, records.KeyHolder{}, errors.Wrap(err, "claim public key")
	}
	if saved {
		return true, holder, nil
	}
	current, err := s.KeyHolderOf(fingerprint)
	return false, current, err
}

// MoveKey hands a key's mark from one holder to the next (an upload becomes
// a request or a certificate), for ttl from now.
func (s *Store) MoveKey(fingerprint string, from, to records.KeyHolder, ttl time.Duration) error {
	saved, err := s.kv.Set(keyMarkKey(fingerprint), holderValue(to), setIfEquals(holderValue(from)), expiry(ttl))
	if err != nil {
		return errors.Wrap(err, "record public key holder")
	}
	if !saved {
		return errors.New("record public key holder: the key is not held by " + from.Kind + " " + from.ID)
	}
	return nil
}

// ReleaseKey frees a key's mark if holder still has it: nothing was issued
// for the key, so it may be submitted again.
func (s *Store) ReleaseKey(fingerprint string, holder records.KeyHolder) error {
	_, err := s.kv.Set(keyMarkKey(fingerprint), nil, setIfEquals(holderValue(holder)))
	return errors.Wrap(err, "release public key")
}

// KeyHolderOf returns who holds a key's mark; the zero records.KeyHolder when none.
func (s *Store) KeyHolderOf(fingerprint string) (records.KeyHolder, error) {
	var raw []byte
	if err := s.kv.Get(keyMarkKey(fingerprint), &raw); err != nil {
		return records.KeyHolder{}, errors.Wrap(err, "read public key holder")
	}
	kind, id, _ := strings.Cut(string(raw), ":")
	return records.KeyHolder{Kind: kind, ID: id}, nil
}
