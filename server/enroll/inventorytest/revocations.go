package inventorytest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// A revocation is recorded once, with who and why, and marks its CA's
// list; a second is records.ErrAlreadyRevoked, and one of a serial nobody
// recorded records.ErrNotFound. A certificate of no known CA marks no
// list.
func revocationOnce(t *testing.T, s *suite) {
	now := s.now()
	s.create(t, Certificate("0a", alice, now))
	s.clock.Advance(time.Minute)
	at := s.now()
	revoked, err := s.inv.RevokeCertificate(records.Revoke{Serial: "0a", At: at, By: "u1", Reason: records.ReasonSuperseded, PendingAtCA: true})
	require.NoError(t, err)
	c := revoked.Certificate
	assert.Equal(t, "0a", c.Serial)
	assert.Equal(t, records.CertRevoked, c.State)
	assert.Equal(t, records.ReasonSuperseded, c.RevocationReason)
	assert.Equal(t, "u1", c.RevokedBy)
	assert.True(t, c.RevocationPending)
	assert.True(t, at.Equal(*c.RevokedAt))
	assert.Empty(t, revoked.Siblings)
	assert.Equal(t, []records.CRLMark{{Scope: Issuer1, Revision: 1}}, revoked.Marks)
	assert.Equal(t, normalized(c), normalized(s.get(t, "0a")), "the record returned is the one written")

	for _, reason := range []string{records.ReasonUnspecified, records.ReasonSuperseded} {
		_, err = s.inv.RevokeCertificate(RevokeOrder("0a", reason, at))
		assert.ErrorIs(t, err, records.ErrAlreadyRevoked, reason)
	}
	for _, reason := range []string{records.ReasonUnspecified, records.ReasonKeyCompromise} {
		_, err = s.inv.RevokeCertificate(RevokeOrder("ff", reason, at))
		assert.ErrorIs(t, err, records.ErrNotFound, reason)
	}

	unknown := Certificate("0b", alice, now)
	unknown.Connector, unknown.Issuer, unknown.Origin = "", "", records.OriginImported
	s.create(t, unknown)
	revoked = s.revoke(t, "0b", records.ReasonUnspecified)
	assert.Empty(t, revoked.Marks)
	assert.False(t, revoked.Certificate.RevocationPending)
	current, err := s.inv.CurrentCRL(Issuer1)
	require.NoError(t, err)
	assert.Equal(t, int64(1), current.Revision)
}

