package store

import (
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"

	"github.com/pkg/errors"
)

// Secret is a credential the plugin keeps out of the server configuration
// (a CA connector's password), sealed like the CA keys: possibly under more
// than one encryption secret while that secret is being changed.
type Secret struct {
	Keys      []records.SealedKey `json:"keys"`
	CreatedAt time.Time           `json:"created_at"`
}

func secretKey(id string) string { return "secret:" + id }

// SaveSecret stores a new secret under id.
func (s *Store) SaveSecret(id string, secret *Secret) error {
	saved, err := s.kv.Set(secretKey(id), secret, setIfAbsent())
	if err != nil {
		return errors.Wrap(err, "store secret")
	}
	if !saved {
		return errors.Errorf("a secret with id %s already exists", id)
	}
	return nil
}

// GetSecret returns the secret id, or records.ErrNotFound.
func (s *Store) GetSecret(id string) (*Secret, error) {
	return getJSON[Secret](s, secretKey(id), "secret")
}

// UpdateSecret changes a secret with a compare-and-set.
func (s *Store) UpdateSecret(id string, change func(*Secret) error) error {
	_, err := updateJSON(s, secretKey(id), "secret", change)
	return err
}
