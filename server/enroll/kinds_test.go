package enroll_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// testKind is a kind of principal the core has never heard of; it gets a
// directory and a notifier of its own, beside the Mattermost ones.
const testKind = "test"

// kindsBed is the bed with the test kind registered too.
type kindsBed struct {
	*bed
	testDir    *directory
	testNotify *notifier
}

func newKindsBed(t *testing.T, catalogJSON string) *kindsBed {
	t.Helper()
	b := &kindsBed{bed: newBed(t, catalogJSON), testDir: newDirectory(), testNotify: &notifier{}}
	b.ports.Directories = map[string]enroll.Directory{records.KindMattermost: b.dir, testKind: b.testDir}
	b.ports.Notifiers = map[string]enroll.Notifier{records.KindMattermost: b.notify, testKind: b.testNotify}
	b.core = enroll.New(b.settings, b.ports)
	return b
}

// person is an account of the test kind, added to its directory.
func (b *kindsBed) person(id string) *enroll.Requester {
	r := &enroll.Requester{Principal: records.NewPrincipal(testKind, id), Username: id, Email: id + "@test.example", EmailVerified: true, Active: true}
	b.testDir.add(r)
	return r
}

// count is how many of a notifier's notices are kind (as kinds lists them).
func count(n *notifier, kind string) int { return countOf(n.kinds(), kind) }

// Everything a person does, end to end inside the core, works for a kind
// of principal the core knows nothing of: a link that makes a PKCS#12
// file, a CSR upload, a renewal, a revocation, the list; each notice goes
// to that kind's notifier, none to Mattermost's.
func TestAPrincipalOfAnUnknownKindEnrollsRenewsAndRevokes(t *testing.T) {
	b := newKindsBed(t, `{"profiles": [{"name": "vpn"}]}`)
	dave := b.person("dave")
	ctx := context.Background()

	start, err := b.core.StartEnrollment(dave, enroll.StartRequest{Profile: "vpn", Key: enroll.KeyFromServer})
	require.NoError(t, err)
	require.NotNil(t, start.Link)
	claims, err := b.core.Minter.Verify(start.Link.Token, linktoken.PurposeIssue)
	require.NoError(t, err)
	assert.Equal(t, dave.Principal, claims.Principal(), "the link carries the principal")
	_, err = b.core.CheckLink(start.Link.Token, linktoken.PurposeIssue, records.MattermostUser("dave"))
	assert.Equal(t, enroll.CodeForbidden, enroll.AsError(err).Code, "the same id in another kind is someone else")
	grant, err := b.core.CheckLink(start.Link.Token, linktoken.PurposeIssue, dave.Principal)
	require.NoError(t, err)
	outcome, err := b.core.RedeemLink(ctx, grant, enroll.Options{})
	require.NoError(t, err)
	issued := outcome.Issued
	require.NotNil(t, issued)
	_, leaf, _, err := pkcs12.DecodeChain(issued.PKCS12, issued.Passphrase)
	require.NoError(t, err)
	assert.Equal(t, "dave", leaf.Subject.CommonName)
	require.Len(t, leaf.URIs, 1)
	assert.Equal(t, "mattermost://chat.example.com/test/dave", leaf.URIs[0].String(), "the identity URI names the kind")
	assert.Equal(t, dave.Principal, enroll.PrincipalOf(leaf.URIs), "and is read back as dave's, no Mattermost account's")
	assert.Equal(t, dave.Principal, issued.Record.Owner)

	start, err = b.core.StartEnrollment(dave, enroll.StartRequest{Profile: "vpn", Key: enroll.KeyFromCSR})
	require.NoError(t, err)
	require.Equal(t, linktoken.PurposeCSR, start.Link.Purpose)
	grant, err = b.core.CheckLink(start.Link.Token, linktoken.PurposeCSR, "")
	require.NoError(t, err)
	outcome, err = b.core.SubmitCSR(ctx, grant, enroll.Upload{CSR: csrFor(t, newKey(t), "dave")})
	require.NoError(t, err)
	require.NotNil(t, outcome.Signed)
	signed := outcome.Signed.Record

	renewed := b.renew(t, dave, issued.Record.Serial)
	assert.Equal(t, issued.Record.Serial, renewed.Renews)

	revoked, err := b.core.Revoke(ctx, dave, signed.Serial, records.ReasonCessationOfOperation)
	require.NoError(t, err)
	assert.Equal(t, string(dave.Principal), revoked.Record.RevokedBy)
	b.dir.admins[records.MattermostUser("carol")] = true
	_, err = b.core.AdminRevoke(ctx, requester("carol"), renewed.Serial, records.ReasonSuperseded)
	require.NoError(t, err)

	list, err := b.core.Certificates(dave.Principal)
	require.NoError(t, err)
	assert.Len(t, list, 3)
	mine, err := b.core.Certificates(records.MattermostUser("dave"))
	require.NoError(t, err)
	assert.Empty(t, mine, "nothing of dave's is a Mattermost dave's")

	assert.Equal(t, 3, count(b.testNotify, "issued:dave"))
	assert.Equal(t, 1, count(b.testNotify, "revoked:dave"), "the administrator's revocation")
	assert.Empty(t, b.notify.kinds(), "Mattermost's notifier is told nothing")
	assert.Empty(t, b.admins.kinds())
}

