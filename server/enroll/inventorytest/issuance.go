package inventorytest

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

// RecordIssuance records a certificate and closes the approved (or
// CA-held) request it was issued for, dropping the key the request held.
// The same certificate recorded again (a delivery held since it was
// issued) is records.ErrAlreadyRecorded, its request closed all the same;
// another certificate under a recorded serial is
// records.ErrDuplicateSerial, and closes nothing. A request that cannot be
// closed (it expired meanwhile, or is not there) is *records.ErrTransition,
// with the certificate recorded all the same.
func recordIssuance(t *testing.T, s *suite) {
	req := Request("r-1", alice, s.now())
	req.State = records.RequestApproved
	req.PendingKey = &records.SealedKey{KeyID: "k", Sealed: []byte("sealed")}
	req.PendingKeyCopies = []records.SealedKey{{KeyID: "k2", Sealed: []byte("sealed again")}}
	s.createRequest(t, req)
	held := Request("r-2", alice, s.now())
	held.State = records.RequestWaitingCA
	s.createRequest(t, held)

	s.clock.Advance(time.Minute)
	now := s.now()
	require.NoError(t, s.inv.RecordIssuance(Certificate("01", alice, now), "r-1", now, nil))
	got := s.getRequest(t, "r-1")
	assert.Equal(t, records.RequestIssued, got.State)
	assert.Equal(t, "01", got.Serial)
	assert.Nil(t, got.PendingKey, "the held key is dropped with the collection")
	assert.Nil(t, got.PendingKeyCopies)
	assert.True(t, now.Equal(got.UpdatedAt))
	s.get(t, "01")
	require.NoError(t, s.inv.RecordIssuance(Certificate("02", alice, now), "r-2", now, nil))
	assert.Equal(t, records.RequestIssued, s.getRequest(t, "r-2").State, "a request the CA held closes too")

	assert.ErrorIs(t, s.inv.RecordIssuance(Certificate("01", alice, now), "", now, nil), records.ErrAlreadyRecorded)
	s.approvedRequest(t, "r-3", alice)
	assert.ErrorIs(t, s.inv.RecordIssuance(Certificate("01", alice, now), "r-3", now, nil), records.ErrAlreadyRecorded)
	got = s.getRequest(t, "r-3")
	assert.Equal(t, records.RequestIssued, got.State, "the delivery's request is closed all the same")
	assert.Equal(t, "01", got.Serial)

	other := Certificate("01", alice, now)
	other.Fingerprint = "another"
	assert.ErrorIs(t, s.inv.RecordIssuance(other, "", now, nil), records.ErrDuplicateSerial)
	s.approvedRequest(t, "r-4", alice)
	assert.ErrorIs(t, s.inv.RecordIssuance(other, "r-4", now, nil), records.ErrDuplicateSerial)
	got = s.getRequest(t, "r-4")
	assert.Equal(t, records.RequestApproved, got.State, "another certificate's serial closes nothing")
	assert.Empty(t, got.Serial)
	assert.Equal(t, "fp-01", s.get(t, "01").Fingerprint)

	s.createRequest(t, Request("r-5", alice, now))
	err := s.inv.RecordIssuance(Certificate("05", alice, now), "r-5", now, nil)
	var te *records.ErrTransition
	require.ErrorAs(t, err, &te)
	assert.Equal(t, records.RequestPending, te.From)
	assert.Equal(t, records.RequestIssued, te.To)
	s.get(t, "05")
	assert.Equal(t, records.RequestPending, s.getRequest(t, "r-5").State)

	err = s.inv.RecordIssuance(Certificate("06", alice, now), "r-none", now, nil)
	require.ErrorAs(t, err, &te, "a request that is not there cannot be closed either")
	assert.Equal(t, records.RequestIssued, te.To)
	s.get(t, "06")

	assert.Error(t, s.inv.RecordIssuance(Certificate("", alice, now), "", now, nil))
	assert.Error(t, s.inv.RecordIssuance(Certificate("07", "", now), "", now, nil))
}

