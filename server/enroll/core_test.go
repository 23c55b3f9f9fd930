package enroll_test

import (
	"context"
	"errors"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"

	"github.com/golang-jwt/jwt/v5"
	"github.com/mattermost/mattermost/server/public/pluginapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/admission"
	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
	"github.com/clientcerts/mattermost-plugin-certs/server/sealbox"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

// The core runs here on real parts: the KV store layout over an in-memory
// KV, the built-in CA, a real token minter; the directory, notifier and
// mailer are small in-memory ones that record what they were told.

type directory struct {
	accounts  map[records.Principal]*enroll.Requester
	approvers map[string][]records.Principal // profile → approvers
	teams     map[string][]records.Principal // team → members
	admins    map[records.Principal]bool     // accounts with the admin permission
}

func newDirectory() *directory {
	return &directory{accounts: map[records.Principal]*enroll.Requester{}, approvers: map[string][]records.Principal{},
		teams: map[string][]records.Principal{}, admins: map[records.Principal]bool{}}
}

func (d *directory) add(r *enroll.Requester) { d.accounts[r.Principal] = r }

func (d *directory) Lookup(p records.Principal) (*enroll.Requester, error) {
	if r, ok := d.accounts[p]; ok {
		return r, nil
	}
	return nil, errors.New("no such account")
}

func (d *directory) Admits(r *enroll.Requester, access profile.Access) bool {
	if access.Everyone() || d.IsAdmin(r) {
		return true
	}
	for _, team := range access.Teams {
		if slices.Contains(d.teams[team], r.Principal) {
			return true
		}
	}
	return false
}

func (d *directory) Approvers(profileName string, _ []string) []records.Principal {
	return d.approvers[profileName]
}

func (d *directory) IsAdmin(r *enroll.Requester) bool { return d.admins[r.Principal] }

// notice is one thing a notifier was told: its kind, the id (within its
// kind) of whom it was for, and a detail.
type notice struct{ kind, owner, detail string }

type notifier struct {
	mu      sync.Mutex
	notices []notice
}

func (n *notifier) add(kind string, to records.Principal, detail string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.notices = append(n.notices, notice{kind, to.ID(), detail})
}

func (n *notifier) kinds() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for _, x := range n.notices {
		out = append(out, x.kind+":"+x.owner)
	}
	return out
}

func (n *notifier) CertificateIssued(o *enroll.Requester, c *records.Certificate) {
	n.add("issued", o.Principal, c.Serial)
}
func (n *notifier) CertificateRevoked(o *enroll.Requester, c *records.Certificate, _ *enroll.Requester) {
	n.add("revoked", o.Principal, c.Serial)
}
func (n *notifier) RenewalOverlapEnded(o *enroll.Requester, c *records.Certificate) {
	n.add("overlap-ended", o.Principal, c.Serial)
}
func (n *notifier) KeyCompromised(o *enroll.Requester, _ *records.Certificate, theirs []*records.Certificate) {
	for _, c := range theirs {
		n.add("key-compromised", o.Principal, c.Serial)
	}
}
func (n *notifier) CertificateRegistered(o, _ *enroll.Requester, c *records.Certificate) {
	n.add("registered", o.Principal, c.Serial)
}

// ApprovalNeeded notes each approver asked, as its id.
func (n *notifier) ApprovalNeeded(req *records.Request, o *enroll.Requester, _ *profile.Profile, _ connector.Subject, approvers []records.Principal) []records.ApprovalNotice {
	ids := make([]string, 0, len(approvers))
	asked := make([]records.ApprovalNotice, 0, len(approvers))
	for _, a := range approvers {
		ids = append(ids, a.ID())
		asked = append(asked, records.ApprovalNotice{Approver: a, Ref: "notice-" + req.ID + "-" + a.ID()})
	}
	n.add("approval-needed", o.Principal, strings.Join(ids, ","))
	return asked
}
func (n *notifier) RequestClosed(req *records.Request, asked []records.ApprovalNotice, _ string) {
	for _, a := range asked {
		n.add("closed", a.Approver, a.Ref)
	}
}
func (n *notifier) RequestApproved(o *enroll.Requester, req *records.Request, _ []string, l *enroll.Link) {
	n.add("approved", o.Principal, l.Token)
}
func (n *notifier) RequestDenied(o *enroll.Requester, req *records.Request, _ string) {
	n.add("denied", o.Principal, req.ID)
}
func (n *notifier) WaitingForCA(o *enroll.Requester, req *records.Request) {
	n.add("waiting", o.Principal, req.ID)
}
func (n *notifier) CertificateReady(o *enroll.Requester, _ *records.Request, l *enroll.Link) {
	n.add("ready", o.Principal, l.Token)
}
func (n *notifier) RequestExpired(o *enroll.Requester, req *records.Request) {
	n.add("expired", o.Principal, req.ID)
}
func (n *notifier) ExpiryReminder(o *enroll.Requester, c *records.Certificate, _ int) {
	n.add("reminder", o.Principal, c.Serial)
}
func (n *notifier) EmailChanged(o *enroll.Requester, c *records.Certificate) {
	n.add("email-changed", o.Principal, c.Serial)
}

