//go:build e2e

package sqlstore

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll/inventorytest"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

func TestRecordEventWritesARowWithItsDetail(t *testing.T) {
	s, clock, db := newTestStore(t)
	detail := map[string]any{"profiles": map[string]any{"added": []string{"vpn"}}}
	require.NoError(t, s.RecordEvent("settings.changed", "", detail))

	var at int64
	var kind, actor, owner, got string
	require.NoError(t, db.QueryRow(`SELECT at, kind, actor, owner, detail->'profiles'->'added'->>0 FROM certs_events WHERE kind = 'settings.changed'`).
		Scan(&at, &kind, &actor, &owner, &got))
	assert.Equal(t, clock.Now().UnixMilli(), at)
	assert.Equal(t, "", actor)
	assert.Equal(t, "", owner)
	assert.Equal(t, "vpn", got)

	assert.Error(t, s.RecordEvent("", "", nil), "an event without a kind is refused")
}

// Each change of the inventory writes its event in the statement that
// makes it (what the changes do is the inventory's contract, run by
// TestInventoryContract): a record, an issuance that closes its request
// (and names what a renewal replaces), a change of state, each certificate
// a revocation takes with it; a change that is refused, or made before,
// writes none.
func TestEachChangeWritesItsEvent(t *testing.T) {
	s, clock, db := newTestStore(t)
	now := clock.Now()
	require.NoError(t, s.CreateCertificate(inventorytest.Certificate("01", alice, now)))
	assert.Equal(t, []string{"certificate.recorded"}, events(t, db))
	assert.ErrorIs(t, s.CreateCertificate(inventorytest.Certificate("01", alice, now)), records.ErrDuplicateSerial)

	req := inventorytest.Request("r-1", alice, now)
	req.State = records.RequestApproved
	require.NoError(t, s.CreateRequest(req))
	renewal := inventorytest.Certificate("02", alice, now)
	renewal.Renews = "01"
	require.NoError(t, s.RecordIssuance(renewal, "r-1", now, nil))
	assert.Equal(t, []string{"certificate.recorded", "request.approved", "certificate.issued"}, events(t, db))
	var detail, requestID string
	require.NoError(t, db.QueryRow(`SELECT detail::text, request_id FROM certs_events WHERE serial = '02' AND kind = 'certificate.issued'`).
		Scan(&detail, &requestID))
	assert.JSONEq(t, `{"renews": "01"}`, detail, "the event says what the renewal replaced")
	assert.Equal(t, "r-1", requestID)
	assert.ErrorIs(t, s.RecordIssuance(inventorytest.Certificate("02", alice, now), "", now, nil), records.ErrAlreadyRecorded)
	assert.Len(t, events(t, db), 3, "recorded before: no second event")

	_, err := s.UpdateCertificate("01", func(c *records.Certificate) error {
		c.Emails = append(c.Emails, "other@example.com")
		return nil
	})
	require.NoError(t, err)
	assert.Len(t, events(t, db), 3, "a change of state writes an event, another change none")
	_, err = s.UpdateCertificate("01", func(c *records.Certificate) error {
		c.State, c.RevokedBy = records.CertRevoked, "carol"
		return nil
	})
	require.NoError(t, err)
	var actor string
	require.NoError(t, db.QueryRow(`SELECT actor FROM certs_events WHERE serial = '01' AND kind = 'certificate.revoked'`).Scan(&actor))
	assert.Equal(t, "carol", actor)

	for _, serial := range []string{"03", "04"} {
		c := inventorytest.Certificate(serial, alice, now)
		c.KeyFingerprint = "shared"
		require.NoError(t, s.CreateCertificate(c))
	}
	_, err = s.RevokeCertificate(inventorytest.RevokeOrder("03", records.ReasonKeyCompromise, now))
	require.NoError(t, err)
	_, err = s.RevokeCertificate(inventorytest.RevokeOrder("03", records.ReasonKeyCompromise, now))
	assert.ErrorIs(t, err, records.ErrAlreadyRevoked)
	assert.Equal(t, []string{"certificate.recorded", "request.approved", "certificate.issued", "certificate.revoked",
		"certificate.recorded", "certificate.recorded", "certificate.revoked", "certificate.revoked"}, events(t, db),
		"the compromised key's other certificate has its own")

	_, err = s.MoveRequest("r-1", now, nil, records.RequestCancelled, nil)
	var te *records.ErrTransition
	require.ErrorAs(t, err, &te)
	assert.Len(t, events(t, db), 8)
}