// A request by a person of the test kind is asked of a Mattermost
// approver, in Mattermost; the approval and pickup reach the owner in
// their own kind's notifier.
func TestAnApprovalCrossesKinds(t *testing.T) {
	b := newKindsBed(t, `{"profiles": [{"name": "secure", "requires_approval": true, "approvers": ["carol"]}]}`)
	b.dir.approvers["secure"] = mm("carol")
	dave, carol := b.person("dave"), requester("carol")

	req := requestApproval(t, b.core, dave, "secure")
	assert.Equal(t, []string{"approval-needed:dave"}, b.notify.kinds(), "asked in Mattermost")
	assert.Equal(t, "carol", b.notify.notices[0].detail)
	assert.Empty(t, b.testNotify.kinds())
	stored, err := b.store.GetRequest(req.ID)
	require.NoError(t, err)
	require.Len(t, stored.ApprovalNotices, 1)
	assert.Equal(t, records.MattermostUser("carol"), stored.ApprovalNotices[0].Approver)

	d, err := b.core.Approve(req.ID, carol)
	require.NoError(t, err)
	require.True(t, d.Final)
	assert.Equal(t, "mm:carol", d.Request.DecidedBy)
	assert.Equal(t, records.MattermostUser("carol"), d.Request.Approvals[0].By)
	assert.Equal(t, []string{"approval-needed:dave", "closed:carol"}, b.notify.kinds(), "Mattermost's copy is closed")
	require.Equal(t, []string{"approved:dave"}, b.testNotify.kinds(), "the pickup reaches the owner in their kind")

	grant, err := b.core.CheckLink(b.testNotify.notices[0].detail, linktoken.PurposeIssue, dave.Principal)
	require.NoError(t, err)
	outcome, err := b.core.RedeemLink(context.Background(), grant, enroll.Options{})
	require.NoError(t, err)
	assert.Equal(t, dave.Principal, outcome.Issued.Record.Owner)
	assert.Equal(t, []string{"approved:dave", "issued:dave"}, b.testNotify.kinds())
}

// A kind with a directory but no notifier enrolls all the same: what it
// would be told is dropped, as notices are best effort.
func TestAKindNobodyNotifiesIsToldNothing(t *testing.T) {
	b := newKindsBed(t, "")
	delete(b.ports.Notifiers, testKind)
	b.core = enroll.New(b.settings, b.ports)
	_, grant := issueLink(t, b.core, b.person("dave"), "")
	outcome, err := b.core.RedeemLink(context.Background(), grant, enroll.Options{})
	require.NoError(t, err)
	assert.NotNil(t, outcome.Issued)
	assert.Empty(t, b.notify.kinds())
	assert.Empty(t, b.testNotify.kinds())
}

// A directory answers for its own kind only: an approver it names in
// another kind approves nothing.
func TestADirectoryNamesApproversOfItsOwnKindOnly(t *testing.T) {
	b := newKindsBed(t, `{"profiles": [{"name": "secure", "requires_approval": true, "approvers": ["carol"]}]}`)
	b.dir.approvers["secure"] = mm("carol")
	b.testDir.approvers["secure"] = []records.Principal{records.MattermostUser("bob"), records.NewPrincipal(testKind, "erin")}
	erin := b.person("erin")
	req := requestApproval(t, b.core, requester("alice"), "secure")
	_, err := b.core.Approve(req.ID, requester("bob"))
	assert.Equal(t, enroll.ErrNotApprover, err, "bob is not the test directory's to name")
	d, err := b.core.Approve(req.ID, erin)
	require.NoError(t, err)
	assert.True(t, d.Final)
	assert.Equal(t, []string{"approval-needed:alice"}, b.testNotify.kinds()[:1], "erin was asked in her kind")
}
