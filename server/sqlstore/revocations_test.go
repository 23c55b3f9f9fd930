//go:build e2e

package sqlstore

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll/inventorytest"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// A compromise races certificates recorded for the same key: whichever
// order the database puts them in, no valid certificate of the key is
// left. Without the key's lock, a certificate recorded while the
// compromise committed escaped both the sweep and the refusal.
func TestACompromiseRacingRecordsOfItsKeyLeavesNoneValid(t *testing.T) {
	s1, clock, db := newTestStore(t)
	s2 := New(newHandle(t, db), clock.Now)
	now := clock.Now()
	for round := range 10 {
		key := fmt.Sprintf("key-%d", round)
		first := fmt.Sprintf("%02x00", round)
		require.NoError(t, s1.CreateCertificate(inventorytest.SameKey(first, now, func(c *records.Certificate) { c.KeyFingerprint = key })))
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := inventorytest.SameKey(fmt.Sprintf("%02x%02x", round, i+1), now, func(c *records.Certificate) { c.KeyFingerprint = key })
				err := s2.RecordIssuance(c, "", now, nil)
				if err != nil && !errors.Is(err, records.ErrCompromisedKey) {
					t.Errorf("record: %v", err)
				}
			}()
		}
		_, err := s1.RevokeCertificate(inventorytest.RevokeOrder(first, records.ReasonKeyCompromise, now))
		require.NoError(t, err)
		wg.Wait()
		var valid int
		require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM certs_certificates WHERE key_fingerprint = $1 AND state = 'issued'`, key).Scan(&valid))
		assert.Zero(t, valid, "round %d", round)
	}
	leftover, err := s1.CompromisedValid(10)
	require.NoError(t, err)
	assert.Empty(t, leftover)
}

// Certificates of a compromised key recorded before the rule existed (an
// earlier version) are found, for the job to revoke.
func TestValidCertificatesOfCompromisedKeysAreFound(t *testing.T) {
	s, clock, db := newTestStore(t)
	now := clock.Now()
	require.NoError(t, s.CreateCertificate(inventorytest.SameKey("01", now, nil)))
	_, err := db.Exec(`INSERT INTO certs_compromised_keys (key_fingerprint, serial, reported_at) VALUES ('shared', 'old', 0)`)
	require.NoError(t, err)
	found, err := s.CompromisedValid(10)
	require.NoError(t, err)
	require.Len(t, found, 1)
	assert.Equal(t, "01", found[0].Serial)
}

// What OCSP reads of a certificate, in a narrow row: where it stands.
func TestCertificateStandingIsWhatOCSPNeeds(t *testing.T) {
	s, clock, _ := newTestStore(t)
	now := clock.Now()
	c := inventorytest.Certificate("0a", alice, now)
	c.Origin, c.RevocableAtCA = records.OriginImported, true
	require.NoError(t, s.CreateCertificate(c))
	standing, err := s.CertificateStanding("0a")
	require.NoError(t, err)
	assert.Equal(t, &records.Certificate{Serial: "0a", Connector: "builtin", Issuer: "issuer-1", Origin: records.OriginImported,
		State: records.CertIssued, RevocableAtCA: true, CreatedAt: now}, standing)
	_, err = s.RevokeCertificate(inventorytest.RevokeOrder("0a", records.ReasonKeyCompromise, now))
	require.NoError(t, err)
	standing, err = s.CertificateStanding("0a")
	require.NoError(t, err)
	assert.Equal(t, records.CertRevoked, standing.State)
	assert.Equal(t, records.ReasonKeyCompromise, standing.RevocationReason)
	assert.True(t, now.Equal(*standing.RevokedAt))
	_, err = s.CertificateStanding("ff")
	assert.ErrorIs(t, err, records.ErrNotFound)
}

// Many certificates of server-made keys in one statement (an import, a
// restore) are checked against the compromised keys without a lock each:
// a lock a row ran out of the database's lock slots.
func TestAStatementOfManyNewKeysIsRecordedWhole(t *testing.T) {
	_, clock, db := newTestStore(t)
	_, err := db.Exec(`INSERT INTO certs_certificates (serial, issuer, connector, owner, subject, common_name, key_fingerprint,
			fingerprint, origin, not_before, not_after, state, der, created_at)
		SELECT 'b' || g, 'issuer-1', 'builtin', 'mm:bulk', 'CN=b', 'b', 'key' || g, 'fp' || g, 'server_key', $2::bigint,
			$2::bigint + 86400000, 'issued', '\x30'::bytea, $2::bigint
		FROM generate_series(1, $1) AS g`, 100000, millis(clock.Now()))
	require.NoError(t, err)
}
