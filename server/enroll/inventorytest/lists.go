package inventorytest

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// An administrator's listing pages by serial with a cursor, or by expiry
// for the valid certificates expiring before a time; it filters by owner,
// profile and state as users see it, and counts each state.
func searchCertificates(t *testing.T, s *suite) {
	now := s.now()
	for i := range 25 {
		owner := alice
		if i%5 == 0 {
			owner = bob
		}
		c := Certificate(fmt.Sprintf("s%02d", i), owner, now)
		c.NotAfter = now.Add(time.Duration(i+1) * 24 * time.Hour)
		switch i {
		case 3:
			c.NotAfter = now.Add(-time.Hour) // expired
		case 4:
			c.State = records.CertRevoked
		case 24:
			c.Profile = "wifi"
		}
		s.create(t, c)
	}
	counts, err := s.inv.CountCertificates(now)
	require.NoError(t, err)
	assert.Equal(t, records.StateCounts{Issued: 23, Expired: 1, Revoked: 1}, counts)

	all := s.pages(t, records.CertificateFilter{Limit: 10}, now)
	assert.Len(t, all, 25)
	assert.Equal(t, "s00", all[0])
	assert.Equal(t, "s24", all[24])
	assert.True(t, slices.IsSorted(all))

	for _, tc := range []struct {
		filter records.CertificateFilter
		want   []string
	}{
		{records.CertificateFilter{Owner: bob}, []string{"s00", "s05", "s10", "s15", "s20"}},
		{records.CertificateFilter{Owner: bob, Limit: 2}, []string{"s00", "s05", "s10", "s15", "s20"}},
		{records.CertificateFilter{State: "revoked"}, []string{"s04"}},
		{records.CertificateFilter{State: "expired"}, []string{"s03"}},
		{records.CertificateFilter{Profile: "wifi"}, []string{"s24"}},
		{records.CertificateFilter{Profile: "wifi", Owner: bob}, nil},
	} {
		assert.Equal(t, tc.want, s.pages(t, tc.filter, now), "%+v", tc.filter)
	}
	issued := s.pages(t, records.CertificateFilter{State: "issued", Limit: 7}, now)
	assert.Len(t, issued, 23)
	assert.NotContains(t, issued, "s03")
	assert.NotContains(t, issued, "s04")

	soon := now.Add(10 * 24 * time.Hour)
	expiring := s.pages(t, records.CertificateFilter{ExpiringBefore: &soon, Limit: 3}, now)
	// Days 1..9 expire before day 10, but for s03 (expired) and s04 (revoked).
	assert.Equal(t, []string{"s00", "s01", "s02", "s05", "s06", "s07", "s08"}, expiring)
	expiring = s.pages(t, records.CertificateFilter{ExpiringBefore: &soon, Owner: bob}, now)
	assert.Equal(t, []string{"s00", "s05"}, expiring)

	_, err = s.inv.SearchCertificates(records.CertificateFilter{State: "lost"}, now)
	assert.ErrorIs(t, err, records.ErrInvalidFilter)
	_, err = s.inv.SearchCertificates(records.CertificateFilter{ExpiringBefore: &soon, After: "garbage"}, now)
	assert.ErrorIs(t, err, records.ErrInvalidFilter, "a cursor the listing did not give")
}

// pages reads every page of a listing, and returns the serials in order.
func (s *suite) pages(t *testing.T, filter records.CertificateFilter, now time.Time) []string {
	t.Helper()
	var out []string
	for range 100 {
		page, err := s.inv.SearchCertificates(filter, now)
		require.NoError(t, err)
		if filter.Limit > 0 {
			assert.LessOrEqual(t, len(page.Certificates), filter.Limit)
		}
		out = append(out, serials(page.Certificates)...)
		if page.Next == "" {
			return out
		}
		filter.After = page.Next
	}
	t.Fatal("the listing never ended")
	return nil
}

// Behind is the due rule of a revocation: a list that does not cover
// every revocation recorded.
func Behind(current *records.CRL) bool { return !current.Signed() || current.Behind() }