// admins is the administrators' notifier; its notices are "for" admins.
type admins struct{ n *notifier }

func (a admins) KeyCompromised(reported *records.Certificate, _ []*records.Certificate) {
	a.n.add("key-compromised-admins", "admins:admins", reported.Serial)
}
func (a admins) RevocationNotAccepted(c *records.Certificate) {
	a.n.add("revocation-not-accepted", "admins:admins", c.Serial+" "+c.RevocationCAAnswer)
}

type mailer struct{ sent []string }

func (m *mailer) SendCertificate(_ context.Context, o *enroll.Requester, issued *enroll.Issued) error {
	m.sent = append(m.sent, o.Email+" "+issued.Record.Serial)
	return nil
}

type quietLog struct{}

func (quietLog) LogInfo(string, ...any)  {}
func (quietLog) LogWarn(string, ...any)  {}
func (quietLog) LogError(string, ...any) {}

type bed struct {
	core     *enroll.Core
	dir      *directory
	notify   *notifier
	admins   *notifier
	mail     *mailer
	store    *store.Store
	settings enroll.Settings
	ports    enroll.Ports
	clockMu  sync.Mutex
	now      time.Time
}

// advance moves the bed's clock.
func (b *bed) advance(d time.Duration) {
	b.clockMu.Lock()
	defer b.clockMu.Unlock()
	b.now = b.now.Add(d)
}

// bedStore is the bed's inventory, for wrappers that change one of its
// answers.
type bedStore = store.Store

// withInventory is the bed's core over another inventory.
func (b *bed) withInventory(inv enroll.Inventory) *enroll.Core {
	ports := b.ports
	ports.Inventory = inv
	return enroll.New(b.settings, ports)
}

// requester is a Mattermost account whose id, username and email's local
// part are id.
func requester(id string) *enroll.Requester {
	return &enroll.Requester{Principal: records.MattermostUser(id), Username: id, Email: id + "@example.com", EmailVerified: true, Active: true}
}

func newBed(t *testing.T, catalogJSON string) *bed {
	t.Helper()
	b := &bed{now: time.Now()}
	clock := func() time.Time {
		b.clockMu.Lock()
		defer b.clockMu.Unlock()
		return b.now
	}
	now := clock()
	catalog, err := profile.Parse(catalogJSON, profile.Defaults{ValidityDays: 365, KeyType: pki.KeyECDSAP256})
	require.NoError(t, err)
	h, err := pki.GenerateHierarchy("Test", now)
	require.NoError(t, err)
	minter, err := linktoken.NewMinter(strings.Repeat("s", 43), clock)
	require.NoError(t, err)
	sealKey, err := sealbox.NewKey(strings.Repeat("e", 43))
	require.NoError(t, err)
	b.dir = newDirectory()
	b.notify, b.admins, b.mail = &notifier{}, &notifier{}, &mailer{}
	b.store = store.New(&pluginapi.MemoryStore{}, store.WithClock(clock))
	for _, id := range []string{"alice", "bob", "carol"} {
		b.dir.add(requester(id))
	}
	b.settings = enroll.Settings{
		Catalog:      catalog,
		Connectors:   map[string]connector.Connector{"builtin": connector.NewBuiltin("builtin", h.CA(), clock)},
		Minter:       minter,
		PKCS12Format: pki.PKCS12Compatible,
		SealKey:      sealKey,
		LinkLifetime: 10 * time.Minute, EmailDelivery: true, IdentityHost: "chat.example.com",
	}
	b.ports = enroll.Ports{Inventory: b.store,
		Directories: map[string]enroll.Directory{records.KindMattermost: b.dir},
		Notifiers:   map[string]enroll.Notifier{records.KindMattermost: b.notify},
		Admins:      admins{b.admins},
		Mailer:      b.mail, Log: quietLog{}, Clock: clock, RSAKeys: admission.NewQueue(1, 60)}
	b.core = enroll.New(b.settings, b.ports)
	return b
}

