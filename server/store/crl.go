package store

import (
	"encoding/json"
	"time"

	"github.com/pkg/errors"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// The KV layout keeps each CA's list in one value, for the unit tests of
// the core; the database store is the one that runs, and the one whose
// tests race it.

func crlKey(scope records.CRLScope) string { return "crllist:" + scope.Connector + "/" + scope.Issuer }

// CurrentCRL returns what is known of a CA's list, without its bytes.
func (s *Store) CurrentCRL(scope records.CRLScope) (*records.CRL, error) {
	crl, err := getJSON[records.CRL](s, crlKey(scope), "CRL of "+scope.Connector)
	if errors.Is(err, records.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	crl.DER = nil
	return crl, nil
}

// CRLBytes returns the DER of a CA's list numbered number.
func (s *Store) CRLBytes(scope records.CRLScope, number int64) ([]byte, error) {
	crl, err := getJSON[records.CRL](s, crlKey(scope), "CRL of "+scope.Connector)
	if err != nil {
		return nil, err
	}
	if crl.Number != number || crl.DER == nil {
		return nil, records.ErrNotFound
	}
	return crl.DER, nil
}

// IssueCRL signs the next list of a CA when due says so (see the database
// store's): a compare-and-set from the current value. It returns the list
// now current: the new one, with its bytes, or the one due left alone,
// without them.
func (s *Store) IssueCRL(scope records.CRLScope, now time.Time, due func(current *records.CRL) bool,
	sign func(number int64, revoked []records.Revocation) (*records.CRL, error)) (*records.CRL, error) {
	var result *records.CRL
	err := s.update(crlKey(scope), func(old []byte) (any, error) {
		var current *records.CRL
		if len(old) > 0 {
			current = new(records.CRL)
			if err := json.Unmarshal(old, current); err != nil {
				return nil, errors.Wrap(err, "decode the current CRL")
			}
		}
		if !due(current) {
			if current != nil {
				current.DER = nil
			}
			result = current
			return nil, errUnchanged
		}
		number, since := records.Next(current, now)
		revoked, err := s.revocations(scope, since)
		if err != nil {
			return nil, err
		}
		signed, err := sign(number, revoked)
		if err != nil {
			return nil, err
		}
		next := records.Issued(signed, number, len(revoked), current)
		result = next
		return next, nil
	})
	if err != nil && !errors.Is(err, errUnchanged) {
		return nil, err
	}
	return result, nil
}

// errUnchanged ends a compare-and-set that has nothing to write.
var errUnchanged = errors.New("unchanged")

// markCRL adds n to the revision of a CA's list.
func (s *Store) markCRL(scope records.CRLScope, n int64) (int64, error) {
	var revision int64
	err := s.update(crlKey(scope), func(old []byte) (any, error) {
		var crl records.CRL
		if len(old) > 0 {
			if err := json.Unmarshal(old, &crl); err != nil {
				return nil, errors.Wrap(err, "decode the current CRL")
			}
		}
		crl.Revision += n
		revision = crl.Revision
		return crl, nil
	})
	return revision, err
}

// revocations are a CA's revoked certificates that expire at since or
// later, by a scan.
func (s *Store) revocations(scope records.CRLScope, since time.Time) ([]records.Revocation, error) {
	var out []records.Revocation
	err := s.EachCertificate(func(c *records.Certificate) error {
		if c.Connector != scope.Connector || c.Issuer != scope.Issuer || c.State != records.CertRevoked || c.NotAfter.Before(since) {
			return nil
		}
		at := c.CreatedAt
		if c.RevokedAt != nil {
			at = *c.RevokedAt
		}
		out = append(out, records.Revocation{Serial: c.Serial, RevokedAt: at.UnixMilli(), Reason: c.RevocationReason})
		return nil
	})
	return out, err
}

// legacyCRLPrefix is where versions before the database kept each list
// (the connector's name, and ":<generation>" after the first).
const legacyCRLPrefix = "crl:"

// EachLegacyCRL calls visit with every list an earlier version signed and
// kept in the KV store, and the name it kept it under.
func (s *Store) EachLegacyCRL(visit func(list string, crl *records.CRL) error) error {
	keys, err := s.keysWithPrefix(legacyCRLPrefix)
	if err != nil {
		return err
	}
	for _, key := range keys {
		crl, err := getJSON[records.CRL](s, key, key)
		if errors.Is(err, records.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if err := visit(key[len(legacyCRLPrefix):], crl); err != nil {
			return err
		}
	}
	return nil
}