// SignedList signs a list of serials and reasons, sorted: the store keeps what
// sign gives, and the test reads the names back from it.
func SignedList(now time.Time, names *[]string) func(int64, []records.Revocation) (*records.CRL, error) {
	return func(number int64, revoked []records.Revocation) (*records.CRL, error) {
		entries := make([]string, 0, len(revoked))
		for _, r := range revoked {
			entries = append(entries, r.Serial+"/"+r.Reason)
		}
		slices.Sort(entries) // a list's entries come in no order
		if names != nil {
			*names = entries
		}
		return &records.CRL{ThisUpdate: now, NextUpdate: now.Add(7 * 24 * time.Hour), DER: fmt.Appendf(nil, "%d:%v", number, entries)}, nil
	}
}

// What a list names: the revoked certificates of one issuing CA of a
// connector, whoever registered them, until they expire; with when and
// why each was revoked.
func crlNames(t *testing.T, s *suite) {
	now := s.now()
	current, err := s.inv.CurrentCRL(Issuer1)
	require.NoError(t, err)
	assert.Nil(t, current, "nothing is known of a list before its first revocation")
	add := func(serial, connector string, revoked bool, notAfter time.Time, edit func(*records.Certificate)) {
		c := Certificate(serial, alice, now)
		c.Connector, c.NotAfter = connector, notAfter
		if edit != nil {
			edit(c)
		}
		s.create(t, c)
		if revoked {
			s.revoke(t, serial, records.ReasonSuperseded)
		}
	}
	later := now.Add(24 * time.Hour)
	add("0a", "builtin", true, later, nil)
	add("0b", "builtin", false, later, nil)
	add("0c", "builtin", true, now.Add(-time.Hour), nil) // expired before the first list: off it
	add("0d", "other", true, later, nil)
	add("0e", "builtin", true, later, func(c *records.Certificate) { c.Origin = records.OriginImported })
	add("10", "builtin", true, later, func(c *records.Certificate) { c.Issuer = "issuer-2" }) // the next issuing CA's

	var revoked []records.Revocation
	crl, err := s.inv.IssueCRL(Issuer1, now, Behind, func(number int64, list []records.Revocation) (*records.CRL, error) {
		revoked = list
		return SignedList(now, nil)(number, list)
	})
	require.NoError(t, err)
	slices.SortFunc(revoked, func(a, b records.Revocation) int { return cmp.Compare(a.Serial, b.Serial) })
	assert.Equal(t, []records.Revocation{
		{Serial: "0a", RevokedAt: now.UnixMilli(), Reason: records.ReasonSuperseded},
		{Serial: "0e", RevokedAt: now.UnixMilli(), Reason: records.ReasonSuperseded},
	}, revoked, "registered by its holder, signed by this CA: on its list")
	assert.Equal(t, int64(1), crl.Number)
	assert.Equal(t, 2, crl.Entries)
	assert.Equal(t, int64(3), crl.Revision, "0a, 0c and 0e were revoked")
	assert.Equal(t, int64(3), crl.Covered)
	assert.False(t, crl.Behind())
	assert.NotEmpty(t, crl.DER, "the list signed, with its bytes")

	current, err = s.inv.CurrentCRL(records.CRLScope{Connector: "builtin", Issuer: "issuer-2"})
	require.NoError(t, err)
	require.NotNil(t, current)
	assert.False(t, current.Signed(), "revoked, never signed")
	assert.True(t, current.Behind())
	var names []string
	_, err = s.inv.IssueCRL(records.CRLScope{Connector: "builtin", Issuer: "issuer-2"}, now, Behind, SignedList(now, &names))
	require.NoError(t, err)
	assert.Equal(t, []string{"10/superseded"}, names, "each issuing CA lists its own")
	_, err = s.inv.IssueCRL(records.CRLScope{Connector: "other", Issuer: "issuer-1"}, now, Behind, SignedList(now, &names))
	require.NoError(t, err)
	assert.Equal(t, []string{"0d/superseded"}, names, "and each connector")
}