// A key revoked as compromised: its other valid certificates are revoked
// with it (those of a CA that keeps its own revocations left pending
// there, unless their holder registered them), each CA's list is marked,
// and no valid certificate for the key is ever recorded again, on any
// path, however long after.
func compromisedKey(t *testing.T, s *suite) {
	now := s.now()
	s.create(t,
		SameKey("01", now, nil),
		SameKey("02", now, nil),
		SameKey("03", now, func(c *records.Certificate) { c.Connector, c.Issuer = "step", "step-ca" }),
		SameKey("04", now, func(c *records.Certificate) {
			c.Connector, c.Issuer, c.Origin = "step", "step-ca", records.OriginImported // its holder registered it: the CA is not told
		}),
		SameKey("05", now, func(c *records.Certificate) { c.NotAfter = now.Add(-time.Hour) }),
		SameKey("06", now, func(c *records.Certificate) {
			c.Connector, c.Issuer, c.Origin, c.RevocableAtCA = "step", "step-ca", records.OriginImported, true // an admin registered it
		}),
		Certificate("07", alice, now),
	)

	revoked := s.revoke(t, "01", records.ReasonKeyCompromise)
	assert.Equal(t, records.ReasonKeyCompromise, revoked.Certificate.RevocationReason)
	bySerial := map[string]*records.Certificate{}
	for _, c := range revoked.Siblings {
		bySerial[c.Serial] = c
		assert.Equal(t, records.CertRevoked, c.State)
		assert.Equal(t, records.ReasonKeyCompromise, c.RevocationReason)
		assert.Equal(t, "u1", c.RevokedBy)
		assert.True(t, now.Equal(*c.RevokedAt))
		assert.Equal(t, normalized(c), normalized(s.get(t, c.Serial)))
	}
	require.Len(t, bySerial, 4, "02, 03, 04 and 06; 05 has expired: %v", serials(revoked.Siblings))
	assert.False(t, bySerial["02"].RevocationPending, "the built-in CA's list names it")
	assert.True(t, bySerial["03"].RevocationPending, "step-ca must be told")
	assert.False(t, bySerial["04"].RevocationPending, "registered by its holder: not told")
	assert.True(t, bySerial["06"].RevocationPending, "registered by an admin: told")
	assert.ElementsMatch(t, []records.CRLMark{
		{Scope: Issuer1, Revision: 2},
		{Scope: records.CRLScope{Connector: "step", Issuer: "step-ca"}, Revision: 3},
	}, revoked.Marks)
	assert.Equal(t, records.CertIssued, s.get(t, "05").State, "an expired certificate is left as it is")
	assert.Equal(t, records.CertIssued, s.get(t, "07").State, "another key's")

	serial, err := s.inv.CompromisedKey("shared")
	require.NoError(t, err)
	assert.Equal(t, "01", serial)
	serial, err = s.inv.CompromisedKey("key-07")
	require.NoError(t, err)
	assert.Empty(t, serial)

	s.clock.Advance(2 * 365 * 24 * time.Hour) // long after every certificate of it expired
	later := s.now()
	assert.ErrorIs(t, s.inv.CreateCertificate(SameKey("08", later, nil)), records.ErrCompromisedKey, "registered")
	assert.ErrorIs(t, s.inv.RecordIssuance(SameKey("09", later, nil), "", later, nil), records.ErrCompromisedKey, "issued")
	assert.ErrorIs(t, s.inv.RecordIssuance(SameKey("0a", later, nil), "", later, &records.Quota{Profile: "default", Active: 5}),
		records.ErrCompromisedKey, "issued under a limit")
	s.approvedRequest(t, "r1", alice)
	assert.ErrorIs(t, s.inv.RecordIssuance(SameKey("0b", later, nil), "r1", later, nil), records.ErrCompromisedKey, "collected")
	assert.Equal(t, records.RequestApproved, s.getRequest(t, "r1").State, "the request is left as it was")
	for _, serial := range []string{"08", "09", "0a", "0b"} {
		_, err = s.inv.GetCertificate(serial)
		assert.ErrorIs(t, err, records.ErrNotFound, serial)
	}
	s.create(t, SameKey("0c", later, func(c *records.Certificate) { c.State = records.CertRevoked }))
	s.create(t, Certificate("0d", alice, later))
	serial, err = s.inv.CompromisedKey("shared")
	require.NoError(t, err)
	assert.Equal(t, "01", serial, "the first report names the key")
}

// A key found compromised after its certificate was revoked for another
// reason (replaced, say) is marked all the same: the certificate takes the
// new reason and keeps its revocation time.
func compromisedLater(t *testing.T, s *suite) {
	now := s.now()
	s.create(t, SameKey("01", now, nil), SameKey("02", now, nil))
	s.revoke(t, "01", records.ReasonSuperseded)
	s.clock.Advance(time.Hour)
	revoked := s.revoke(t, "01", records.ReasonKeyCompromise)
	assert.Equal(t, records.ReasonKeyCompromise, revoked.Certificate.RevocationReason)
	assert.True(t, now.Equal(*revoked.Certificate.RevokedAt), "revoked when it was")
	assert.Equal(t, []string{"02"}, serials(revoked.Siblings))
	assert.Equal(t, []records.CRLMark{{Scope: Issuer1, Revision: 3}}, revoked.Marks, "01 twice, and 02")
	_, err := s.inv.RevokeCertificate(RevokeOrder("01", records.ReasonKeyCompromise, s.now()))
	assert.ErrorIs(t, err, records.ErrAlreadyRevoked)
	assert.ErrorIs(t, s.inv.CreateCertificate(SameKey("03", s.now(), nil)), records.ErrCompromisedKey)
}

