package enroll_test

import (
	"context"
	"crypto/x509"

	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// A key revoked for keyCompromise: its other certificate goes with it,
// its owner hears of both, and it is refused on every path for good: a
// plain CSR, a renewal of another certificate, a registration. Before,
// the refusal lived in the renewal of the revoked certificate alone, while
// the key's claim lasted.
func TestACompromisedKeyIsRefusedForeverOnEveryPath(t *testing.T) {
	b := newBed(t, `{"profiles": [{"name": "card"}]}`)
	alice := requester("alice")
	key := newKey(t)
	csr := csrFor(t, key, "alice")
	outcome, err := b.core.SignCSR(context.Background(), alice, "card", enroll.Upload{CSR: csr})
	require.NoError(t, err)
	first := outcome.Signed.Record
	outcome, err = b.submitRenewal(t, alice, first.Serial, csr)
	require.NoError(t, err)
	second := outcome.Signed.Record

	revoked, err := b.core.Revoke(context.Background(), alice, second.Serial, records.ReasonKeyCompromise)
	require.NoError(t, err)
	require.Len(t, revoked.Siblings, 1)
	assert.Equal(t, first.Serial, revoked.Siblings[0].Serial)
	old, err := b.store.GetCertificate(first.Serial)
	require.NoError(t, err)
	assert.Equal(t, records.CertRevoked, old.State)
	assert.Equal(t, records.ReasonKeyCompromise, old.RevocationReason)
	assert.Equal(t, 2, countOf(b.notify.kinds(), "key-compromised:alice"))
	assert.Equal(t, []string{"key-compromised-admins:admins"}, b.admins.kinds(), "and the admins, once")
	crl, err := b.core.CRL("builtin", 0)
	require.NoError(t, err)
	list, err := x509.ParseRevocationList(crl.DER)
	require.NoError(t, err)
	assert.Len(t, list.RevokedCertificateEntries, 2, "both on the list when Revoke returns")

	// Long after: the certificates expired and the key's claim is gone.
	b.advance(2 * 365 * 24 * time.Hour)
	require.NoError(t, b.store.ReleaseKey(first.KeyFingerprint, records.KeyHolder{Kind: records.KeyHeldByCertificate, ID: second.Serial}))

	_, err = b.core.SignCSR(context.Background(), alice, "card", enroll.Upload{CSR: csr})
	assert.Equal(t, enroll.ErrCompromisedKey, err, "a plain CSR")
	fresh, err := b.core.SignCSR(context.Background(), alice, "card", enroll.Upload{CSR: csrFor(t, newKey(t), "alice")})
	require.NoError(t, err, "a new key is fine")
	_, err = b.submitRenewal(t, alice, fresh.Signed.Record.Serial, csr)
	assert.Equal(t, enroll.ErrCompromisedKey, err, "the renewal of another certificate")
	_, err = b.submitRenewal(t, alice, second.Serial, csr)
	assert.Equal(t, enroll.ErrCompromisedKey, err, "the renewal of the revoked one")

	signedElsewhere, err := b.settings.Connectors["builtin"].Sign(context.Background(), connector.ForGeneratedKey(key,
		connector.Subject{CommonName: "alice"}, connector.Profile{Name: "card", Validity: 24 * time.Hour}))
	require.NoError(t, err)
	_, err = b.core.Register(context.Background(), enroll.Registration{By: alice, Data: pki.EncodeCertificatesPEM([]*x509.Certificate{signedElsewhere.Certificate})})
	assert.Equal(t, enroll.ErrCompromisedKey, err, "a registration")
}

// A renewal request made with a key before it was reported compromised,
// and approved after: its pickup is refused and the request closed.
func TestARequestApprovedAfterItsKeyWasCompromisedIsNotCollected(t *testing.T) {
	b := newBed(t, `{"profiles": [{"name": "card", "requires_approval": true, "approvers": ["carol"]}]}`)
	b.dir.approvers["card"] = mm("carol")
	alice, carol := requester("alice"), requester("carol")
	csr := csrFor(t, newKey(t), "alice")
	collect := func(req *records.Request) (*enroll.Outcome, error) {
		t.Helper()
		_, err := b.core.Approve(req.ID, carol)
		require.NoError(t, err)
		grant, err := b.core.CheckLink(b.notify.notices[len(b.notify.notices)-1].detail, linktoken.PurposeIssue, "")
		require.NoError(t, err)
		return b.core.RedeemLink(context.Background(), grant, enroll.Options{})
	}
	outcome, err := b.core.SignCSR(context.Background(), alice, "card", enroll.Upload{CSR: csr})
	require.NoError(t, err)
	collected, err := collect(outcome.Request)
	require.NoError(t, err)
	first := collected.Signed.Record

	outcome, err = b.submitRenewal(t, alice, first.Serial, csr)
	require.NoError(t, err)
	renewal := outcome.Request
	require.NotNil(t, renewal)
	_, err = b.core.Revoke(context.Background(), alice, first.Serial, records.ReasonKeyCompromise)
	require.NoError(t, err)

	_, err = collect(renewal)
	assert.Equal(t, enroll.ErrCompromisedKey, err)
	closed, err := b.store.GetRequest(renewal.ID)
	require.NoError(t, err)
	assert.Equal(t, records.RequestCancelled, closed.State)
	list, err := b.store.ListCertificates(alice.Principal)
	require.NoError(t, err)
	assert.Len(t, list, 1, "nothing was certified")
}

// An admin who learns a replaced certificate's key was compromised
// revokes it again for that reason: the key is refused from then on.
func TestARevokedCertificatesKeyCanBeReportedCompromisedLater(t *testing.T) {
	b := newBed(t, `{"profiles": [{"name": "card"}]}`)
	b.dir.admins[records.MattermostUser("carol")] = true
	alice, carol := requester("alice"), requester("carol")
	csr := csrFor(t, newKey(t), "alice")
	outcome, err := b.core.SignCSR(context.Background(), alice, "card", enroll.Upload{CSR: csr})
	require.NoError(t, err)
	serial := outcome.Signed.Record.Serial
	_, err = b.core.Revoke(context.Background(), alice, serial, records.ReasonSuperseded)
	require.NoError(t, err)
	_, err = b.core.Revoke(context.Background(), alice, serial, records.ReasonSuperseded)
	assert.Equal(t, enroll.ErrAlreadyRevoked, err)

	revoked, err := b.core.AdminRevoke(context.Background(), carol, serial, records.ReasonKeyCompromise)
	require.NoError(t, err)
	assert.Equal(t, records.ReasonKeyCompromise, revoked.Record.RevocationReason)
	_, err = b.core.AdminRevoke(context.Background(), carol, serial, records.ReasonKeyCompromise)
	assert.Equal(t, enroll.ErrAlreadyRevoked, err)
	require.NoError(t, b.store.ReleaseKey(outcome.Signed.Record.KeyFingerprint, records.KeyHolder{Kind: records.KeyHeldByCertificate, ID: serial}))
	_, err = b.core.SignCSR(context.Background(), alice, "card", enroll.Upload{CSR: csr})
	assert.Equal(t, enroll.ErrCompromisedKey, err)
	crl, err := b.core.CRL("builtin", 0)
	require.NoError(t, err)
	list, err := x509.ParseRevocationList(crl.DER)
	require.NoError(t, err)
	require.Len(t, list.RevokedCertificateEntries, 1)
	assert.Equal(t, 1, list.RevokedCertificateEntries[0].ReasonCode, "the list says keyCompromise now")
}

// leftovers is an inventory that finds a valid certificate of a
// compromised key, as one an earlier version recorded would be.
type leftovers struct {
	*bedStore
	found []*records.Certificate
}

func (l leftovers) CompromisedValid(int) ([]*records.Certificate, error) { return l.found, nil }

func TestTheJobRevokesWhatACompromisedKeyLeftValid(t *testing.T) {
	b := newBed(t, "")
	alice := requester("alice")
	cert := b.enroll(t, alice, "")
	core := b.withInventory(leftovers{bedStore: b.store, found: []*records.Certificate{cert}})
	core.RevokeCompromisedLeftovers(context.Background())
	got, err := b.store.GetCertificate(cert.Serial)
	require.NoError(t, err)
	assert.Equal(t, records.CertRevoked, got.State)
	assert.Equal(t, records.ReasonKeyCompromise, got.RevocationReason)
	assert.Equal(t, "key-compromise", got.RevokedBy)
	assert.Contains(t, b.notify.kinds(), "key-compromised:alice")
}

func countOf(list []string, item string) int {
	n := 0
	for _, x := range list {
		if x == item {
			n++
		}
	}
	return n
}