// A revocation that no list was signed after leaves its CA's list behind,
// until one is; a list that is not due is left alone and handed back
// without its bytes, which are read by number until another replaces it.
// A list that cannot be signed changes nothing.
func crlBehind(t *testing.T, s *suite) {
	now := s.now()
	s.create(t, Certificate("01", alice, now), Certificate("02", alice, now))
	failed := errors.New("the signer is gone")
	_, err := s.inv.IssueCRL(Issuer1, now, Behind, func(int64, []records.Revocation) (*records.CRL, error) { return nil, failed })
	assert.ErrorIs(t, err, failed)
	current, err := s.inv.CurrentCRL(Issuer1)
	require.NoError(t, err)
	assert.False(t, current.Signed())

	s.revoke(t, "01", records.ReasonUnspecified)
	first, err := s.inv.IssueCRL(Issuer1, now, Behind, SignedList(now, nil))
	require.NoError(t, err)
	assert.Equal(t, int64(1), first.Number)

	again, err := s.inv.IssueCRL(Issuer1, now, Behind, func(int64, []records.Revocation) (*records.CRL, error) {
		t.Error("a list that covers every revocation is not signed again")
		return nil, errors.New("signed again")
	})
	require.NoError(t, err)
	assert.Equal(t, first.Number, again.Number)
	assert.Nil(t, again.DER, "the current one, without its bytes")
	der, err := s.inv.CRLBytes(Issuer1, first.Number)
	require.NoError(t, err)
	assert.Equal(t, first.DER, der)
	_, err = s.inv.CRLBytes(Issuer1, first.Number+1)
	assert.ErrorIs(t, err, records.ErrNotFound)
	_, err = s.inv.CRLBytes(records.CRLScope{Connector: "builtin", Issuer: "issuer-9"}, 1)
	assert.ErrorIs(t, err, records.ErrNotFound)

	revoked := s.revoke(t, "02", records.ReasonUnspecified)
	assert.Equal(t, []records.CRLMark{{Scope: Issuer1, Revision: 2}}, revoked.Marks)
	current, err = s.inv.CurrentCRL(Issuer1)
	require.NoError(t, err)
	assert.True(t, current.Behind(), "the publish after the revocation never ran")
	assert.Nil(t, current.DER)

	_, err = s.inv.IssueCRL(Issuer1, now, Behind, func(int64, []records.Revocation) (*records.CRL, error) { return nil, failed })
	assert.ErrorIs(t, err, failed)
	current, err = s.inv.CurrentCRL(Issuer1)
	require.NoError(t, err)
	assert.Equal(t, first.Number, current.Number, "a failed signing leaves the list as it was")
	assert.True(t, current.Behind())

	var names []string
	next, err := s.inv.IssueCRL(Issuer1, now, Behind, SignedList(now, &names))
	require.NoError(t, err)
	assert.Equal(t, first.Number+1, next.Number)
	assert.Equal(t, []string{"01/unspecified", "02/unspecified"}, names)
	_, err = s.inv.CRLBytes(Issuer1, first.Number)
	assert.ErrorIs(t, err, records.ErrNotFound, "replaced")
	current, err = s.inv.CurrentCRL(Issuer1)
	require.NoError(t, err)
	assert.Equal(t, int64(2), current.Number)
	assert.Equal(t, 2, current.Entries)
	assert.True(t, now.Equal(current.ThisUpdate))
	assert.True(t, now.Add(7*24*time.Hour).Equal(current.NextUpdate))
	assert.False(t, current.Behind())
}

// RFC 5280 3.3: a revoked certificate stays on the lists until one signed
// after its expiry has carried it, then leaves.
func crlAfterExpiry(t *testing.T, s *suite) {
	now := s.now()
	c := Certificate("0a", alice, now)
	c.NotAfter = now.Add(2 * time.Hour)
	s.create(t, c)
	s.revoke(t, "0a", records.ReasonKeyCompromise)
	always := func(*records.CRL) bool { return true }
	var names []string
	listAt := func(at time.Time) []string {
		_, err := s.inv.IssueCRL(Issuer1, at, always, SignedList(at, &names))
		require.NoError(t, err)
		return names
	}
	assert.Equal(t, []string{"0a/keyCompromise"}, listAt(now.Add(time.Hour)))
	assert.Equal(t, []string{"0a/keyCompromise"}, listAt(now.Add(3*time.Hour)), "the first list after its expiry carries it")
	assert.Empty(t, listAt(now.Add(4*time.Hour)), "and the next one does not")
}

