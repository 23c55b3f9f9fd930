package store

import (
	"encoding/json"

	"github.com/pkg/errors"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// crlKey is the key of a list: a connector's name, with the generation of
// its issuing CA after the first (enroll.CRLList).
func crlKey(list string) string { return "crl:" + list }

// CurrentCRL returns the latest CRL signed for a list, or nil.
func (s *Store) CurrentCRL(list string) (*records.CRL, error) {
	crl, err := getJSON[records.CRL](s, crlKey(list), "CRL of "+list)
	if errors.Is(err, records.ErrNotFound) {
		return nil, nil
	}
	return crl, err
}

// IssueCRL records the next CRL of a list: sign makes it for the number
// after the current one, and the write is a compare-and-set from the
// current one, so that two nodes never issue one number twice.
func (s *Store) IssueCRL(list string, sign func(number int64) (*records.CRL, error)) (*records.CRL, error) {
	var issued *records.CRL
	err := s.update(crlKey(list), func(old []byte) (any, error) {
		var current records.CRL
		if len(old) > 0 {
			if err := json.Unmarshal(old, &current); err != nil {
				return nil, errors.Wrap(err, "decode the current CRL")
			}
		}
		next, err := sign(current.Number + 1)
		if err != nil {
			return nil, err
		}
		issued = next
		return next, nil
	})
	return issued, err
}