// issueLink starts an enrollment of profileName for r with a key the
// server makes, and checks its link, as the page does before it redeems
// it.
func issueLink(t *testing.T, core *enroll.Core, r *enroll.Requester, profileName string) (*enroll.Link, *enroll.Grant) {
	t.Helper()
	start, err := core.StartEnrollment(r, enroll.StartRequest{Profile: profileName, Key: enroll.KeyFromServer})
	require.NoError(t, err)
	require.NotNil(t, start.Link, "a link, not a request")
	link := start.Link
	grant, err := core.CheckLink(link.Token, linktoken.PurposeIssue, "")
	require.NoError(t, err)
	return link, grant
}

// mm are the principals of Mattermost accounts ids.
func mm(ids ...string) []records.Principal {
	out := make([]records.Principal, 0, len(ids))
	for _, id := range ids {
		out = append(out, records.MattermostUser(id))
	}
	return out
}

// requestApproval starts an enrollment of profileName, which needs an
// approver, for r: the request that waits.
func requestApproval(t *testing.T, core *enroll.Core, r *enroll.Requester, profileName string) *records.Request {
	t.Helper()
	start, err := core.StartEnrollment(r, enroll.StartRequest{Profile: profileName, Key: enroll.KeyFromServer})
	require.NoError(t, err)
	require.NotNil(t, start.Request, "a request, not a link")
	return start.Request
}

func TestLinkIsRedeemedOnceAndNamesTheRequester(t *testing.T) {
	b := newBed(t, "")
	alice := requester("alice")
	link, grant := issueLink(t, b.core, alice, "")
	outcome, err := b.core.RedeemLink(context.Background(), grant, enroll.Options{Email: true})
	require.NoError(t, err)
	require.NotNil(t, outcome.Issued)
	assert.Equal(t, "alice@example.com", outcome.EmailedTo)
	assert.Len(t, b.mail.sent, 1)

	record := outcome.Issued.Record
	assert.Equal(t, alice.Principal, record.Owner)
	leaf, err := pki.ParseCertificatesPEM(outcome.Issued.CertificatePEM)
	require.NoError(t, err)
	require.Len(t, leaf[0].URIs, 1)
	assert.Equal(t, "mattermost://chat.example.com/users/alice", leaf[0].URIs[0].String())
	assert.Equal(t, alice.Principal, enroll.PrincipalOf(leaf[0].URIs))
	assert.Equal(t, []string{"issued:alice"}, b.notify.kinds())

	_, err = b.core.RedeemLink(context.Background(), grant, enroll.Options{})
	assert.Equal(t, enroll.ErrLinkUsed, err)
	assert.Equal(t, enroll.CodeConflict, enroll.AsError(err).Code)

	_, err = b.core.CheckLink(link.Token, linktoken.PurposeIssue, records.MattermostUser("bob"))
	assert.Equal(t, enroll.CodeForbidden, enroll.AsError(err).Code, "the link is alice's, not the signed-in bob's")
}

// A certificate is recorded before it is packed. One that cannot be packed
// (here: a file format the core does not know) is revoked, as its key
// never reaches its owner: it holds no place in the profile's limit, and
// the link may be used again.
func TestACertificateThatCannotBePackedIsWithdrawn(t *testing.T) {
	b := newBed(t, `{"profiles": [{"name": "vpn", "limits": {"active": 1}}]}`)
	alice := requester("alice")
	_, grant := issueLink(t, b.core, alice, "vpn")

	_, err := b.core.RedeemLink(context.Background(), grant, enroll.Options{Format: "bogus"})
	require.Error(t, err)
	list, err := b.store.ListCertificates(alice.Principal)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, records.CertRevoked, list[0].State)
	assert.Equal(t, records.ReasonCessationOfOperation, list[0].RevocationReason)
	assert.Empty(t, b.notify.kinds(), "its owner is not told of a certificate they never got")

	outcome, err := b.core.RedeemLink(context.Background(), grant, enroll.Options{})
	require.NoError(t, err, "the link and the place in the limit are still there")
	assert.Equal(t, records.CertIssued, outcome.Issued.Record.State)
}

