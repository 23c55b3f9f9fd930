package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// A public key is certified once: its claim row, keyed by the key's SHA-256
// fingerprint, says who holds it until when. The primary key makes two
// claims of one key impossible; an expired claim may be taken over.

// ClaimKey claims a public key for holder until ttl from now: of concurrent
// claims exactly one succeeds. A key already held gives false and its holder.
func (s *Store) ClaimKey(fingerprint string, holder records.KeyHolder, ttl time.Duration) (bool, records.KeyHolder, error) {
	now := s.now()
	var kind, id string
	err := s.db.QueryRow(`INSERT INTO certs_key_claims (key_fingerprint, holder_kind, holder_id, expires_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (key_fingerprint) DO UPDATE SET holder_kind = EXCLUDED.holder_kind, holder_id = EXCLUDED.holder_id,
			expires_at = EXCLUDED.expires_at
		WHERE certs_key_claims.expires_at <= $5
		RETURNING holder_kind, holder_id`, fingerprint, holder.Kind, holder.ID, millis(now.Add(ttl)), millis(now)).Scan(&kind, &id)
	if err == nil {
		return true, holder, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return false, records.KeyHolder{}, fmt.Errorf("claim public key: %w", err)
	}
	current, err := s.KeyHolderOf(fingerprint)
	if err != nil {
		return false, records.KeyHolder{}, err
	}
	return false, current, nil
}

// MoveKey hands a key's claim from one holder to another, with a new
// lifetime; a claim that from no longer holds is left alone.
func (s *Store) MoveKey(fingerprint string, from, to records.KeyHolder, ttl time.Duration) error {
	res, err := s.db.Exec(`UPDATE certs_key_claims SET holder_kind = $4, holder_id = $5, expires_at = $6
		WHERE key_fingerprint = $1 AND holder_kind = $2 AND holder_id = $3`,
		fingerprint, from.Kind, from.ID, to.Kind, to.ID, millis(s.now().Add(ttl)))
	if err != nil {
		return fmt.Errorf("move public key: %w", err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("move public key: it is not held by %s %s", from.Kind, from.ID)
	}
	return nil
}

// ReleaseKey drops holder's claim on a key, so it may be submitted again.
func (s *Store) ReleaseKey(fingerprint string, holder records.KeyHolder) error {
	_, err := s.db.Exec(`DELETE FROM certs_key_claims WHERE key_fingerprint = $1 AND holder_kind = $2 AND holder_id = $3`,
		fingerprint, holder.Kind, holder.ID)
	if err != nil {
		return fmt.Errorf("release public key: %w", err)
	}
	return nil
}

// KeyHolderOf returns who holds a key's claim now; an empty holder when
// nobody does.
func (s *Store) KeyHolderOf(fingerprint string) (records.KeyHolder, error) {
	var holder records.KeyHolder
	err := s.db.QueryRow(`SELECT holder_kind, holder_id FROM certs_key_claims WHERE key_fingerprint = $1 AND expires_at > $2`,
		fingerprint, millis(s.now())).Scan(&holder.Kind, &holder.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return records.KeyHolder{}, nil
	}
	if err != nil {
		return records.KeyHolder{}, fmt.Errorf("read public key claim: %w", err)
	}
	return holder, nil
}
