package enroll_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// approvalCatalog: "vpn" is open, "secure" is decided by the admins (the
// directory's permission), "named" by bob alone.
const approvalCatalog = `{"profiles": [{"name": "vpn"}, {"name": "secure", "requires_approval": true},
	{"name": "named", "requires_approval": true, "approvers": ["bob"]}]}`

// newApprovalBed has carol for its admin, who decides "secure", and bob
// for the approver "named" names.
func newApprovalBed(t *testing.T) *bed {
	t.Helper()
	b := newBed(t, approvalCatalog)
	b.dir.admins[records.MattermostUser("carol")] = true
	b.dir.approvers["secure"] = mm("carol")
	b.dir.approvers["named"] = mm("bob")
	return b
}

// transitionFrom is the state a request was in when a decision or a pickup
// found it could not happen; "" when err is no such refusal.
func transitionFrom(err error) records.RequestState {
	var te *records.ErrTransition
	if errors.As(err, &te) {
		return te.From
	}
	return ""
}

// A request waits for its approver; anyone else is refused and changes
// nothing; once approved, the owner's pickup link issues the certificate
// of its profile and closes the request, once.
func TestAnApprovedRequestIsCollectedOnce(t *testing.T) {
	b := newApprovalBed(t)
	alice, bob, carol := requester("alice"), requester("bob"), requester("carol")
	req := b.request(t, alice, "secure")
	assert.Equal(t, records.RequestPending, req.State)
	assert.Equal(t, []string{"approval-needed:alice"}, b.notify.kinds())
	assert.Equal(t, "carol", b.notify.notices[0].detail, "its approvers are asked")
	_, _, err := b.core.Pickup(alice, req.ID)
	assert.Equal(t, records.RequestPending, transitionFrom(err), "nothing to collect yet")

	_, err = b.core.Approve(req.ID, bob)
	assert.Equal(t, enroll.CodeForbidden, codeOf(err), "bob is no approver of it")
	_, err = b.core.Deny(req.ID, bob, "no")
	assert.Equal(t, enroll.CodeForbidden, codeOf(err))
	got, err := b.store.GetRequest(req.ID)
	require.NoError(t, err)
	assert.Equal(t, records.RequestPending, got.State)

	decision, err := b.core.Approve(req.ID, carol)
	require.NoError(t, err)
	assert.True(t, decision.Final)
	assert.Equal(t, records.RequestApproved, decision.Request.State)
	assert.Equal(t, "mm:carol", decision.Request.DecidedBy, "a principal")
	assert.Equal(t, 1, b.count("approved", "alice"), "the owner gets a pickup link")
	_, err = b.core.Approve(req.ID, carol)
	assert.Equal(t, records.RequestApproved, transitionFrom(err), "decided once")
	_, err = b.core.Deny(req.ID, carol, "changed my mind")
	assert.Equal(t, records.RequestApproved, transitionFrom(err))
	_, _, err = b.core.Pickup(bob, req.ID)
	assert.Equal(t, enroll.CodeNotFound, codeOf(err), "not bob's to collect")

	outcome, err := b.collect(t, alice)
	require.NoError(t, err)
	require.NotNil(t, outcome.Issued)
	assert.Equal(t, "secure", outcome.Issued.Record.Profile)
	got, err = b.store.GetRequest(req.ID)
	require.NoError(t, err)
	assert.Equal(t, records.RequestIssued, got.State)
	assert.Equal(t, outcome.Issued.Record.Serial, got.Serial)

	_, _, err = b.core.Pickup(alice, req.ID)
	assert.Equal(t, records.RequestIssued, transitionFrom(err))
	_, err = b.core.CheckLink(b.last("approved", "alice"), linktoken.PurposeIssue, "")
	assert.Equal(t, enroll.CodeConflict, codeOf(err), "its link collects nothing more")
}

