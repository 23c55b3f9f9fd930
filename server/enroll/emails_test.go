package enroll_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

func TestCertificatesNamingAnOldEmailAreMarkedAndTheirOwnerAskedOnce(t *testing.T) {
	b := newBed(t, `{"profiles": [{"name": "vpn"}, {"name": "plain", "subject": {"email_san": false}}]}`)
	alice, bob := requester("alice"), requester("bob")
	named := b.enroll(t, alice, "vpn")
	unnamed := b.enroll(t, alice, "plain")
	revoked := b.enroll(t, alice, "vpn")
	_, err := b.core.Revoke(context.Background(), alice, revoked.Serial, "")
	require.NoError(t, err)
	bobs := b.enroll(t, bob, "vpn")

	assert.Zero(t, b.core.ReconcileEmails(), "nothing changed yet")

	b.dir.accounts[alice.Principal].Email = "alice@new.example.com"
	assert.Equal(t, 1, b.core.ReconcileEmails(), "only the valid certificate that names an email")
	assert.Zero(t, b.core.ReconcileEmails(), "marked once")
	var told []string
	for _, n := range b.notify.notices {
		if n.kind == "email-changed" {
			told = append(told, n.detail)
		}
	}
	assert.Equal(t, []string{named.Serial}, told, "the owner is asked once")
	for serial, marked := range map[string]bool{named.Serial: true, unnamed.Serial: false, revoked.Serial: false, bobs.Serial: false} {
		c, err := b.store.GetCertificate(serial)
		require.NoError(t, err)
		assert.Equal(t, marked, c.EmailChangedAt != nil, serial)
	}

	// Back to the old address: the mark goes, nobody is told.
	b.dir.accounts[alice.Principal].Email = "ALICE@example.com"
	assert.Zero(t, b.core.ReconcileEmails())
	c, err := b.store.GetCertificate(named.Serial)
	require.NoError(t, err)
	assert.Nil(t, c.EmailChangedAt)

	// A deactivated owner is the deactivation duty's.
	b.dir.accounts[bob.Principal].Email = "bob@new.example.com"
	b.dir.accounts[bob.Principal].Active = false
	assert.Zero(t, b.core.ReconcileEmails())
	c, err = b.store.GetCertificate(bobs.Serial)
	require.NoError(t, err)
	assert.Nil(t, c.EmailChangedAt)
	assert.Equal(t, records.CertIssued, c.State)
}
