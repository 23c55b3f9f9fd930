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

// A record reads back as it was written; a serial is recorded once; a
// record needs a serial and an owner. A new record has no account of
// revocation retries: only UpdateCertificate writes one.
func certificateRoundTrips(t *testing.T, s *suite) {
	now := s.now()
	c := Certificate("01ab", alice, now)
	c.Origin, c.RegisteredBy, c.RevocableAtCA, c.Renews = records.OriginCSR, "carol", true, "00aa"
	c.Emails = []string{"alice@example.com", "a@example.com"}
	c.Attestation = &records.Attestation{Format: "yubico-piv", DeviceSerial: "123", FirmwareVersion: "5.4.3", Root: "CN=root"}
	changed := now.Add(-time.Hour)
	c.EmailChangedAt = &changed
	s.create(t, c)
	assert.Equal(t, normalized(c), normalized(s.get(t, "01ab")))

	plain := Certificate("01ac", alice, now)
	plain.Emails = nil
	plain.RevocationAttempts, plain.RevocationRetryAt, plain.RevocationCAAnswer, plain.RevocationNoticeAt = 2, &changed, "busy", &changed
	s.create(t, plain)
	got := s.get(t, "01ac")
	assert.Nil(t, got.Emails)
	assert.Nil(t, got.Attestation)
	assert.Nil(t, got.RevokedAt)
	assert.Zero(t, got.RevocationAttempts)
	assert.Nil(t, got.RevocationRetryAt)
	assert.Empty(t, got.RevocationCAAnswer)
	assert.Nil(t, got.RevocationNoticeAt)

	assert.ErrorIs(t, s.inv.CreateCertificate(c), records.ErrDuplicateSerial)
	bobs := Certificate("01ab", bob, now)
	assert.ErrorIs(t, s.inv.CreateCertificate(bobs), records.ErrDuplicateSerial, "whoever records it")
	assert.Equal(t, alice, s.get(t, "01ab").Owner)
	list, err := s.inv.ListCertificates(bob)
	require.NoError(t, err)
	assert.Empty(t, list)

	assert.Error(t, s.inv.CreateCertificate(Certificate("", alice, now)))
	assert.Error(t, s.inv.CreateCertificate(Certificate("01ad", "", now)))
	for _, serial := range []string{"nope", "01AB", "01ab0", ""} {
		_, err := s.inv.GetCertificate(serial)
		assert.ErrorIs(t, err, records.ErrNotFound, serial)
	}
}

// What OCSP reads of a certificate: where it stands.
func certificateStanding(t *testing.T, s *suite) {
	now := s.now()
	c := Certificate("0a", alice, now)
	c.Origin, c.RevocableAtCA = records.OriginImported, true
	s.create(t, c)
	standing, err := s.inv.CertificateStanding("0a")
	require.NoError(t, err)
	assert.Equal(t, "0a", standing.Serial)
	assert.Equal(t, "builtin", standing.Connector)
	assert.Equal(t, "issuer-1", standing.Issuer)
	assert.Equal(t, records.OriginImported, standing.Origin)
	assert.Equal(t, records.CertIssued, standing.State)
	assert.True(t, standing.RevocableAtCA)
	assert.True(t, now.Equal(standing.CreatedAt))
	assert.Nil(t, standing.RevokedAt)
	assert.Empty(t, standing.RevocationReason)

	s.revoke(t, "0a", records.ReasonKeyCompromise)
	standing, err = s.inv.CertificateStanding("0a")
	require.NoError(t, err)
	assert.Equal(t, records.CertRevoked, standing.State)
	assert.Equal(t, records.ReasonKeyCompromise, standing.RevocationReason)
	require.NotNil(t, standing.RevokedAt)
	assert.True(t, now.Equal(*standing.RevokedAt))
	_, err = s.inv.CertificateStanding("ff")
	assert.ErrorIs(t, err, records.ErrNotFound)
}

// An owner's certificates, oldest first, whatever order they were written
// in; owners of other kinds with the same id are others. (Of certificates
// recorded in one millisecond, the database lists the lower serial first,
// the KV store the one recorded first: the plugin's unit tests record
// several at one frozen instant and read them in that order.)
func listCertificates(t *testing.T, s *suite) {
	base := s.now()
	oidcAlice := records.Principal("oidc:alice")
	for _, c := range []struct {
		serial  string
		owner   records.Principal
		minutes int
	}{{"a2", alice, 2}, {"a0", alice, 0}, {"b0", bob, 0}, {"a1", alice, 1}, {"a3", alice, 3}, {"o0", oidcAlice, 0}} {
		s.create(t, Certificate(c.serial, c.owner, base.Add(time.Duration(c.minutes)*time.Minute)))
	}
	for owner, want := range map[records.Principal][]string{
		alice: {"a0", "a1", "a2", "a3"}, bob: {"b0"}, oidcAlice: {"o0"}, carol: {},
	} {
		list, err := s.inv.ListCertificates(owner)
		require.NoError(t, err)
		assert.Equal(t, want, serials(list), owner)
	}
}

