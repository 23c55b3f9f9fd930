//go:build e2e

package sqlstore

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// sameKey is a certificate of alice's with the key "shared".
func sameKey(serial string, now time.Time, edit func(*records.Certificate)) *records.Certificate {
	c := testCertificate(serial, alice, now)
	c.KeyFingerprint, c.Origin = "shared", records.OriginCSR
	if edit != nil {
		edit(c)
	}
	return c
}

// A revocation is one statement with its events; a second is refused,
// and so is one of a serial nobody recorded.
func TestRevocationRecordsItsEventAndRefusesASecond(t *testing.T) {
	s, clock, db := newTestStore(t)
	now := clock.Now()
	require.NoError(t, s.CreateCertificate(testCertificate("0a", alice, now)))
	revoked, err := s.RevokeCertificate(records.Revoke{Serial: "0a", At: now, By: "u1", Reason: records.ReasonSuperseded, PendingAtCA: true})
	require.NoError(t, err)
	c := revoked.Certificate
	assert.Equal(t, records.CertRevoked, c.State)
	assert.Equal(t, records.ReasonSuperseded, c.RevocationReason)
	assert.Equal(t, "u1", c.RevokedBy)
	assert.True(t, c.RevocationPending)
	assert.True(t, now.Equal(*c.RevokedAt))
	assert.Empty(t, revoked.Siblings)
	assert.Equal(t, []string{"certificate.recorded", "certificate.revoked"}, events(t, db))

	_, err = s.RevokeCertificate(records.Revoke{Serial: "0a", At: now, By: "u1", Reason: records.ReasonUnspecified})
	assert.ErrorIs(t, err, records.ErrAlreadyRevoked)
	_, err = s.RevokeCertificate(records.Revoke{Serial: "ff", At: now, By: "u1", Reason: records.ReasonUnspecified})
	assert.ErrorIs(t, err, records.ErrNotFound)
	_, err = s.RevokeCertificate(records.Revoke{Serial: "ff", At: now, By: "u1", Reason: records.ReasonKeyCompromise})
	assert.ErrorIs(t, err, records.ErrNotFound)
}

// A key revoked as compromised: its other valid certificates are revoked
// with it (one of a remote CA left pending there), each with its event and
// its list marked, and no certificate for the key is ever recorded again,
// on any path, whenever its first certificate expires.
func TestACompromisedKeyIsNeverCertifiedAgain(t *testing.T) {
	s, clock, db := newTestStore(t)
	now := clock.Now()
	require.NoError(t, s.CreateCertificate(sameKey("01", now, nil)))
	require.NoError(t, s.CreateCertificate(sameKey("02", now, nil)))
	require.NoError(t, s.CreateCertificate(sameKey("03", now, func(c *records.Certificate) { c.Connector, c.Issuer = "step", "step-ca" })))
	require.NoError(t, s.CreateCertificate(sameKey("04", now, func(c *records.Certificate) {
		c.Connector, c.Issuer, c.Origin = "step", "step-ca", records.OriginImported // its holder registered it: the CA is not told
	})))
	require.NoError(t, s.CreateCertificate(sameKey("05", now, func(c *records.Certificate) { c.NotAfter = now.Add(-time.Hour) })))
	require.NoError(t, s.CreateCertificate(testCertificate("06", alice, now)))

	revoked, err := s.RevokeCertificate(revokeOrder("01", records.ReasonKeyCompromise, now))
	require.NoError(t, err)
	bySerial := map[string]*records.Certificate{}
	for _, c := range revoked.Siblings {
		bySerial[c.Serial] = c
		assert.Equal(t, records.CertRevoked, c.State)
		assert.Equal(t, records.ReasonKeyCompromise, c.RevocationReason)
	}
	require.Len(t, bySerial, 3, "02, 03 and 04; 05 has expired")
	assert.False(t, bySerial["02"].RevocationPending, "the built-in CA's list names it")
	assert.True(t, bySerial["03"].RevocationPending, "step-ca must be told")
	assert.False(t, bySerial["04"].RevocationPending, "registered by its holder: not told")
	assert.ElementsMatch(t, []records.CRLMark{
		{Scope: issuer1, Revision: 2},
		{Scope: records.CRLScope{Connector: "step", Issuer: "step-ca"}, Revision: 2},
	}, revoked.Marks)
	assert.Len(t, events(t, db), 6+4)

	serial, err := s.CompromisedKey("shared")
	require.NoError(t, err)
	assert.Equal(t, "01", serial)
	other, err := s.CompromisedKey("key-06")
	require.NoError(t, err)
	assert.Empty(t, other)

	clock.advance(2 * 365 * 24 * time.Hour) // long after every certificate of it expired
	later := clock.Now()
	assert.ErrorIs(t, s.CreateCertificate(sameKey("07", later, nil)), records.ErrCompromisedKey, "registered")
	assert.ErrorIs(t, s.RecordIssuance(sameKey("08", later, nil), "", later, nil), records.ErrCompromisedKey, "issued")
	assert.ErrorIs(t, s.RecordIssuance(sameKey("09", later, nil), "", later, &records.Quota{Profile: "default", Active: 5}),
		records.ErrCompromisedKey, "issued under a limit")
	require.NoError(t, s.CreateRequest(testRequest("r1", alice, later)))
	_, err = s.MoveRequest("r1", later, nil, records.RequestApproved, nil)
	require.NoError(t, err)
	assert.ErrorIs(t, s.RecordIssuance(sameKey("0a", later, nil), "r1", later, nil), records.ErrCompromisedKey, "collected")
	request, err := s.GetRequest("r1")
	require.NoError(t, err)
	assert.Equal(t, records.RequestApproved, request.State, "the request is left as it was")
	_, err = s.GetCertificate("08")
	assert.ErrorIs(t, err, records.ErrNotFound)
	require.NoError(t, s.CreateCertificate(testCertificate("0b", alice, later)), "other keys are not concerned")
}

