package enroll_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// A profile's active limit counts one owner's valid certificates of it:
// the next is refused, with what to do next, before a link is handed out;
// another owner, or another profile, has places of its own; a revoked or
// expired certificate frees its place.
func TestAProfilesActiveLimitCountsAnOwnersValidCertificates(t *testing.T) {
	b := newBed(t, `{"profiles": [{"name": "vpn", "limits": {"active": 2}}, {"name": "wifi", "validity_days": 1, "limits": {"active": 1}}]}`)
	alice, bob := requester("alice"), requester("bob")
	first := b.enroll(t, alice, "vpn")
	b.enroll(t, alice, "vpn")

	_, err := b.core.Enroll(context.Background(), alice, "vpn", enroll.Options{})
	require.Equal(t, enroll.CodeForbidden, codeOf(err))
	assert.NotEmpty(t, enroll.AsError(err).Hint, "the refusal says what to do next")
	_, err = b.core.StartEnrollment(alice, enroll.StartRequest{Profile: "vpn", Key: enroll.KeyFromServer})
	assert.Equal(t, enroll.CodeForbidden, codeOf(err), "no link is handed out")
	_, err = b.core.StartEnrollment(alice, enroll.StartRequest{Profile: "vpn", Key: enroll.KeyFromCSR})
	assert.Equal(t, enroll.CodeForbidden, codeOf(err), "nor a CSR link")
	_, err = b.core.SignCSR(context.Background(), alice, "vpn", enroll.Upload{CSR: csrFor(t, newKey(t), "alice")})
	assert.Equal(t, enroll.CodeForbidden, codeOf(err), "nor a CSR signed")

	b.enroll(t, bob, "vpn")
	b.enroll(t, alice, "wifi")

	_, err = b.core.Revoke(context.Background(), alice, first.Serial, records.ReasonSuperseded)
	require.NoError(t, err)
	b.enroll(t, alice, "vpn")

	_, err = b.core.Enroll(context.Background(), alice, "wifi", enroll.Options{})
	require.Equal(t, enroll.CodeForbidden, codeOf(err))
	b.advance(25 * time.Hour)
	b.enroll(t, alice, "wifi")
}

// A profile's daily limit counts what one owner was issued in 24 hours,
// revoked or not: a link minted before it was reached is refused when it
// is used, and left usable; a day later, the owner may have another.
func TestAProfilesDailyLimitRefusesALinkMintedBeforeItWasReached(t *testing.T) {
	b := newBed(t, `{"profiles": [{"name": "lab", "limits": {"per_day": 1}}]}`)
	alice, bob := requester("alice"), requester("bob")
	_, early := issueLink(t, b.core, alice, "lab")
	first := b.enroll(t, alice, "lab")

	_, err := b.core.RedeemLink(context.Background(), early, enroll.Options{})
	require.Equal(t, enroll.CodeForbidden, codeOf(err))
	assert.NoError(t, b.core.CheckUnused(early), "the refused link is not used up")
	_, err = b.core.Revoke(context.Background(), alice, first.Serial, records.ReasonSuperseded)
	require.NoError(t, err)
	_, err = b.core.Enroll(context.Background(), alice, "lab", enroll.Options{})
	assert.Equal(t, enroll.CodeForbidden, codeOf(err), "a revoked certificate was issued today all the same")
	b.enroll(t, bob, "lab")

	b.advance(25 * time.Hour)
	b.enroll(t, alice, "lab")
}

// The limits hold wherever a certificate is asked for: a request for an
// approver is refused at once rather than approved for nothing, and so is
// a CSR upload on a link, which is left usable.
func TestLimitsHoldOnEveryPath(t *testing.T) {
	b := newBed(t, `{"profiles": [{"name": "vpn", "limits": {"active": 1}},
		{"name": "secure", "requires_approval": true, "approvers": ["carol"], "limits": {"active": 1}}]}`)
	b.dir.approvers["secure"] = mm("carol")
	alice, carol := requester("alice"), requester("carol")
	grant := csrLink(t, b.core, alice, "vpn")
	b.enroll(t, alice, "vpn")
	_, err := b.core.SubmitCSR(context.Background(), grant, enroll.Upload{CSR: csrFor(t, newKey(t), "alice")})
	assert.Equal(t, enroll.CodeForbidden, codeOf(err))
	assert.NoError(t, b.core.CheckUnused(grant))

	req := b.request(t, alice, "secure")
	_, err = b.core.Approve(req.ID, carol)
	require.NoError(t, err)
	_, err = b.collect(t, alice)
	require.NoError(t, err)
	_, err = b.core.Enroll(context.Background(), alice, "secure", enroll.Options{})
	assert.Equal(t, enroll.CodeForbidden, codeOf(err), "no request is made for a place that is taken")
	_, err = b.core.SignCSR(context.Background(), alice, "secure", enroll.Upload{CSR: csrFor(t, newKey(t), "alice")})
	assert.Equal(t, enroll.CodeForbidden, codeOf(err))
	open, err := b.store.ListOpenRequests()
	require.NoError(t, err)
	assert.Empty(t, open)
}

// The server's bound on one person's certificates a day holds on every
// path too: a CSR, a request for an approver.
func TestTheDailyBoundOfAPersonHoldsOnEveryPath(t *testing.T) {
	b := newBed(t, `{"profiles": [{"name": "vpn"}, {"name": "secure", "requires_approval": true, "approvers": ["carol"]}]}`)
	settings := b.settings
	settings.PerRequesterPerDay = 1
	b.core = enroll.New(settings, b.ports)
	b.dir.approvers["secure"] = mm("carol")
	alice := requester("alice")
	_, err := b.core.SignCSR(context.Background(), alice, "vpn", enroll.Upload{CSR: csrFor(t, newKey(t), "alice")})
	require.NoError(t, err)
	_, err = b.core.SignCSR(context.Background(), alice, "vpn", enroll.Upload{CSR: csrFor(t, newKey(t), "alice")})
	assert.Equal(t, enroll.CodeForbidden, codeOf(err))
	_, err = b.core.Enroll(context.Background(), alice, "secure", enroll.Options{})
	assert.Equal(t, enroll.CodeForbidden, codeOf(err))
	b.advance(25 * time.Hour)
	b.request(t, alice, "secure")
}