// Many revocations at once, each followed by a signing of its own: every
// one of them is on the newest list, each signer got a list that names
// its own, and numbers only grow.
func racingCRL(t *testing.T, s *suite) {
	now := s.now()
	const n = 30
	for i := range n {
		s.create(t, Certificate(fmt.Sprintf("%04x", i), alice, now))
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		numbers []int64
	)
	for i := range n {
		wg.Go(func() {
			revoked, err := s.inv.RevokeCertificate(RevokeOrder(fmt.Sprintf("%04x", i), records.ReasonKeyCompromise, now))
			if !assert.NoError(t, err) || !assert.Len(t, revoked.Marks, 1) {
				return
			}
			crl, err := s.inv.IssueCRL(Issuer1, now, func(current *records.CRL) bool {
				return !current.Signed() || current.Covered < revoked.Marks[0].Revision
			}, SignedList(now, nil))
			if !assert.NoError(t, err) {
				return
			}
			assert.GreaterOrEqual(t, crl.Covered, revoked.Marks[0].Revision, "the list it got names it")
			mu.Lock()
			numbers = append(numbers, crl.Number)
			mu.Unlock()
		})
	}
	wg.Wait()
	current, err := s.inv.CurrentCRL(Issuer1)
	require.NoError(t, err)
	assert.False(t, current.Behind())
	assert.Equal(t, int64(n), current.Revision)
	require.NotEmpty(t, numbers)
	assert.Equal(t, slices.Max(numbers), current.Number)
	der, err := s.inv.CRLBytes(Issuer1, current.Number)
	require.NoError(t, err)
	for i := range n {
		assert.Contains(t, string(der), fmt.Sprintf("%04x/keyCompromise", i))
	}
}

// The valid certificates expiring in a window that have not had a
// reminder yet, soonest first; each reminder is claimed once.
func reminders(t *testing.T, s *suite) {
	now := s.now()
	add := func(serial string, days float64, state records.CertState) {
		c := Certificate(serial, alice, now)
		c.NotAfter, c.State = now.Add(time.Duration(days*24)*time.Hour), state
		s.create(t, c)
	}
	add("01", 5, records.CertIssued)
	add("00", 6, records.CertIssued)
	add("02", 20, records.CertIssued)
	add("03", 5, records.CertRevoked)
	add("04", 7, records.CertIssued)  // the window's end is in it
	add("05", 0, records.CertIssued)  // its start is not
	add("06", -1, records.CertIssued) // expired
	window := func(days int, from, to time.Time, limit int) []string {
		due, err := s.inv.DueReminders(days, from, to, limit)
		require.NoError(t, err)
		return serials(due)
	}
	assert.Equal(t, []string{"01", "00", "04"}, window(7, now, now.Add(7*24*time.Hour), 10))
	assert.Equal(t, []string{"01"}, window(7, now, now.Add(7*24*time.Hour), 1), "the soonest first")

	claimed, err := s.inv.ClaimReminder("01", 7)
	require.NoError(t, err)
	assert.True(t, claimed)
	claimed, err = s.inv.ClaimReminder("01", 7)
	require.NoError(t, err)
	assert.False(t, claimed, "once")
	assert.Equal(t, []string{"00", "04"}, window(7, now, now.Add(7*24*time.Hour), 10))
	assert.Equal(t, []string{"01", "00"}, window(1, now, now.Add(6*24*time.Hour), 10), "each reminder has its own mark")
	assert.Equal(t, []string{"02"}, window(30, now.Add(7*24*time.Hour), now.Add(30*24*time.Hour), 10))
	claimed, err = s.inv.ClaimReminder("01", 1)
	require.NoError(t, err)
	assert.True(t, claimed)
}
