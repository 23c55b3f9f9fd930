package enroll_test

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"

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
	approvers map[string][]string // profile → account ids
	teams     map[string][]string // team → member ids
	admins    map[string]bool     // account ids with the admin permission
}

func (d *directory) Lookup(p records.Principal) (*enroll.Requester, error) {
	if r, ok := d.accounts[p]; ok {
		return r, nil
	}
	return nil, errors.New("no such account")
}

func (d *directory) InAnyTeam(r *enroll.Requester, teams []string) bool {
	for _, team := range teams {
		for _, id := range d.teams[team] {
			if id == r.ID {
				return true
			}
		}
	}
	return false
}

func (d *directory) Approvers(profileName string, _ []string) []string {
	return d.approvers[profileName]
}

func (d *directory) IsAdmin(r *enroll.Requester) bool { return d.admins[r.ID] }

type notice struct{ kind, owner, detail string }

type notifier struct {
	mu      sync.Mutex
	notices []notice
}

func (n *notifier) add(kind string, owner *enroll.Requester, detail string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.notices = append(n.notices, notice{kind, owner.ID, detail})
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
	n.add("issued", o, c.Serial)
}
func (n *notifier) CertificateRevoked(o *enroll.Requester, c *records.Certificate, _ *enroll.Requester) {
	n.add("revoked", o, c.Serial)
}
func (n *notifier) RenewalOverlapEnded(o *enroll.Requester, c *records.Certificate) {
	n.add("overlap-ended", o, c.Serial)
}
func (n *notifier) KeyCompromised(reported *records.Certificate, alsoRevoked []*records.Certificate) {
	for _, c := range append([]*records.Certificate{reported}, alsoRevoked...) {
		n.add("key-compromised", &enroll.Requester{ID: c.Owner.MattermostUserID()}, c.Serial)
	}
}
func (n *notifier) CertificateRegistered(o, _ *enroll.Requester, c *records.Certificate) {
	n.add("registered", o, c.Serial)
}
func (n *notifier) ApprovalNeeded(req *records.Request, o *enroll.Requester, _ *profile.Profile, _ connector.Subject, approvers []string) []records.ApprovalPost {
	n.add("approval-needed", o, strings.Join(approvers, ","))
	return nil
}
func (n *notifier) RequestClosed(*records.Request, string) {}
func (n *notifier) RequestApproved(o *enroll.Requester, req *records.Request, _ []string, l *enroll.Link) {
	n.add("approved", o, l.Token)
}
func (n *notifier) RequestDenied(o *enroll.Requester, req *records.Request, _ string) {
	n.add("denied", o, req.ID)
}
func (n *notifier) WaitingForCA(o *enroll.Requester, req *records.Request) {
	n.add("waiting", o, req.ID)
}
func (n *notifier) CertificateReady(o *enroll.Requester, _ *records.Request, l *enroll.Link) {
	n.add("ready", o, l.Token)
}
func (n *notifier) RequestExpired(o *enroll.Requester, req *records.Request) {
	n.add("expired", o, req.ID)
}
func (n *notifier) ExpiryReminder(o *enroll.Requester, c *records.Certificate, _ int) {
	n.add("reminder", o, c.Serial)
}
func (n *notifier) EmailChanged(o *enroll.Requester, c *records.Certificate) {
	n.add("email-changed", o, c.Serial)
}
func (n *notifier) RevocationNotAccepted(c *records.Certificate) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.notices = append(n.notices, notice{"revocation-not-accepted", "admins", c.Serial + " " + c.RevocationCAAnswer})
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

func requester(id string) *enroll.Requester {
	return &enroll.Requester{Principal: records.MattermostUser(id), ID: id, Username: id, Email: id + "@example.com", EmailVerified: true, Active: true}
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
	b.dir = &directory{accounts: map[records.Principal]*enroll.Requester{}, approvers: map[string][]string{}, teams: map[string][]string{}}
	b.notify, b.mail = &notifier{}, &mailer{}
	b.store = store.New(&pluginapi.MemoryStore{}, store.WithClock(clock))
	for _, id := range []string{"alice", "bob", "carol"} {
		b.dir.accounts[records.MattermostUser(id)] = requester(id)
	}
	b.settings = enroll.Settings{
		Catalog:      catalog,
		Connectors:   map[string]connector.Connector{"builtin": connector.NewBuiltin("builtin", h.CA(), clock)},
		Minter:       minter,
		PKCS12Format: pki.PKCS12Compatible,
		SealKey:      sealKey,
		LinkLifetime: 10 * time.Minute, EmailDelivery: true, IdentityHost: "chat.example.com",
	}
	b.ports = enroll.Ports{Inventory: b.store, Directory: b.dir, Notifier: b.notify, Mailer: b.mail, Log: quietLog{}, Clock: clock,
		RSAKeys: admission.NewQueue(1, 60)}
	b.core = enroll.New(b.settings, b.ports)
	return b
}

// issueLink mints an issuance link of profileName for r and checks it, as
// the page does before it redeems it.
func issueLink(t *testing.T, core *enroll.Core, r *enroll.Requester, profileName string) (*enroll.Link, *enroll.Grant) {
	t.Helper()
	prof, _, err := core.ProfileFor(r, profileName)
	require.NoError(t, err)
	link, err := core.MintLink(r, prof, linktoken.PurposeIssue)
	require.NoError(t, err)
	grant, err := core.CheckLink(link.Token, linktoken.PurposeIssue, "")
	require.NoError(t, err)
	return link, grant
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
	assert.Equal(t, []string{"issued:alice"}, b.notify.kinds())

	_, err = b.core.RedeemLink(context.Background(), grant, enroll.Options{})
	assert.Equal(t, enroll.ErrLinkUsed, err)
	assert.Equal(t, enroll.CodeConflict, enroll.AsError(err).Code)

	_, err = b.core.CheckLink(link.Token, linktoken.PurposeIssue, "bob")
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
	b.dir.approvers["dual"] = []string{"alice", "bob", "carol"}
	alice, bob, carol := requester("alice"), requester("bob"), requester("carol")
	prof, _, err := b.core.ProfileFor(alice, "dual")
	require.NoError(t, err)

	req, err := b.core.RequestCertificate(alice, prof)
	require.NoError(t, err)
	assert.Equal(t, []string{"approval-needed:alice"}, b.notify.kinds())
	assert.Equal(t, "bob,carol", b.notify.notices[0].detail, "the requester is not asked")

	_, err = b.core.Approve(req.ID, alice)
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
	b.dir.approvers["dual"] = []string{"alice", "carol"}
	_, err = b.core.RequestCertificate(carol, prof)
	assert.Equal(t, enroll.CodeForbidden, enroll.AsError(err).Code)
	assert.Contains(t, err.Error(), "needs 2 approver(s) besides you")
}

// Racing approvers decide a request once.
func TestConcurrentApprovalsDecideOnce(t *testing.T) {
	b := newBed(t, `{"profiles": [{"name": "vpn"}, {"name": "one", "requires_approval": true, "approvers": ["bob", "carol"]}]}`)
	b.dir.approvers["one"] = []string{"bob", "carol"}
	alice := requester("alice")
	prof, _, err := b.core.ProfileFor(alice, "one")
	require.NoError(t, err)
	req, err := b.core.RequestCertificate(alice, prof)
	require.NoError(t, err)

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