// An update writes what the change made of the record, and returns it;
// what identifies the certificate stays as it was recorded. A change that
// fails writes nothing, and its error is returned as it is.
func updateCertificate(t *testing.T, s *suite) {
	now := s.now()
	s.create(t, Certificate("01", alice, now))
	original := s.get(t, "01")
	revokedAt, retryAt := now.Add(time.Hour), now.Add(2*time.Hour)
	updated, err := s.inv.UpdateCertificate("01", func(c *records.Certificate) error {
		c.State, c.RevokedAt, c.RevokedBy, c.RevocationReason = records.CertRevoked, &revokedAt, "admin", records.ReasonKeyCompromise
		c.RevocationPending, c.RevocationAttempts, c.RevocationRetryAt = true, 3, &retryAt
		c.RevocationCAAnswer, c.RevocationNoticeAt, c.EmailChangedAt = "The CA said no", &revokedAt, &revokedAt
		c.Emails = append(c.Emails, "second@example.com")
		// What identifies it never changes.
		c.Serial, c.Issuer, c.Owner, c.Fingerprint = "02", "issuer-2", bob, "other"
		c.NotBefore, c.NotAfter, c.DER, c.CreatedAt, c.Renews = now.Add(time.Hour), now, []byte{1}, now.Add(time.Hour), "zz"
		return nil
	})
	require.NoError(t, err)
	got := s.get(t, "01")
	assert.Equal(t, normalized(got), normalized(updated), "the record returned is the one written")
	assert.Equal(t, records.CertRevoked, got.State)
	assert.Equal(t, "admin", got.RevokedBy)
	assert.Equal(t, records.ReasonKeyCompromise, got.RevocationReason)
	assert.True(t, revokedAt.Equal(*got.RevokedAt))
	assert.True(t, got.RevocationPending)
	assert.Equal(t, 3, got.RevocationAttempts)
	assert.True(t, retryAt.Equal(*got.RevocationRetryAt))
	assert.Equal(t, "The CA said no", got.RevocationCAAnswer)
	assert.True(t, revokedAt.Equal(*got.RevocationNoticeAt))
	assert.True(t, revokedAt.Equal(*got.EmailChangedAt))
	assert.Equal(t, []string{"alice@example.com", "second@example.com"}, got.Emails)
	want := normalized(original)
	assert.Equal(t, []any{want.Serial, want.Issuer, want.Owner, want.Fingerprint, want.NotBefore, want.NotAfter, want.DER, want.CreatedAt, want.Renews},
		[]any{got.Serial, got.Issuer, got.Owner, got.Fingerprint, ms(got.NotBefore), ms(got.NotAfter), got.DER, ms(got.CreatedAt), got.Renews})
	_, err = s.inv.GetCertificate("02")
	assert.ErrorIs(t, err, records.ErrNotFound)
	list, err := s.inv.ListCertificates(alice)
	require.NoError(t, err)
	assert.Equal(t, []string{"01"}, serials(list))

	cleared, err := s.inv.UpdateCertificate("01", func(c *records.Certificate) error {
		c.RevocationPending, c.RevocationAttempts, c.RevocationRetryAt, c.RevocationCAAnswer, c.RevocationNoticeAt = false, 0, nil, "", nil
		return nil
	})
	require.NoError(t, err)
	got = s.get(t, "01")
	assert.Equal(t, normalized(cleared), normalized(got))
	assert.False(t, got.RevocationPending)
	assert.Nil(t, got.RevocationRetryAt)
	assert.Nil(t, got.RevocationNoticeAt)

	refused := errors.New("no")
	_, err = s.inv.UpdateCertificate("01", func(c *records.Certificate) error {
		c.CommonName = "mallory"
		return refused
	})
	assert.Equal(t, refused, err, "the change's error, as it is")
	assert.Equal(t, "alice", s.get(t, "01").CommonName, "nothing written")

	called := false
	_, err = s.inv.UpdateCertificate("ff", func(*records.Certificate) error {
		called = true
		return nil
	})
	assert.ErrorIs(t, err, records.ErrNotFound)
	assert.False(t, called)
}

// Writers changing one record at once: every change is kept, the later
// seeing the earlier.
func concurrentCertificateUpdates(t *testing.T, s *suite) {
	s.create(t, Certificate("01", alice, s.now()))
	const n = 10
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, err := s.inv.UpdateCertificate("01", func(c *records.Certificate) error {
				c.Emails = append(c.Emails, fmt.Sprintf("x%d@example.com", i))
				return nil
			})
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	assert.Len(t, s.get(t, "01").Emails, n+1, "no update lost, none applied twice")
}
