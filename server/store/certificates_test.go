package store

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"

	"github.com/mattermost/mattermost/server/public/pluginapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var testNow = time.Date(2031, time.March, 4, 5, 6, 7, 0, time.UTC)

func newTestStore(t *testing.T) (*Store, *pluginapi.MemoryStore) {
	t.Helper()
	kv := &pluginapi.MemoryStore{}
	return New(kv), kv
}

func testCertificate(serial string, owner records.Principal) *records.Certificate {
	return &records.Certificate{
		Serial:      serial,
		Owner:       owner,
		Subject:     "CN=alice,O=Example Corp",
		CommonName:  "alice",
		Emails:      []string{"alice@example.com"},
		NotBefore:   testNow.Add(-time.Minute),
		NotAfter:    testNow.Add(365 * 24 * time.Hour),
		Connector:   "builtin",
		Profile:     "default",
		KeyType:     "ecdsa-p256",
		Fingerprint: "ab12",
		State:       records.CertIssued,
		CreatedAt:   testNow,
		DER:         []byte{0x30, 0x82, 0x01, 0x02, 0x03},
	}
}

func rawValue(t *testing.T, kv *pluginapi.MemoryStore, key string) []byte {
	t.Helper()
	var raw []byte
	require.NoError(t, kv.Get(key, &raw))
	return slices.Clone(raw)
}

func TestCreateAndGetCertificate(t *testing.T) {
	s, _ := newTestStore(t)
	owner := records.MattermostUser("alice")
	want := testCertificate("1a2b", owner)
	require.NoError(t, s.CreateCertificate(want))

	got, err := s.GetCertificate("1a2b")
	require.NoError(t, err)
	assert.Equal(t, want, got)

	serials, err := s.ListSerials(owner)
	require.NoError(t, err)
	assert.Equal(t, []string{"1a2b"}, serials)
}

func TestCreateCertificateNeedsSerialAndOwner(t *testing.T) {
	s, kv := newTestStore(t)
	assert.Error(t, s.CreateCertificate(testCertificate("", records.MattermostUser("alice"))))
	assert.Error(t, s.CreateCertificate(testCertificate("1a2b", "")))
	keys, err := kv.ListKeys(0, 100)
	require.NoError(t, err)
	assert.Empty(t, keys, "nothing is written for an invalid record")
}

func TestCreateCertificateDuplicateSerial(t *testing.T) {
	s, _ := newTestStore(t)
	alice := records.MattermostUser("alice")
	bob := records.MattermostUser("bob")
	first := testCertificate("1a2b", alice)
	require.NoError(t, s.CreateCertificate(first))

	second := testCertificate("1a2b", bob)
	second.CommonName = "bob"
	err := s.CreateCertificate(second)
	require.ErrorIs(t, err, records.ErrDuplicateSerial)

	again := testCertificate("1a2b", alice)
	require.ErrorIs(t, s.CreateCertificate(again), records.ErrDuplicateSerial)

	// The first record and index stand.
	got, err := s.GetCertificate("1a2b")
	require.NoError(t, err)
	assert.Equal(t, first, got)
	serials, err := s.ListSerials(alice)
	require.NoError(t, err)
	assert.Equal(t, []string{"1a2b"}, serials)
	serials, err = s.ListSerials(bob)
	require.NoError(t, err)
	assert.Empty(t, serials)
}

func TestGetCertificateNotFound(t *testing.T) {
	s, _ := newTestStore(t)
	require.NoError(t, s.CreateCertificate(testCertificate("1a2b", records.MattermostUser("alice"))))
	for _, serial := range []string{"", "1a2c", "1A2B", "1a2b0"} {
		c, err := s.GetCertificate(serial)
		require.ErrorIs(t, err, records.ErrNotFound, "serial %q", serial)
		assert.Nil(t, c)
	}
}