// A quota is decided with the record: a certificate its owner has no room
// for is *records.ErrOverQuota, with what was counted, and nothing is
// written. Valid certificates of the profile take a place (not revoked or
// expired ones); every certificate recorded since quota.Since counts for
// the day, of the profile and of all.
func quotaWithTheRecord(t *testing.T, s *suite) {
	now := s.now()
	since := now.Add(-24 * time.Hour)
	quota := &records.Quota{Profile: "default", Active: 2, Since: since}
	record := func(c *records.Certificate, q *records.Quota) error {
		return s.inv.RecordIssuance(c, "", now, q)
	}
	require.NoError(t, record(Certificate("q0", alice, now), quota))
	require.NoError(t, record(Certificate("q1", alice, now), quota))
	err := record(Certificate("q2", alice, now), quota)
	var over *records.ErrOverQuota
	require.ErrorAs(t, err, &over)
	assert.Equal(t, *quota, over.Quota)
	assert.Equal(t, records.OwnerCounts{Active: 2, Recent: 2, RecentAll: 2}, over.Counts)
	_, err = s.inv.GetCertificate("q2")
	assert.ErrorIs(t, err, records.ErrNotFound)

	s.approvedRequest(t, "r-q", alice)
	require.ErrorAs(t, s.inv.RecordIssuance(Certificate("q3", alice, now), "r-q", now, quota), &over)
	assert.Equal(t, records.RequestApproved, s.getRequest(t, "r-q").State, "its request is left open")
	_, err = s.inv.GetCertificate("q3")
	assert.ErrorIs(t, err, records.ErrNotFound)

	require.NoError(t, record(Certificate("b1", bob, now), quota), "another owner has places of his own")
	wifi := Certificate("w1", alice, now)
	wifi.Profile = "wifi"
	require.NoError(t, record(wifi, &records.Quota{Profile: "wifi", Active: 1, Since: since}), "and so has another profile")

	s.revoke(t, "q0", records.ReasonSuperseded)
	require.NoError(t, record(Certificate("q4", alice, now), quota), "a revoked certificate holds no place")
	expired := Certificate("e1", alice, now.Add(-48*time.Hour))
	expired.NotAfter = now.Add(-time.Hour)
	s.create(t, expired)
	counts, err := s.inv.CountOwned(alice, records.Quota{Profile: "default", Since: since}, now)
	require.NoError(t, err)
	assert.Equal(t, records.OwnerCounts{Active: 2, Recent: 3, RecentAll: 4}, counts,
		"q1 and q4 hold places; q0, q1 and q4 were issued today, and w1 of another profile")

	err = record(Certificate("x1", alice, now), &records.Quota{Profile: "other", PerDayAll: 4, Since: since})
	require.ErrorAs(t, err, &over, "the server's daily bound of a person spans profiles")
	assert.Equal(t, 4, over.Counts.RecentAll)

	perDay := &records.Quota{Profile: "default", PerDay: 1, Since: since}
	require.ErrorAs(t, record(Certificate("b2", bob, now), perDay), &over)
	assert.Equal(t, 1, over.Counts.Recent)
	s.clock.Advance(25 * time.Hour)
	later := s.now()
	perDay.Since = later.Add(-24 * time.Hour)
	require.NoError(t, s.inv.RecordIssuance(Certificate("b2", bob, later), "", later, perDay), "a day later")

	s.createRequest(t, Request("r-p", bob, later))
	err = s.inv.RecordIssuance(Certificate("b3", bob, later), "r-p", later, &records.Quota{Profile: "default", Active: 5, Since: perDay.Since})
	var te *records.ErrTransition
	require.ErrorAs(t, err, &te, "under a quota too, a request that cannot be closed is told")
	s.get(t, "b3")
}