func TestBotsAndGuestsAtTheCore(t *testing.T) {
	b := newBed(t, `{"profiles": [{"name": "vpn"}, {"name": "visitors", "access": {"guests": true}}]}`)
	bot := requester("robot")
	bot.Bot = true
	guest := requester("guest")
	guest.Guest = true
	for _, name := range []string{"vpn", "visitors"} {
		_, err := b.core.Enroll(context.Background(), bot, name, enroll.Options{})
		assert.Equal(t, enroll.CodeForbidden, enroll.AsError(err).Code, name)
	}
	_, err := b.core.Enroll(context.Background(), guest, "vpn", enroll.Options{})
	assert.Equal(t, enroll.CodeForbidden, enroll.AsError(err).Code)
	outcome, err := b.core.Enroll(context.Background(), guest, "visitors", enroll.Options{})
	require.NoError(t, err)
	assert.NotNil(t, outcome.Issued)
}

func TestTwoApprovalsByOthersThanTheRequester(t *testing.T) {
	b := newBed(t, `{"profiles": [{"name": "vpn"}, {"name": "dual", "requires_approval": true, "approvers": ["alice", "bob", "carol"], "approvals_required": 2}]}`)
	b.dir.approvers["dual"] = mm("alice", "bob", "carol")
	alice, bob, carol := requester("alice"), requester("bob"), requester("carol")

	req := requestApproval(t, b.core, alice, "dual")
	assert.Equal(t, []string{"approval-needed:alice"}, b.notify.kinds())
	assert.Equal(t, "bob,carol", b.notify.notices[0].detail, "the requester is not asked")

	_, err := b.core.Approve(req.ID, alice)
	assert.Equal(t, enroll.ErrOwnRequest, err)
	d, err := b.core.Approve(req.ID, bob)
	require.NoError(t, err)
	assert.False(t, d.Final)
	assert.Equal(t, 1, d.Remaining)
	_, err = b.core.Approve(req.ID, bob)
	assert.Equal(t, enroll.ErrAlreadyApproved, err)
	d, err = b.core.Approve(req.ID, carol)
	require.NoError(t, err)
	assert.True(t, d.Final)
	assert.Equal(t, records.RequestApproved, d.Request.State)

	// With bob gone, a request from carol has only alice besides her.
	b.dir.approvers["dual"] = mm("alice", "carol")
	_, err = b.core.StartEnrollment(carol, enroll.StartRequest{Profile: "dual", Key: enroll.KeyFromServer})
	assert.Equal(t, enroll.CodeForbidden, enroll.AsError(err).Code)
	assert.Contains(t, err.Error(), "needs 2 approver(s) besides you")
}

// Racing approvers decide a request once.
func TestConcurrentApprovalsDecideOnce(t *testing.T) {
	b := newBed(t, `{"profiles": [{"name": "vpn"}, {"name": "one", "requires_approval": true, "approvers": ["bob", "carol"]}]}`)
	b.dir.approvers["one"] = mm("bob", "carol")
	alice := requester("alice")
	req := requestApproval(t, b.core, alice, "one")

	var wg sync.WaitGroup
	results := make([]error, 2)
	for i, approver := range []*enroll.Requester{requester("bob"), requester("carol")} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, results[i] = b.core.Approve(req.ID, approver)
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range results {
		if err == nil {
			wins++
		}
	}
	assert.Equal(t, 1, wins, "%v", results)
	approved := 0
	for _, k := range b.notify.kinds() {
		if k == "approved:alice" {
			approved++
		}
	}
	assert.Equal(t, 1, approved, "the owner gets one pickup link")
}

// The core knows nothing of the plugin API: it must not even import it.
func TestCoreDoesNotDependOnThePluginAPI(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/clientcerts/mattermost-plugin-certs/server/enroll").CombinedOutput()
	require.NoError(t, err, string(out))
	for _, dep := range strings.Fields(string(out)) {
		assert.False(t, strings.HasPrefix(dep, "github.com/mattermost/"), "server/enroll depends on %s", dep)
	}
}

// A link the previous version minted names a bare Mattermost user id: it
// is refused as expired, with a new link as the way on.
func TestALinkOfThePreviousVersionIsRefusedAsExpired(t *testing.T) {
	b := newBed(t, "")
	now := b.core.Now()
	legacy, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Issuer: "mattermost-plugin-certs", Subject: "alice", Audience: jwt.ClaimStrings{string(linktoken.PurposeIssue)},
		ID: "0123456789abcdef0123456789abcdef", IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute)),
	}).SignedString([]byte(strings.Repeat("s", 43)))
	require.NoError(t, err)
	_, err = b.core.CheckLink(legacy, linktoken.PurposeIssue, "")
	refusal := enroll.AsError(err)
	require.NotNil(t, refusal, "%v", err)
	assert.Equal(t, enroll.CodeGone, refusal.Code)
	assert.Equal(t, enroll.NextNewLink, refusal.Next)
}