func TestListCertificates(t *testing.T) {
	s, _ := newTestStore(t)
	alice := records.MattermostUser("alice")
	bob := records.MattermostUser("bob")
	// An owner of another kind with the same id keeps a separate index.
	oidcAlice := records.Principal("oidc:alice")

	for i, owner := range []records.Principal{alice, bob, alice, oidcAlice, alice} {
		c := testCertificate(fmt.Sprintf("%02x", i+1), owner)
		c.CreatedAt = testNow.Add(time.Duration(i) * time.Minute)
		require.NoError(t, s.CreateCertificate(c))
	}

	tests := []struct {
		owner records.Principal
		want  []string
	}{
		{alice, []string{"01", "03", "05"}},
		{bob, []string{"02"}},
		{oidcAlice, []string{"04"}},
		{records.MattermostUser("carol"), nil},
	}
	for _, tc := range tests {
		t.Run(string(tc.owner), func(t *testing.T) {
			serials, err := s.ListSerials(tc.owner)
			require.NoError(t, err)
			assert.Equal(t, tc.want, serials, "oldest first")

			certs, err := s.ListCertificates(tc.owner)
			require.NoError(t, err)
			got := make([]string, 0, len(certs))
			for _, c := range certs {
				assert.Equal(t, tc.owner, c.Owner)
				got = append(got, c.Serial)
			}
			assert.Equal(t, len(tc.want), len(got))
			if len(tc.want) > 0 {
				assert.Equal(t, tc.want, got)
			}
		})
	}
}

// A serial left in the index without its record (deleted by hand, or a
// record that expired) is skipped, not an error.
func TestListCertificatesSkipsMissingRecords(t *testing.T) {
	s, kv := newTestStore(t)
	alice := records.MattermostUser("alice")
	for _, serial := range []string{"01", "02", "03"} {
		require.NoError(t, s.CreateCertificate(testCertificate(serial, alice)))
	}
	require.NoError(t, kv.Delete(certificateKey("02")))

	certs, err := s.ListCertificates(alice)
	require.NoError(t, err)
	require.Len(t, certs, 2)
	assert.Equal(t, "01", certs[0].Serial)
	assert.Equal(t, "03", certs[1].Serial)
}

func TestListCertificatesCorruptIndex(t *testing.T) {
	s, kv := newTestStore(t)
	alice := records.MattermostUser("alice")
	_, err := kv.Set(ownerIndexKey(alice), []byte("not json"))
	require.NoError(t, err)
	_, err = s.ListCertificates(alice)
	require.Error(t, err)
	// Nor can a new certificate be appended to it blindly.
	require.Error(t, s.CreateCertificate(testCertificate("01", alice)))
}

