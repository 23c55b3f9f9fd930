package store

import (
	"strings"

	"github.com/pkg/errors"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// Versions up to 0.1 kept certificate records and requests in the KV
// store; they now live in database tables. These read them for the move at
// the first activation after an upgrade, and keep them readable, in place,
// for a plugin version that is installed again over this one.

// listPage is how many keys one ListKeys call returns.
const listPage = 1000

// keysWithPrefix lists every key that starts with prefix. The pages are
// read whole and filtered here: the plugin API filters a page after
// reading it (pluginapi.WithPrefix), so a filtered page is short whenever
// other keys share it, and says nothing of the pages after it.
func (s *Store) keysWithPrefix(prefix string) ([]string, error) {
	var all []string
	for page := 0; ; page++ {
		keys, err := s.kv.ListKeys(page, listPage)
		if err != nil {
			return nil, errors.Wrapf(err, "list %s keys", prefix)
		}
		for _, key := range keys {
			if strings.HasPrefix(key, prefix) {
				all = append(all, key)
			}
		}
		if len(keys) < listPage {
			return all, nil
		}
	}
}

// EachCertificate calls visit with every certificate record the KV store
// holds.
func (s *Store) EachCertificate(visit func(*records.Certificate) error) error {
	keys, err := s.keysWithPrefix("cert:")
	if err != nil {
		return err
	}
	for _, key := range keys {
		c, err := getJSON[records.Certificate](s, key, key)
		if errors.Is(err, records.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if err := visit(c); err != nil {
			return err
		}
	}
	return nil
}

// EachRequest calls visit with every request the KV store holds.
func (s *Store) EachRequest(visit func(*records.Request) error) error {
	keys, err := s.keysWithPrefix("request:")
	if err != nil {
		return err
	}
	for _, key := range keys {
		r, err := getJSON[records.Request](s, key, key)
		if errors.Is(err, records.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if err := visit(r); err != nil {
			return err
		}
	}
	return nil
}

// InventoryMove says when the KV records moved to the database.
type InventoryMove struct {
	Certificates int    `json:"certificates"`
	Requests     int    `json:"requests"`
	At           string `json:"at"`
}

const inventoryMovedKey = "inventory:moved"

// InventoryMoved returns the record of the move, or nil before it.
func (s *Store) InventoryMoved() (*InventoryMove, error) {
	m, err := getJSON[InventoryMove](s, inventoryMovedKey, "inventory move")
	if errors.Is(err, records.ErrNotFound) {
		return nil, nil
	}
	return m, err
}

// MarkInventoryMoved records that the move is done.
func (s *Store) MarkInventoryMoved(m *InventoryMove) error {
	_, err := s.kv.Set(inventoryMovedKey, m)
	return errors.Wrap(err, "mark the inventory as moved")
}
