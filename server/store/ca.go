package store

import (
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"

	"github.com/pkg/errors"
)

// CA is a stored certificate authority: certificates in the clear, private
// keys sealed. A key may be sealed under more than one secret while the
// encryption secret is being changed; the old copies are dropped once the new
// secret is in use.
type CA struct {
	// Chain is the DER of the issuing CA first, up to the root.
	Chain       [][]byte            `json:"chain"`
	IssuingKeys []records.SealedKey `json:"issuing_keys"`
	RootKeys    []records.SealedKey `json:"root_keys,omitempty"`
	CreatedAt   time.Time           `json:"created_at"`
}

func caKey(name string) string { return "ca:" + name }

// GetCA returns the stored CA called name, or records.ErrNotFound.
func (s *Store) GetCA(name string) (*CA, error) {
	return getJSON[CA](s, caKey(name), "stored CA")
}

// CreateCA stores ca under name unless a CA is already stored there; it
// returns whether it stored it.
func (s *Store) CreateCA(name string, ca *CA) (bool, error) {
	saved, err := s.kv.Set(caKey(name), ca, setIfAbsent())
	return saved, errors.Wrap(err, "store CA")
}

// UpdateCA changes the stored CA with a compare-and-set.
func (s *Store) UpdateCA(name string, change func(*CA) error) error {
	_, err := updateJSON(s, caKey(name), "stored CA", change)
	return err
}

// SaveCA stores ca under name, replacing what was there.
func (s *Store) SaveCA(name string, ca *CA) error {
	_, err := s.kv.Set(caKey(name), ca)
	return errors.Wrap(err, "store CA")
}
