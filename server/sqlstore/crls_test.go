//go:build e2e

package sqlstore

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

var issuer1 = records.CRLScope{Connector: "builtin", Issuer: "issuer-1"}

// behind is the due rule of a revocation: a list that does not cover
// every revocation recorded.
func behind(current *records.CRL) bool { return !current.Signed() || current.Behind() }

// signed signs a list of serials, sorted: the store keeps what sign
// gives, and the test reads the names back from it.
func signed(now time.Time, names *[]string) func(int64, []records.Revocation) (*records.CRL, error) {
	return func(number int64, revoked []records.Revocation) (*records.CRL, error) {
		serials := make([]string, 0, len(revoked))
		for _, r := range revoked {
			serials = append(serials, r.Serial+"/"+r.Reason)
		}
		slices.Sort(serials) // a list's entries come in no order
		if names != nil {
			*names = serials
		}
		return &records.CRL{ThisUpdate: now, NextUpdate: now.Add(7 * 24 * time.Hour), DER: fmt.Appendf(nil, "%d:%v", number, serials)}, nil
	}
}

func revokeOrder(serial, reason string, at time.Time) records.Revoke {
	return records.Revoke{Serial: serial, At: at, By: "u1", Reason: reason, RemoteConnectors: []string{"step"}}
}

// What a list names: the revoked certificates of one issuing CA of a
// connector, whoever registered them, until they expire.
func TestCRLNamesWhatItsCAHasRevoked(t *testing.T) {
	s, clock, _ := newTestStore(t)
	now := clock.Now()
	add := func(serial, connector string, revoked bool, notAfter time.Time, edit func(*records.Certificate)) {
		c := testCertificate(serial, alice, now)
		c.Connector, c.NotAfter = connector, notAfter
		if edit != nil {
			edit(c)
		}
		require.NoError(t, s.CreateCertificate(c))
		if revoked {
			_, err := s.RevokeCertificate(revokeOrder(serial, records.ReasonSuperseded, now))
			require.NoError(t, err)
		}
	}
	later := now.Add(24 * time.Hour)
	add("0a", "builtin", true, later, nil)
	add("0b", "builtin", false, later, nil)
	add("0c", "builtin", true, now.Add(-time.Hour), nil) // expired before the first list: off it
	add("0d", "other", true, later, nil)
	add("0e", "builtin", true, later, func(c *records.Certificate) { c.Origin = records.OriginImported })
	add("10", "builtin", true, later, func(c *records.Certificate) { c.Issuer = "issuer-2" }) // the next issuing CA's

	var names []string
	crl, err := s.IssueCRL(issuer1, now, behind, signed(now, &names))
	require.NoError(t, err)
	assert.Equal(t, []string{"0a/superseded", "0e/superseded"}, names, "registered by its holder, signed by this CA: on its list")
	assert.Equal(t, int64(1), crl.Number)
	assert.Equal(t, 2, crl.Entries)
	assert.Equal(t, int64(3), crl.Revision, "0a, 0c and 0e were revoked")
	assert.False(t, crl.Behind())

	current, err := s.CurrentCRL(records.CRLScope{Connector: "builtin", Issuer: "issuer-2"})
	require.NoError(t, err)
	require.NotNil(t, current)
	assert.False(t, current.Signed(), "revoked, never signed")
	assert.True(t, current.Behind())
	_, err = s.IssueCRL(records.CRLScope{Connector: "builtin", Issuer: "issuer-2"}, now, behind, signed(now, &names))
	require.NoError(t, err)
	assert.Equal(t, []string{"10/superseded"}, names, "each issuing CA lists its own")
}

// A revocation that no list was signed after leaves its CA's list behind,
// until one is; a list that is not due is left alone, and its bytes are
// read by number.
func TestACRLBehindARevocationIsSeenAndSignedAgain(t *testing.T) {
	s, clock, _ := newTestStore(t)
	now := clock.Now()
	for _, serial := range []string{"01", "02"} {
		require.NoError(t, s.CreateCertificate(testCertificate(serial, alice, now)))
	}
	_, err := s.RevokeCertificate(revokeOrder("01", records.ReasonUnspecified, now))
	require.NoError(t, err)
	first, err := s.IssueCRL(issuer1, now, behind, signed(now, nil))
	require.NoError(t, err)

	again, err := s.IssueCRL(issuer1, now, behind, func(int64, []records.Revocation) (*records.CRL, error) {
		t.Fatal("a list that covers every revocation is not signed again")
		return nil, nil
	})
	require.NoError(t, err)
	assert.Equal(t, first.Number, again.Number)
	assert.Nil(t, again.DER, "the current one, without its bytes")
	der, err := s.CRLBytes(issuer1, first.Number)
	require.NoError(t, err)
	assert.Equal(t, first.DER, der)

	revoked, err := s.RevokeCertificate(revokeOrder("02", records.ReasonUnspecified, now))
	require.NoError(t, err)
	assert.Equal(t, []records.CRLMark{{Scope: issuer1, Revision: 2}}, revoked.Marks)
	current, err := s.CurrentCRL(issuer1)
	require.NoError(t, err)
	assert.True(t, current.Behind(), "the publish after the revocation never ran")

	var names []string
	next, err := s.IssueCRL(issuer1, now, behind, signed(now, &names))
	require.NoError(t, err)
	assert.Equal(t, first.Number+1, next.Number)
	assert.Equal(t, []string{"01/unspecified", "02/unspecified"}, names)
	_, err = s.CRLBytes(issuer1, first.Number)
	assert.ErrorIs(t, err, records.ErrNotFound, "replaced")
}