// Several pickup links of one request, used at once: one certificate.
func TestPickupLinksOfOneRequestIssueOnce(t *testing.T) {
	b := newApprovalBed(t)
	alice := requester("alice")
	req := b.request(t, alice, "secure")
	_, err := b.core.Approve(req.ID, requester("carol"))
	require.NoError(t, err)
	var grants []*enroll.Grant
	for range 3 {
		_, link, err := b.core.Pickup(alice, req.ID)
		require.NoError(t, err)
		grants = append(grants, linkGrant(t, b.core, link.Token, linktoken.PurposeIssue))
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		issued int
	)
	for _, g := range grants {
		wg.Go(func() {
			if outcome, err := b.core.RedeemLink(context.Background(), g, enroll.Options{}); err == nil && outcome.Issued != nil {
				mu.Lock()
				issued++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 1, issued)
	list, err := b.store.ListCertificates(alice.Principal)
	require.NoError(t, err)
	assert.Len(t, list, 1)
}

// A denial closes the request with its reason, and the owner is told who
// said no; nothing decides it after.
func TestADenialIsFinalAndToldToTheOwner(t *testing.T) {
	b := newApprovalBed(t)
	alice, carol := requester("alice"), requester("carol")
	req := b.request(t, alice, "secure")
	denied, err := b.core.Deny(req.ID, carol, "  Use the vpn profile instead ")
	require.NoError(t, err)
	assert.Equal(t, records.RequestDenied, denied.State)
	assert.Equal(t, "Use the vpn profile instead", denied.Reason)
	assert.Equal(t, "mm:carol", denied.DecidedBy, "a principal")
	assert.Equal(t, 1, b.count("denied", "alice"))
	_, err = b.core.Approve(req.ID, carol)
	assert.Equal(t, records.RequestDenied, transitionFrom(err))
	_, _, err = b.core.Pickup(alice, req.ID)
	assert.Equal(t, records.RequestDenied, transitionFrom(err))

	other := b.request(t, alice, "secure")
	denied, err = b.core.Deny(other.ID, carol, " ")
	require.NoError(t, err)
	assert.NotEmpty(t, denied.Reason, "a denial always gives the owner a reason")
	_, err = b.core.Approve("r-0000000000", carol)
	assert.Equal(t, enroll.CodeNotFound, codeOf(err))
}

// Where a profile names its approvers, they alone decide, and they alone
// are asked: an admin is no approver of it. Where it names none, the
// admins are.
func TestNamedApproversAloneDecide(t *testing.T) {
	b := newApprovalBed(t)
	alice, bob, carol := requester("alice"), requester("bob"), requester("carol")
	req := b.request(t, alice, "named")
	assert.Equal(t, "bob", b.last("approval-needed", "alice"))
	named, _, err := b.core.ProfileFor(alice, "named")
	require.NoError(t, err)
	secure, _, err := b.core.ProfileFor(alice, "secure")
	require.NoError(t, err)
	assert.False(t, b.core.MayApprove(carol, named))
	assert.True(t, b.core.MayApprove(bob, named))
	assert.True(t, b.core.MayApprove(carol, secure))
	assert.False(t, b.core.MayApprove(bob, secure))
	inactive := requester("bob")
	inactive.Active = false
	assert.False(t, b.core.MayApprove(inactive, named), "a deactivated approver decides nothing")

	_, err = b.core.Approve(req.ID, carol)
	assert.Equal(t, enroll.CodeForbidden, codeOf(err))
	denied, err := b.core.Deny(req.ID, bob, "not this quarter")
	require.NoError(t, err)
	assert.Equal(t, "not this quarter", denied.Reason)
}

// The owner withdraws their own request, no one else's; a withdrawn
// request is decided by no one.
func TestAnOwnerWithdrawsTheirOwnRequest(t *testing.T) {
	b := newApprovalBed(t)
	alice, bob, carol := requester("alice"), requester("bob"), requester("carol")
	req := b.request(t, alice, "secure")
	mine, err := b.core.Requests(alice.Principal)
	require.NoError(t, err)
	require.Len(t, mine, 1)
	assert.Equal(t, req.ID, mine[0].ID)

	_, err = b.core.Cancel(bob, req.ID)
	assert.Equal(t, enroll.CodeNotFound, codeOf(err), "as if it did not exist")
	cancelled, err := b.core.Cancel(alice, req.ID)
	require.NoError(t, err)
	assert.Equal(t, records.RequestCancelled, cancelled.State)
	_, err = b.core.Cancel(alice, req.ID)
	assert.Equal(t, records.RequestCancelled, transitionFrom(err))
	_, err = b.core.Approve(req.ID, carol)
	assert.Equal(t, records.RequestCancelled, transitionFrom(err))
	open, err := b.store.ListOpenRequests()
	require.NoError(t, err)
	assert.Empty(t, open)
}

// A link minted while a profile was open issues nothing once the profile
// needs an approver; asking under it makes a request.
func TestAProfileThatNowNeedsApprovalIssuesOnlyOnRequest(t *testing.T) {
	b := newApprovalBed(t)
	alice := requester("alice")
	link, _ := issueLink(t, b.core, alice, "vpn")
	core := b.withCatalog(t, `{"profiles": [{"name": "vpn", "requires_approval": true}]}`)
	b.dir.approvers["vpn"] = mm("carol")
	_, err := core.CheckLink(link.Token, linktoken.PurposeIssue, "")
	assert.Equal(t, enroll.CodeForbidden, codeOf(err))
	start, err := core.StartEnrollment(alice, enroll.StartRequest{Profile: "vpn", Key: enroll.KeyFromServer})
	require.NoError(t, err)
	assert.Nil(t, start.Link, "no link any more: a request")
	require.NotNil(t, start.Request)

	outcome, err := core.Enroll(context.Background(), alice, "vpn", enroll.Options{})
	require.NoError(t, err)
	require.NotNil(t, outcome.Request)
	assert.Nil(t, outcome.Issued)
	assert.Equal(t, records.RequestPending, outcome.Request.State)
}

// A request nobody decides expires after its lifetime, and so does an
// approved one nobody collects; the owner is told, and nothing decides or
// collects it after. A younger request waits on.
func TestRequestsExpireUndecidedOrUncollected(t *testing.T) {
	b := newApprovalBed(t)
	alice, carol := requester("alice"), requester("carol")
	stale := b.request(t, alice, "secure")
	approved := b.request(t, alice, "secure")
	_, err := b.core.Approve(approved.ID, carol)
	require.NoError(t, err)
	b.advance(6 * 24 * time.Hour)
	fresh := b.request(t, alice, "secure")
	b.advance(25 * time.Hour)

	_, _, err = b.core.Pickup(alice, approved.ID)
	assert.Equal(t, records.RequestExpired, transitionFrom(err), "an approved request past its time is not collected")
	open, err := b.store.ListOpenRequests()
	require.NoError(t, err)
	b.core.ExpireRequests(open)
	for id, want := range map[string]records.RequestState{
		stale.ID: records.RequestExpired, approved.ID: records.RequestExpired, fresh.ID: records.RequestPending,
	} {
		got, err := b.store.GetRequest(id)
		require.NoError(t, err)
		assert.Equal(t, want, got.State, id)
	}
	assert.Equal(t, 2, b.count("expired", "alice"))
	_, err = b.core.Approve(stale.ID, carol)
	assert.Equal(t, records.RequestExpired, transitionFrom(err))
	open, err = b.store.ListOpenRequests()
	require.NoError(t, err)
	require.Len(t, open, 1)
	assert.Equal(t, fresh.ID, open[0].ID)
}