// Valid certificates of a compromised key should be none; those an earlier
// version left are found, by serial, until they expire.
func compromisedValid(t *testing.T, s *suite) {
	now := s.now()
	s.create(t, SameKey("01", now, nil), SameKey("02", now, nil), SameKey("04", now, nil),
		SameKey("03", now, func(c *records.Certificate) { c.NotAfter = now.Add(time.Hour) }),
		Certificate("05", alice, now))
	found, err := s.inv.CompromisedValid(10)
	require.NoError(t, err)
	assert.Empty(t, found)
	s.revoke(t, "01", records.ReasonKeyCompromise)
	for _, serial := range []string{"04", "02", "03"} {
		_, err := s.inv.UpdateCertificate(serial, func(c *records.Certificate) error {
			c.State, c.RevokedAt, c.RevokedBy, c.RevocationReason = records.CertIssued, nil, "", ""
			return nil
		})
		require.NoError(t, err)
	}
	found, err = s.inv.CompromisedValid(10)
	require.NoError(t, err)
	assert.Equal(t, []string{"02", "03", "04"}, serials(found))
	found, err = s.inv.CompromisedValid(1)
	require.NoError(t, err)
	assert.Equal(t, []string{"02"}, serials(found))
	s.clock.Advance(2 * time.Hour)
	found, err = s.inv.CompromisedValid(10)
	require.NoError(t, err)
	assert.Equal(t, []string{"02", "04"}, serials(found), "03 has expired")
}

// Revocations their CA has not accepted are listed with the job's account
// of them, those due soonest first (never tried before all), then by
// serial.
func pendingRevocations(t *testing.T, s *suite) {
	now := s.now()
	for _, serial := range []string{"01", "02", "03", "04", "05"} {
		s.create(t, Certificate(serial, alice, now))
	}
	later, soon := now.Add(2*time.Hour), now.Add(time.Hour)
	for serial, retryAt := range map[string]*time.Time{"01": &later, "05": nil, "02": nil, "03": &soon} {
		_, err := s.inv.UpdateCertificate(serial, func(c *records.Certificate) error {
			c.State, c.RevokedAt, c.RevocationPending = records.CertRevoked, &now, true
			if retryAt != nil {
				c.RevocationAttempts, c.RevocationRetryAt = 3, retryAt
				c.RevocationCAAnswer = "The request lacked necessary authorization to be completed"
				c.RevocationNoticeAt = &now
			}
			return nil
		})
		require.NoError(t, err)
	}
	s.revoke(t, "04", records.ReasonUnspecified) // accepted at once

	pending, err := s.inv.PendingRevocations(10)
	require.NoError(t, err)
	assert.Equal(t, []string{"02", "05", "03", "01"}, serials(pending))
	listed := pending[3]
	for _, c := range []*records.Certificate{listed, s.get(t, "01")} {
		assert.True(t, c.RevocationPending)
		assert.Equal(t, 3, c.RevocationAttempts)
		require.NotNil(t, c.RevocationRetryAt)
		assert.True(t, later.Equal(*c.RevocationRetryAt))
		assert.Equal(t, "The request lacked necessary authorization to be completed", c.RevocationCAAnswer)
		require.NotNil(t, c.RevocationNoticeAt)
		assert.True(t, now.Equal(*c.RevocationNoticeAt))
	}
	assert.Zero(t, pending[0].RevocationAttempts)
	assert.Nil(t, pending[0].RevocationRetryAt)

	pending, err = s.inv.PendingRevocations(2)
	require.NoError(t, err)
	assert.Equal(t, []string{"02", "05"}, serials(pending), "the limit keeps the soonest due")

	_, err = s.inv.UpdateCertificate("02", func(c *records.Certificate) error {
		c.RevocationPending = false
		return nil
	})
	require.NoError(t, err)
	pending, err = s.inv.PendingRevocations(10)
	require.NoError(t, err)
	assert.Equal(t, []string{"05", "03", "01"}, serials(pending))
}