// Many revocations at once, through two handles on one database (two
// servers), each followed by its own signing: every one of them is on the
// newest list, and numbers only grow. On a list read before its number
// was claimed, a racing revocation fell off.
func TestRacingRevocationsAreAllOnTheNewestCRL(t *testing.T) {
	s1, clock, db := newTestStore(t)
	s2 := New(newHandle(t, db), clock.Now)
	now := clock.Now()
	const n = 60
	for i := range n {
		require.NoError(t, s1.CreateCertificate(testCertificate(fmt.Sprintf("%04x", i), alice, now)))
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		numbers []int64
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			store := []*Store{s1, s2}[i%2]
			revoked, err := store.RevokeCertificate(revokeOrder(fmt.Sprintf("%04x", i), records.ReasonKeyCompromise, now))
			if !assert.NoError(t, err) {
				return
			}
			crl, err := store.IssueCRL(issuer1, now, func(current *records.CRL) bool {
				return !current.Signed() || current.Covered < revoked.Marks[0].Revision
			}, signed(now, nil))
			if !assert.NoError(t, err) {
				return
			}
			assert.GreaterOrEqual(t, crl.Covered, revoked.Marks[0].Revision, "the list it got names it")
			mu.Lock()
			numbers = append(numbers, crl.Number)
			mu.Unlock()
		}()
	}
	wg.Wait()
	current, err := s1.CurrentCRL(issuer1)
	require.NoError(t, err)
	assert.False(t, current.Behind())
	assert.Equal(t, int64(n), current.Revision)
	assert.Less(t, current.Number, int64(n), "racing revocations share lists")
	assert.Equal(t, slices.Max(numbers), current.Number)
	der, err := s1.CRLBytes(issuer1, current.Number)
	require.NoError(t, err)
	for i := range n {
		assert.Contains(t, string(der), fmt.Sprintf("%04x/keyCompromise", i))
	}
}

// RFC 5280 3.3: a revoked certificate stays on the lists until one signed
// after its expiry has carried it, then leaves.
func TestAnExpiredRevocationIsOnOneListAfterItsExpiry(t *testing.T) {
	s, clock, _ := newTestStore(t)
	now := clock.Now()
	c := testCertificate("0a", alice, now)
	c.NotAfter = now.Add(2 * time.Hour)
	require.NoError(t, s.CreateCertificate(c))
	_, err := s.RevokeCertificate(revokeOrder("0a", records.ReasonKeyCompromise, now))
	require.NoError(t, err)
	always := func(*records.CRL) bool { return true }
	var names []string
	listAt := func(at time.Time) []string {
		_, err := s.IssueCRL(issuer1, at, always, signed(at, &names))
		require.NoError(t, err)
		return names
	}
	assert.Equal(t, []string{"0a/keyCompromise"}, listAt(now.Add(time.Hour)))
	assert.Equal(t, []string{"0a/keyCompromise"}, listAt(now.Add(3*time.Hour)), "the first list after its expiry carries it")
	assert.Empty(t, listAt(now.Add(4*time.Hour)), "and the next one does not")
}

// A list an earlier version signed keeps its numbers going: relying
// parties keep the list with the highest number they saw. A lower one
// changes nothing.
func TestAnImportedCRLKeepsTheNumbering(t *testing.T) {
	s, clock, _ := newTestStore(t)
	now := clock.Now()
	require.NoError(t, s.ImportCRL(issuer1, &records.CRL{Number: 41, ThisUpdate: now, NextUpdate: now.Add(time.Hour), DER: []byte("old")}))
	current, err := s.CurrentCRL(issuer1)
	require.NoError(t, err)
	assert.Equal(t, int64(41), current.Number)
	assert.True(t, current.Behind(), "signed again from the tables at the next run")
	next, err := s.IssueCRL(issuer1, now, behind, signed(now, nil))
	require.NoError(t, err)
	assert.Equal(t, int64(42), next.Number)
	require.NoError(t, s.ImportCRL(issuer1, &records.CRL{Number: 7, ThisUpdate: now, NextUpdate: now.Add(time.Hour), DER: []byte("older")}))
	current, err = s.CurrentCRL(issuer1)
	require.NoError(t, err)
	assert.Equal(t, int64(42), current.Number)
	assert.False(t, current.Behind())
}