// Of enrollments racing for an owner's last places, as many as the quota
// allows are recorded and the others refused, whatever the interleaving.
func racingQuota(t *testing.T, s *suite) {
	now := s.now()
	quota := &records.Quota{Profile: "default", Active: 2, Since: now.Add(-24 * time.Hour)}
	var (
		wg                sync.WaitGroup
		mu                sync.Mutex
		recorded, refused int
	)
	for i := range 10 {
		wg.Go(func() {
			err := s.inv.RecordIssuance(Certificate(fmt.Sprintf("q%d", i), alice, now), "", now, quota)
			var over *records.ErrOverQuota
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				recorded++
			case errors.As(err, &over):
				refused++
				assert.Equal(t, 2, over.Counts.Active)
			default:
				t.Errorf("unexpected error: %v", err)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 2, recorded)
	assert.Equal(t, 8, refused)
	list, err := s.inv.ListCertificates(alice)
	require.NoError(t, err)
	assert.Len(t, list, 2)
}

// A valid renewal takes the place of the certificate it replaces: the two
// are one place, and renewing the replaced one again gets no second.
func renewalsTakeThePlace(t *testing.T, s *suite) {
	now := s.now()
	since := now.Add(-24 * time.Hour)
	s.create(t, Certificate("a1", alice, now))
	counts, err := s.inv.CountOwned(alice, records.Quota{Profile: "default", Since: since}, now)
	require.NoError(t, err)
	assert.Equal(t, records.OwnerCounts{Active: 1, Recent: 1, RecentAll: 1}, counts)
	counts, err = s.inv.CountOwned(alice, records.Quota{Profile: "default", Since: since, Renews: "a1"}, now)
	require.NoError(t, err)
	assert.Equal(t, 0, counts.Active, "the certificate being renewed leaves its place to the renewal")

	require.NoError(t, s.inv.RecordIssuance(renewal("a2", "a1", now), "", now, &records.Quota{Profile: "default", Active: 1, Since: since, Renews: "a1"}))
	counts, err = s.inv.CountOwned(alice, records.Quota{Profile: "default", Since: since}, now)
	require.NoError(t, err)
	assert.Equal(t, records.OwnerCounts{Active: 1, Recent: 2, RecentAll: 2}, counts, "a1 and its renewal take one place")
	require.ErrorAs(t, s.inv.RecordIssuance(renewal("a3", "a1", now), "", now,
		&records.Quota{Profile: "default", Active: 1, Since: since, Renews: "a1"}), new(*records.ErrOverQuota), "a2 holds it")
	assert.Equal(t, "a1", s.get(t, "a2").Renews)
	list, err := s.inv.ListCertificates(alice)
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, "a1", list[1].Renews, "listings carry it too")

	s.revoke(t, "a2", records.ReasonUnspecified)
	counts, err = s.inv.CountOwned(alice, records.Quota{Profile: "default", Since: since}, now)
	require.NoError(t, err)
	assert.Equal(t, 1, counts.Active, "its renewal revoked, a1 takes its own place again")
}

// A renewal of a renewal frees no third place: with one place, renewing
// the renewal while the first is still in its overlap is refused. When the
// overlap is over, the replaced certificate counts again and is listed
// for the job to revoke.
func chainedRenewals(t *testing.T, s *suite) {
	now := s.now()
	since := now.Add(-24 * time.Hour)
	overlap := 7 * 24 * time.Hour
	quota := func(renews string, at time.Time) *records.Quota {
		return &records.Quota{Profile: "default", Active: 1, Since: since, Renews: renews, OverlapSince: at.Add(-overlap)}
	}
	require.NoError(t, s.inv.RecordIssuance(Certificate("c1", alice, now), "", now, quota("", now)))
	require.NoError(t, s.inv.RecordIssuance(renewal("c2", "c1", now), "", now, quota("c1", now)))
	require.ErrorAs(t, s.inv.RecordIssuance(renewal("c3", "c2", now), "", now, quota("c2", now)), new(*records.ErrOverQuota),
		"c1 is still valid beside c2: renewing c2 would make three")
	ended, err := s.inv.OverlapsEnded("default", now.Add(-overlap), now, 10)
	require.NoError(t, err)
	assert.Empty(t, ended)

	s.clock.Advance(overlap + time.Hour)
	later := s.now()
	counts, err := s.inv.CountOwned(alice, *quota("", later), later)
	require.NoError(t, err)
	assert.Equal(t, 2, counts.Active, "the overlap is over: c1 counts again")
	ended, err = s.inv.OverlapsEnded("default", later.Add(-overlap), later, 10)
	require.NoError(t, err)
	assert.Equal(t, []string{"c1"}, serials(ended))

	_, err = s.inv.RevokeCertificate(records.Revoke{Serial: "c1", At: later, By: "renewal", Reason: records.ReasonSuperseded})
	require.NoError(t, err)
	require.NoError(t, s.inv.RecordIssuance(renewal("c3", "c2", later), "", later, quota("c2", later)), "one valid certificate left: it may be renewed")
}

// OverlapsEnded lists, by serial, each valid certificate of a profile that
// a valid renewal (of any profile) made before a time replaces, once.
func overlapsEnded(t *testing.T, s *suite) {
	start := s.now()
	s.create(t, Certificate("d1", alice, start), Certificate("e1", alice, start), Certificate("f1", alice, start),
		Certificate("g1", alice, start), Certificate("h1", alice, start))
	wifiRenewal := renewal("e2", "e1", start)
	wifiRenewal.Profile = "wifi"
	s.create(t, renewal("d3", "d1", start), renewal("d2", "d1", start), wifiRenewal, renewal("f2", "f1", start))
	s.revoke(t, "f2", records.ReasonUnspecified)
	s.revoke(t, "h1", records.ReasonSuperseded)
	s.create(t, renewal("h2", "h1", start))
	other := Certificate("k1", alice, start)
	other.Profile = "wifi"
	s.create(t, other, renewal("k2", "k1", start))

	s.clock.Advance(8 * 24 * time.Hour)
	now := s.now()
	s.create(t, renewal("g2", "g1", now))
	before := now.Add(-7 * 24 * time.Hour)
	ended, err := s.inv.OverlapsEnded("default", before, now, 10)
	require.NoError(t, err)
	assert.Equal(t, []string{"d1", "e1"}, serials(ended),
		"not f1 (its renewal is revoked), g1 (renewed since), h1 (revoked) or k1 (another profile)")
	ended, err = s.inv.OverlapsEnded("default", before, now, 1)
	require.NoError(t, err)
	assert.Equal(t, []string{"d1"}, serials(ended))
	ended, err = s.inv.OverlapsEnded("wifi", before, now, 10)
	require.NoError(t, err)
	assert.Equal(t, []string{"k1"}, serials(ended))
}