// A key found compromised after its certificate was revoked for another
// reason (replaced, say) is marked all the same: the certificate takes
// the new reason and keeps its revocation time.
func TestARevokedCertificatesKeyMayBeReportedCompromisedLater(t *testing.T) {
	s, clock, _ := newTestStore(t)
	now := clock.Now()
	require.NoError(t, s.CreateCertificate(sameKey("01", now, nil)))
	require.NoError(t, s.CreateCertificate(sameKey("02", now, nil)))
	_, err := s.RevokeCertificate(revokeOrder("01", records.ReasonSuperseded, now))
	require.NoError(t, err)
	clock.advance(time.Hour)
	revoked, err := s.RevokeCertificate(revokeOrder("01", records.ReasonKeyCompromise, clock.Now()))
	require.NoError(t, err)
	assert.Equal(t, records.ReasonKeyCompromise, revoked.Certificate.RevocationReason)
	assert.True(t, now.Equal(*revoked.Certificate.RevokedAt), "revoked when it was")
	require.Len(t, revoked.Siblings, 1)
	assert.Equal(t, "02", revoked.Siblings[0].Serial)
	_, err = s.RevokeCertificate(revokeOrder("01", records.ReasonKeyCompromise, clock.Now()))
	assert.ErrorIs(t, err, records.ErrAlreadyRevoked)
	assert.ErrorIs(t, s.CreateCertificate(sameKey("03", clock.Now(), nil)), records.ErrCompromisedKey)
}

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
		require.NoError(t, s1.CreateCertificate(sameKey(first, now, func(c *records.Certificate) { c.KeyFingerprint = key })))
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := sameKey(fmt.Sprintf("%02x%02x", round, i+1), now, func(c *records.Certificate) { c.KeyFingerprint = key })
				err := s2.RecordIssuance(c, "", now, nil)
				if err != nil && !errors.Is(err, records.ErrCompromisedKey) {
					t.Errorf("record: %v", err)
				}
			}()
		}
		_, err := s1.RevokeCertificate(revokeOrder(first, records.ReasonKeyCompromise, now))
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
	require.NoError(t, s.CreateCertificate(sameKey("01", now, nil)))
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
	c := testCertificate("0a", alice, now)
	c.Origin, c.RevocableAtCA = records.OriginImported, true
	require.NoError(t, s.CreateCertificate(c))
	standing, err := s.CertificateStanding("0a")
	require.NoError(t, err)
	assert.Equal(t, &records.Certificate{Serial: "0a", Connector: "builtin", Issuer: "issuer-1", Origin: records.OriginImported,
		State: records.CertIssued, RevocableAtCA: true, CreatedAt: now}, standing)
	_, err = s.RevokeCertificate(revokeOrder("0a", records.ReasonKeyCompromise, now))
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
