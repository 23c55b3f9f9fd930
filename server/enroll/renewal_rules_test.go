package enroll_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// A renewal fits where the limit is reached: it takes the place of what it
// replaces. Where the profile revokes the replaced certificate, it is
// revoked as superseded once the renewal is issued, and the renewal may be
// renewed at once; nobody renews another's certificate.
func TestARenewalAtTheLimitRevokesWhatItReplacesAtOnce(t *testing.T) {
	b := newBed(t, `{"profiles": [{"name": "vpn", "limits": {"active": 1}, "renewal": {"revoke_replaced": true}}]}`)
	alice, bob := requester("alice"), requester("bob")
	first := b.enroll(t, alice, "vpn")
	_, err := b.core.Enroll(context.Background(), alice, "vpn", enroll.Options{})
	require.Equal(t, enroll.CodeForbidden, codeOf(err), "the one place is taken")
	_, err = b.core.StartEnrollment(bob, enroll.StartRequest{Renews: first.Serial})
	assert.Equal(t, enroll.CodeNotFound, codeOf(err), "as if it did not exist")

	renewal, err := b.core.StartEnrollment(alice, enroll.StartRequest{Renews: first.Serial})
	require.NoError(t, err)
	require.NotNil(t, renewal.Link)
	assert.Equal(t, linktoken.PurposeIssue, renewal.Link.Purpose, "a server key renews with a new one")
	assert.Equal(t, first.Serial, renewal.Replaces.Serial)
	second := b.renew(t, alice, first.Serial)
	assert.NotEqual(t, first.Serial, second.Serial)
	assert.Equal(t, first.Serial, second.Renews)
	old, err := b.store.GetCertificate(first.Serial)
	require.NoError(t, err)
	assert.Equal(t, records.CertRevoked, old.State)
	assert.Equal(t, records.ReasonSuperseded, old.RevocationReason)

	third := b.renew(t, alice, second.Serial)
	assert.Equal(t, second.Serial, third.Renews, "nothing overlaps: the renewal is renewed at once")
	list, err := b.core.Certificates(alice.Principal)
	require.NoError(t, err)
	valid := 0
	for _, c := range list {
		if c.State == records.CertIssued {
			valid++
		}
	}
	assert.Equal(t, 1, valid)
}

// A renewal's overlap lasts the days its profile says: the job revokes
// the replaced certificate once they are over, not before.
func TestARenewalsOverlapLastsWhatItsProfileSays(t *testing.T) {
	b := newBed(t, `{"profiles": [{"name": "wifi", "limits": {"active": 1}, "renewal": {"overlap_days": 1}}]}`)
	alice := requester("alice")
	first := b.enroll(t, alice, "wifi")
	b.renew(t, alice, first.Serial)
	b.advance(23 * time.Hour)
	b.core.EndRenewalOverlaps(context.Background())
	old, err := b.store.GetCertificate(first.Serial)
	require.NoError(t, err)
	assert.Equal(t, records.CertIssued, old.State, "within its day")
	b.advance(2 * time.Hour)
	b.core.EndRenewalOverlaps(context.Background())
	old, err = b.store.GetCertificate(first.Serial)
	require.NoError(t, err)
	assert.Equal(t, records.CertRevoked, old.State)
	assert.Equal(t, 1, b.count("overlap-ended", "alice"))
}
