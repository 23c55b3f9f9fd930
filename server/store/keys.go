package store

import (
	"strings"
	"time"

	"github.com/pkg/errors"
)

// A public key is certified once. Its mark, keyed by the key's SHA-256
// fingerprint, says who holds it: an upload being served, a request waiting
// for a decision, or a certificate. A second CSR for the same key (a replayed
// or double-submitted upload, or one key reused for many certificates) is
// refused while the mark lives.

// KeyHolder is what holds a public key's mark.
type KeyHolder struct {
	// Kind is "upload" (being served now), "request" or "certificate".
	Kind string
	// ID is the request id or the certificate serial.
	ID string
}

const (
	KeyHeldByUpload      = "upload"
	KeyHeldByRequest     = "request"
	KeyHeldByCertificate = "certificate"
)

func (h KeyHolder) value() []byte { return []byte(h.Kind + ":" + h.ID) }

func keyMarkKey(fingerprint string) string { return "pubkey:" + fingerprint }

// ClaimKey marks a public key as held by holder, atomically: of concurrent
// claims exactly one succeeds. A key already held gives false and its holder.
func (s *Store) ClaimKey(fingerprint string, holder KeyHolder, ttl time.Duration) (bool, KeyHolder, error) {
	saved, err := s.kv.Set(keyMarkKey(fingerprint), holder.value(), setIfAbsent(), expiry(ttl))
	if err != nil {
		return false, KeyHolder{}, errors.Wrap(err, "claim public key")
	}
	if saved {
		return true, holder, nil
	}
	current, err := s.KeyHolderOf(fingerprint)
	return false, current, err
}

// MoveKey hands a key's mark from one holder to the next (an upload becomes
// a request or a certificate), for ttl from now.
func (s *Store) MoveKey(fingerprint string, from, to KeyHolder, ttl time.Duration) error {
	saved, err := s.kv.Set(keyMarkKey(fingerprint), to.value(), setIfEquals(from.value()), expiry(ttl))
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
func (s *Store) ReleaseKey(fingerprint string, holder KeyHolder) error {
	_, err := s.kv.Set(keyMarkKey(fingerprint), nil, setIfEquals(holder.value()))
	return errors.Wrap(err, "release public key")
}

// KeyHolderOf returns who holds a key's mark; the zero KeyHolder when none.
func (s *Store) KeyHolderOf(fingerprint string) (KeyHolder, error) {
	var raw []byte
	if err := s.kv.Get(keyMarkKey(fingerprint), &raw); err != nil {
		return KeyHolder{}, errors.Wrap(err, "read public key holder")
	}
	kind, id, _ := strings.Cut(string(raw), ":")
	return KeyHolder{Kind: kind, ID: id}, nil
}