func TestUpdateCertificate(t *testing.T) {
	s, _ := newTestStore(t)
	require.NoError(t, s.CreateCertificate(testCertificate("1a2b", records.MattermostUser("alice"))))

	revokedAt := testNow.Add(time.Hour)
	updated, err := s.UpdateCertificate("1a2b", func(c *records.Certificate) error {
		c.State = records.CertRevoked
		c.RevokedAt = &revokedAt
		c.RevokedBy = records.MattermostUser("admin").MattermostUserID()
		c.RevocationReason = "keyCompromise"
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, records.CertRevoked, updated.State)

	got, err := s.GetCertificate("1a2b")
	require.NoError(t, err)
	assert.Equal(t, updated, got, "the returned record is the one written")
	assert.Equal(t, records.CertRevoked, got.State)
	require.NotNil(t, got.RevokedAt)
	assert.Equal(t, revokedAt, *got.RevokedAt)
	assert.Equal(t, "admin", got.RevokedBy)
	assert.Equal(t, "keyCompromise", got.RevocationReason)
	// Untouched fields survive the round trip.
	assert.Equal(t, testCertificate("1a2b", records.MattermostUser("alice")).DER, got.DER)
}

func TestUpdateCertificateChangeErrorWritesNothing(t *testing.T) {
	s, kv := newTestStore(t)
	require.NoError(t, s.CreateCertificate(testCertificate("1a2b", records.MattermostUser("alice"))))
	before := rawValue(t, kv, certificateKey("1a2b"))

	errAlreadyRevoked := errors.New("already revoked")
	calls := 0
	updated, err := s.UpdateCertificate("1a2b", func(c *records.Certificate) error {
		calls++
		// Edits made before the error must not reach the store.
		c.State = records.CertRevoked
		c.CommonName = "mallory"
		return errAlreadyRevoked
	})
	require.ErrorIs(t, err, errAlreadyRevoked)
	assert.Equal(t, errAlreadyRevoked, err, "the change function's error is returned as it is")
	assert.Nil(t, updated)
	assert.Equal(t, 1, calls, "an error is not retried")

	assert.Equal(t, before, rawValue(t, kv, certificateKey("1a2b")))
	got, err := s.GetCertificate("1a2b")
	require.NoError(t, err)
	assert.Equal(t, records.CertIssued, got.State)
	assert.Equal(t, "alice", got.CommonName)
}

func TestUpdateCertificateNotFound(t *testing.T) {
	s, kv := newTestStore(t)
	called := false
	updated, err := s.UpdateCertificate("1a2b", func(*records.Certificate) error {
		called = true
		return nil
	})
	require.ErrorIs(t, err, records.ErrNotFound)
	assert.Nil(t, updated)
	assert.False(t, called)
	assert.Empty(t, rawValue(t, kv, certificateKey("1a2b")), "no record is created")
}

func TestCertificateStateAt(t *testing.T) {
	c := testCertificate("1a2b", records.MattermostUser("alice"))
	assert.Equal(t, "issued", c.StateAt(testNow))
	assert.Equal(t, "issued", c.StateAt(c.NotAfter))
	assert.Equal(t, "expired", c.StateAt(c.NotAfter.Add(time.Second)))

	c.State = records.CertRevoked
	assert.Equal(t, "revoked", c.StateAt(testNow))
	assert.Equal(t, "revoked", c.StateAt(c.NotAfter.Add(time.Hour)), "a revoked certificate stays revoked")
}

// Many certificates for one user at once (a script, a burst of enrollment
// links) must all be recorded and all be listed: the owner's index is one
// key that every creation rewrites.
func TestCreateCertificateConcurrentSameOwner(t *testing.T) {
	s, _ := newTestStore(t)
	owner := records.MattermostUser("alice")
	const n = 50

	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = s.CreateCertificate(testCertificate(fmt.Sprintf("%04x", i+1), owner))
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "certificate %d", i+1)
	}

	want := make([]string, n)
	for i := range n {
		want[i] = fmt.Sprintf("%04x", i+1)
	}
	serials, err := s.ListSerials(owner)
	require.NoError(t, err)
	assert.ElementsMatch(t, want, serials)
	assert.Len(t, serials, n, "no duplicates in the index")

	certs, err := s.ListCertificates(owner)
	require.NoError(t, err)
	assert.Len(t, certs, n)
	for _, serial := range want {
		_, err := s.GetCertificate(serial)
		require.NoError(t, err, "record %s", serial)
	}
}

// Racing creations of one serial: exactly one wins, the others are told it
// is a duplicate, and the index holds the serial once.
func TestCreateCertificateConcurrentSameSerial(t *testing.T) {
	s, _ := newTestStore(t)
	owner := records.MattermostUser("alice")
	const n = 20

	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = s.CreateCertificate(testCertificate("1a2b", owner))
		})
	}
	close(start)
	wg.Wait()

	created := 0
	for _, err := range errs {
		if err == nil {
			created++
			continue
		}
		require.ErrorIs(t, err, records.ErrDuplicateSerial)
	}
	assert.Equal(t, 1, created)
	serials, err := s.ListSerials(owner)
	require.NoError(t, err)
	assert.Equal(t, []string{"1a2b"}, serials)
}

func TestUpdateCertificateConcurrent(t *testing.T) {
	s, _ := newTestStore(t)
	c := testCertificate("1a2b", records.MattermostUser("alice"))
	c.Emails = nil
	require.NoError(t, s.CreateCertificate(c))
	const n = 20

	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = s.UpdateCertificate("1a2b", func(c *records.Certificate) error {
				c.Emails = append(c.Emails, fmt.Sprintf("user%02d@example.com", i))
				return nil
			})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "update %d", i)
	}

	got, err := s.GetCertificate("1a2b")
	require.NoError(t, err)
	want := make([]string, n)
	for i := range n {
		want[i] = fmt.Sprintf("user%02d@example.com", i)
	}
	assert.ElementsMatch(t, want, got.Emails, "no update was lost")
	assert.Len(t, got.Emails, n, "no update was applied twice")
}

// Owners of different kinds with the same id never share an index.
func TestOwnerIndexKeysAreDistinct(t *testing.T) {
	assert.NotEqual(t, ownerIndexKey(records.MattermostUser("abc")), ownerIndexKey(records.Principal("oidc:abc")))
	assert.NotEqual(t, ownerIndexKey(records.MattermostUser("abc")), ownerIndexKey(records.Principal("abc")))
}
