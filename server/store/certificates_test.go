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

func TestCreateCertificateNeedsSerialAndOwner(t *testing.T) {
	s, kv := newTestStore(t)
	assert.Error(t, s.CreateCertificate(testCertificate("", records.MattermostUser("alice"))))
	assert.Error(t, s.CreateCertificate(testCertificate("1a2b", "")))
	keys, err := kv.ListKeys(0, 100)
	require.NoError(t, err)
	assert.Empty(t, keys, "nothing is written for an invalid record")
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

// Owners of different kinds with the same id never share an index.
func TestOwnerIndexKeysAreDistinct(t *testing.T) {
	assert.NotEqual(t, ownerIndexKey(records.MattermostUser("abc")), ownerIndexKey(records.Principal("oidc:abc")))
	assert.NotEqual(t, ownerIndexKey(records.MattermostUser("abc")), ownerIndexKey(records.Principal("abc")))
}
