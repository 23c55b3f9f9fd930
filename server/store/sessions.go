package store

import (
	"encoding/json"
	"time"

	"github.com/pkg/errors"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// PortalSession is a person signed in on the plugin's own pages. It is kept
// under the hash of its id, never the id itself, so that reading the KV
// store gives no one a session.
type PortalSession struct {
	Principal records.Principal `json:"principal"`
	// CSRF is the token every state-changing form of the session carries.
	CSRF      string    `json:"csrf"`
	CreatedAt time.Time `json:"created_at"`
	// SeenAt is when the session was last used, for its idle expiry.
	SeenAt time.Time `json:"seen_at"`
	// ExpiresAt is when it ends however busy it is.
	ExpiresAt time.Time `json:"expires_at"`
	// Stage is what the person must still do before the session opens
	// anything: "" (nothing), or a second factor to give or to set up.
	Stage string `json:"stage,omitempty"`
}

func sessionKey(hash string) string { return "psession:" + hash }

// CreateSession stores a new session under hash, to vanish from the KV
// store after ttl unless touched; false when the hash is taken (a random
// id that collided: the caller makes another).
func (s *Store) CreateSession(hash string, session *PortalSession, ttl time.Duration) (bool, error) {
	raw, err := json.Marshal(session)
	if err != nil {
		return false, errors.Wrap(err, "encode session")
	}
	created, err := s.kv.Set(sessionKey(hash), raw, setIfAbsent(), expiry(ttl))
	if err != nil {
		return false, errors.Wrap(err, "create session")
	}
	return created, nil
}

// GetSession reads the session stored under hash; records.ErrNotFound when
// there is none (never made, ended, or expired from the KV store).
func (s *Store) GetSession(hash string) (*PortalSession, error) {
	session, _, err := s.getSession(hash)
	return session, err
}

func (s *Store) getSession(hash string) (*PortalSession, []byte, error) {
	var raw []byte
	if err := s.kv.Get(sessionKey(hash), &raw); err != nil {
		return nil, nil, errors.Wrap(err, "read session")
	}
	if len(raw) == 0 {
		return nil, nil, records.ErrNotFound
	}
	session := &PortalSession{}
	if err := json.Unmarshal(raw, session); err != nil {
		return nil, nil, errors.Wrap(err, "decode session")
	}
	return session, raw, nil
}

// TouchSession records that the session under hash was used at seenAt and
// keeps it in the KV store for ttl more, with a compare-and-set from the
// value read: of two nodes touching it at once one write wins, and both
// mean the same. A session ended meanwhile stays ended (ErrNotFound).
func (s *Store) TouchSession(hash string, seenAt time.Time, ttl time.Duration) error {
	session, old, err := s.getSession(hash)
	if err != nil {
		return err
	}
	session.SeenAt = seenAt
	raw, err := json.Marshal(session)
	if err != nil {
		return errors.Wrap(err, "encode session")
	}
	// A lost race means another request touched it: nothing to do.
	if _, err := s.kv.Set(sessionKey(hash), raw, setIfEquals(old), expiry(ttl)); err != nil {
		return errors.Wrap(err, "touch session")
	}
	return nil
}

// DeleteSession ends the session under hash.
func (s *Store) DeleteSession(hash string) error {
	return errors.Wrap(s.kv.Delete(sessionKey(hash)), "delete session")
}
