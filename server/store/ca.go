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
	// Generation numbers the issuing CA of Chain; 0 (a record made before
	// the built-in CA renewed itself) is the first.
	Generation int `json:"generation,omitempty"`
	// Previous are the issuing CAs the current one took over from, newest
	// first, kept until they expire: the certificates they signed still
	// need their CRL and OCSP answers. Chain and IssuingKeys stay the
	// current CA, so a version that knows nothing of renewal still works.
	Previous []PreviousCA `json:"previous,omitempty"`
	// RolledOverAt is when the current issuing CA took over.
	RolledOverAt time.Time `json:"rolled_over_at,omitzero"`
}

// PreviousCA is an issuing CA that was succeeded, with its key (sealed as
// IssuingKeys are): it still signs its own CRL.
type PreviousCA struct {
	Certificate []byte              `json:"certificate"`
	Keys        []records.SealedKey `json:"keys"`
	Generation  int                 `json:"generation"`
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
