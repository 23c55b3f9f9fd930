package sqlstore

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

// KVRecords are the records versions up to 0.1 kept in the KV store.
type KVRecords interface {
	EachCertificate(visit func(*records.Certificate) error) error
	EachRequest(visit func(*records.Request) error) error
	InventoryMoved() (*store.InventoryMove, error)
	MarkInventoryMoved(m *store.InventoryMove) error
}

// claimGrace keeps a moved key claim a little past its certificate.
const claimGrace = 10 * time.Minute

// MoveFromKV copies the certificate records and requests an earlier version
// kept in the KV store into the tables, with the claims on their keys, once:
// the KV store then says the move is done, and a second call changes
// nothing (it returns nil). The caller holds the cluster lock. The KV
// records stay where they are (a CSR request's key is claimed until
// requestKeyTTL after the request expires), so that the earlier version, installed
// again, still finds what it had. A record already in the tables is left
// as it is, so a move cut short is simply run again.
func (s *Store) MoveFromKV(kv KVRecords, requestKeyTTL time.Duration) (*store.InventoryMove, error) {
	done, err := kv.InventoryMoved()
	if err != nil || done != nil {
		return nil, err
	}
	now := s.now()
	move := &store.InventoryMove{At: now.UTC().Format(time.RFC3339)}
	err = kv.EachCertificate(func(c *records.Certificate) error {
		if c.Issuer == "" {
			c.Issuer = issuerOf(c.DER)
		}
		if err := s.CreateCertificate(c); err != nil && !errors.Is(err, records.ErrDuplicateSerial) {
			return fmt.Errorf("certificate %s: %w", c.Serial, err)
		}
		if c.KeyFingerprint != "" && now.Before(c.NotAfter) {
			holder := records.KeyHolder{Kind: records.KeyHeldByCertificate, ID: c.Serial}
			if _, _, err := s.ClaimKey(c.KeyFingerprint, holder, c.NotAfter.Sub(now)+claimGrace); err != nil {
				return fmt.Errorf("the key of certificate %s: %w", c.Serial, err)
			}
		}
		move.Certificates++
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = kv.EachRequest(func(r *records.Request) error {
		move.Requests++
		if _, err := s.GetRequest(r.ID); err == nil {
			return nil
		}
		if err := s.CreateRequest(r); err != nil {
			return fmt.Errorf("request %s: %w", r.ID, err)
		}
		if fingerprint := csrKeyFingerprint(r.CSRPEM); fingerprint != "" && !r.State.Final() {
			holder := records.KeyHolder{Kind: records.KeyHeldByRequest, ID: r.ID}
			if _, _, err := s.ClaimKey(fingerprint, holder, r.ExpiresAt.Sub(now)+requestKeyTTL); err != nil {
				return fmt.Errorf("the key of request %s: %w", r.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := kv.MarkInventoryMoved(move); err != nil {
		return nil, err
	}
	return move, nil
}

// issuerOf names the issuer of a certificate an earlier version recorded
// without it.
func issuerOf(der []byte) string {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return "unknown"
	}
	return pki.IssuerID(cert)
}

// csrKeyFingerprint is the fingerprint of a stored CSR's key, "" if it has
// none that can be read.
func csrKeyFingerprint(csrPEM string) string {
	block, _ := pem.Decode([]byte(csrPEM))
	if block == nil {
		return ""
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return ""
	}
	fingerprint, err := pki.PublicKeyFingerprint(csr.PublicKey)
	if err != nil {
		return ""
	}
	return fingerprint
}

// LegacyCRLs are the revocation lists versions before the database kept in
// the KV store, each under its connector's name (":<generation>" after it
// for an issuing CA's second generation and later).
type LegacyCRLs interface {
	EachLegacyCRL(visit func(list string, crl *records.CRL) error) error
}

// MoveCRLsFromKV records the lists an earlier version signed, so that
// numbering goes on from them (see ImportCRL): at every activation, as an
// earlier version installed again in between may have signed more. A list
// that cannot be read is left behind: the next signing numbers from what
// the tables have.
func (s *Store) MoveCRLsFromKV(kv LegacyCRLs) error {
	return kv.EachLegacyCRL(func(list string, crl *records.CRL) error {
		parsed, err := x509.ParseRevocationList(crl.DER)
		if err != nil {
			return nil
		}
		connector, _, _ := strings.Cut(list, ":")
		return s.ImportCRL(records.CRLScope{Connector: connector, Issuer: pki.CRLIssuerID(parsed)}, crl)
	})
}
