package store

import (
	"slices"
	"strings"

	"github.com/pkg/errors"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

func compromisedKey(fingerprint string) string { return "compromised:" + fingerprint }

// RevokeCertificate records a revocation as the database store does (see
// its RevokeCertificate), one compare-and-set after another: the KV layout
// has no transaction, so this serves the unit tests of the core, not
// racing nodes.
func (s *Store) RevokeCertificate(order records.Revoke) (*records.Revoked, error) {
	compromise := order.Reason == records.ReasonKeyCompromise
	cert, err := s.UpdateCertificate(order.Serial, func(c *records.Certificate) error {
		upgrade := compromise && c.State == records.CertRevoked && c.RevocationReason != records.ReasonKeyCompromise
		if c.State != records.CertIssued && !upgrade {
			return records.ErrAlreadyRevoked
		}
		if c.RevokedAt == nil {
			at := order.At
			c.RevokedAt = &at
			c.RevocationPending = order.PendingAtCA
		}
		c.State, c.RevokedBy, c.RevocationReason = records.CertRevoked, order.By, order.Reason
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := &records.Revoked{Certificate: cert}
	revoked := []*records.Certificate{cert}
	if compromise && cert.KeyFingerprint != "" {
		if _, err := s.kv.Set(compromisedKey(cert.KeyFingerprint), []byte(cert.Serial), setIfAbsent()); err != nil {
			return nil, errors.Wrap(err, "mark a compromised key")
		}
		now := s.now()
		err := s.EachCertificate(func(c *records.Certificate) error {
			if c.KeyFingerprint != cert.KeyFingerprint || c.Serial == cert.Serial || c.State != records.CertIssued || c.NotAfter.Before(now) {
				return nil
			}
			sibling, err := s.UpdateCertificate(c.Serial, func(c *records.Certificate) error {
				at := order.At
				c.State, c.RevokedAt, c.RevokedBy, c.RevocationReason = records.CertRevoked, &at, order.By, records.ReasonKeyCompromise
				c.RevocationPending = slices.Contains(order.RemoteConnectors, c.Connector) && (c.Origin != records.OriginImported || c.RevocableAtCA)
				return nil
			})
			if err != nil {
				return err
			}
			out.Siblings = append(out.Siblings, sibling)
			revoked = append(revoked, sibling)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	counts := map[records.CRLScope]int64{}
	for _, c := range revoked {
		if c.Connector != "" {
			counts[records.CRLScope{Connector: c.Connector, Issuer: c.Issuer}]++
		}
	}
	for scope, n := range counts {
		revision, err := s.markCRL(scope, n)
		if err != nil {
			return nil, err
		}
		out.Marks = append(out.Marks, records.CRLMark{Scope: scope, Revision: revision})
	}
	return out, nil
}

// CompromisedKey returns the serial whose revocation for keyCompromise
// marked a key, "" when none did.
func (s *Store) CompromisedKey(fingerprint string) (string, error) {
	var raw []byte
	if err := s.kv.Get(compromisedKey(fingerprint), &raw); err != nil {
		return "", errors.Wrap(err, "read compromised keys")
	}
	return string(raw), nil
}

// CompromisedValid lists, by a scan, valid certificates of compromised
// keys, by serial.
func (s *Store) CompromisedValid(limit int) ([]*records.Certificate, error) {
	var out []*records.Certificate
	now := s.now()
	err := s.EachCertificate(func(c *records.Certificate) error {
		if c.State != records.CertIssued || c.NotAfter.Before(now) || c.KeyFingerprint == "" {
			return nil
		}
		serial, err := s.CompromisedKey(c.KeyFingerprint)
		if err == nil && serial != "" {
			out = append(out, c)
		}
		return err
	})
	return firstBySerial(out, limit), err
}

// firstBySerial is the first limit of certs, by serial.
func firstBySerial(certs []*records.Certificate, limit int) []*records.Certificate {
	slices.SortFunc(certs, func(a, b *records.Certificate) int { return strings.Compare(a.Serial, b.Serial) })
	return certs[:max(0, min(limit, len(certs)))]
}

// refuseCompromised is the database's insert rule: no valid certificate
// of a compromised key is recorded.
func (s *Store) refuseCompromised(c *records.Certificate) error {
	if c.KeyFingerprint == "" || c.State != records.CertIssued {
		return nil
	}
	serial, err := s.CompromisedKey(c.KeyFingerprint)
	if err != nil {
		return err
	}
	if serial != "" {
		return records.ErrCompromisedKey
	}
	return nil
}
