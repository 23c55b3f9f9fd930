package main

import (
	"context"
	"crypto/x509"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/config/configtest"
	"github.com/clientcerts/mattermost-plugin-certs/server/observe"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"
	"github.com/clientcerts/mattermost-plugin-certs/server/web/enrollment"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

// Security decisions key on immutable ids. These tests each failed before
// the enrollment core knew requesters by id.

// leafOf is the certificate of a JSON issuance.
func leafOf(t *testing.T, resp enrollment.IssuanceView) *x509.Certificate {
	t.Helper()
	certs, err := pki.ParseCertificatesPEM([]byte(resp.CertificatePEM))
	require.NoError(t, err)
	return certs[0]
}

func TestCertificatesNameTheAccountByID(t *testing.T) {
	env := newTestEnv(t)
	leaf := leafOf(t, env.issueJSON(env.token("alice")))
	require.Len(t, leaf.URIs, 1)
	assert.Equal(t, "mattermost://chat.example.com/users/"+env.user("alice").Id, leaf.URIs[0].String())
}

// A new account that takes a departed approver's username cannot approve,
// and the system admins are told.
func TestApproverIsBoundToTheAccountNotTheName(t *testing.T) {
	env := newTestEnvWithCatalog(t, `{"profiles": [{"name": "vpn"},
		{"name": "named", "requires_approval": true, "approvers": ["bob", "carol"]}]}`)
	departed := env.users["bob"]
	departed.DeleteAt = 1
	env.users["bob-departed"] = departed
	env.users["bob"] = &model.User{Id: model.NewId(), Username: "bob", Email: "bob2@example.com"}

	id := env.requestVia("alice", "named")
	assert.Empty(t, env.dmsTo("bob"), "the new bob is not asked")
	env.approvalPostFor("carol", id)
	notice := false
	for _, dm := range env.dmsTo("carol") {
		notice = notice || strings.Contains(dm.Message, "now belongs to another account")
	}
	assert.True(t, notice, "the system admins are told the name now names someone else")

	assert.Contains(t, env.run("bob", "/cert approve "+id), "not an approver")
	assert.Equal(t, records.RequestPending, env.request_(id).State)
	assert.Contains(t, env.run("carol", "/cert approve "+id), "Request approved.")
}

// Saving a profile binds its approvers to the accounts they name then, and
// a name that names nobody refuses the save.
func TestSavingBindsApproversAndRefusesUnknownNames(t *testing.T) {
	env := newTestEnv(t)
	cfg := env.p.getConfiguration()
	current := map[string]any{"linksigningsecret": cfg.LinkSigningSecret, "encryptionsecret": cfg.EncryptionSecret}
	next := map[string]any{"linksigningsecret": cfg.LinkSigningSecret, "encryptionsecret": cfg.EncryptionSecret,
		"connectorsandprofiles": `{"profiles": [{"name": "named", "requires_approval": true, "approvers": ["nobody-here"]}]}`}
	err := env.saveConfig(current, next)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no active user is called @nobody-here")

	next["connectorsandprofiles"] = `{"profiles": [{"name": "named", "requires_approval": true, "approvers": ["@bob"]}]}`
	require.NoError(t, env.saveConfig(current, next))
	bound, err := env.p.store.Binding(store.BindUser, "bob")
	require.NoError(t, err)
	assert.Equal(t, env.user("bob").Id, bound)
}

// Nobody approves their own request, system admins included; a request
// only its owner could approve is refused at once, with the reason.
func TestNobodyApprovesTheirOwnRequest(t *testing.T) {
	env := newTestEnvWithCatalog(t, `{"profiles": [{"name": "vpn"},
		{"name": "secure", "requires_approval": true},
		{"name": "pair", "requires_approval": true, "approvers": ["bob", "carol"]}]}`)

	// carol is the only system admin.
	reply := env.run("carol", "/cert download secure")
	assert.Contains(t, reply, "Nobody could approve a certificate of profile secure for you")
	open, err := env.p.store.ListOpenRequests()
	require.NoError(t, err)
	assert.Empty(t, open, "no request that would wait forever")

	id := env.requestVia("bob", "pair")
	assert.Empty(t, env.dmsTo("bob"), "the requester is not asked to approve")
	assert.Contains(t, env.run("bob", "/cert approve "+id), "cannot decide your own certificate request")
	assert.Contains(t, env.run("bob", "/cert deny "+id+" no"), "cannot decide your own certificate request")
	assert.Equal(t, records.RequestPending, env.request_(id).State)
	assert.Contains(t, env.run("carol", "/cert approve "+id), "Request approved.")
}

// approvals_required: 2 needs two different approvers.
func TestTwoApproversAreNeededWhenTheProfileSaysSo(t *testing.T) {
	env := newTestEnvWithCatalog(t, `{"profiles": [{"name": "vpn"},
		{"name": "dual", "requires_approval": true, "approvers": ["bob", "carol"], "approvals_required": 2}]}`)
	id := env.requestVia("alice", "dual")
	post := env.approvalPostFor("bob", id)
	assert.Contains(t, post.Attachments()[0].Text, "Needs 2 approvers")

	assert.Contains(t, env.run("bob", "/cert approve "+id), "needs 1 more approver")
	assert.Equal(t, records.RequestPending, env.request_(id).State)
	assert.Contains(t, env.run("bob", "/cert approve "+id), "already approved this request")
	assert.Equal(t, records.RequestPending, env.request_(id).State)

	assert.Contains(t, env.run("carol", "/cert approve "+id), "Request approved.")
	r := env.request_(id)
	assert.Equal(t, records.RequestApproved, r.State)
	assert.Len(t, r.Approvals, 2)
	dms := env.dmsTo("alice")
	m := pickupPattern.FindStringSubmatch(dms[len(dms)-1].Message)
	require.Len(t, m, 3, dms[len(dms)-1].Message)
	assert.Contains(t, dms[len(dms)-1].Message, "@bob and @carol approved")
	env.issueJSON(m[2])
}

func TestApprovalsThatCannotBeMetAreRefusedAtSave(t *testing.T) {
	c := configtest.Valid()
	c.ConnectorsAndProfiles = `{"profiles": [{"name": "dual", "requires_approval": true, "approvers": ["bob"], "approvals_required": 2}]}`
	err := c.IsValid()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "approvals_required is 2 but only 1 approvers are listed")
}

// Bots never get certificates, on any route; guests only where a profile
// lets them.
func TestBotsNeverAndGuestsOnlyWhereAllowed(t *testing.T) {
	env := newTestEnvWithCatalog(t, `{"profiles": [{"name": "vpn"}, {"name": "visitors", "access": {"guests": true}}]}`)
	env.users["robot"] = &model.User{Id: model.NewId(), Username: "robot", IsBot: true}
	env.users["guest"] = &model.User{Id: model.NewId(), Username: "guest", Email: "guest@example.com", Roles: model.SystemGuestRoleId}

	csr := newCSR(t, "p256", "robot", nil).pem()
	for _, route := range []struct{ path, body string }{
		{"/api/v1/csr", `{"csr": ` + jsonString(csr) + `}`},
		{"/api/v1/enrollments", `{}`},
		{"/api/v1/links", `{}`},
	} {
		w := env.request(http.MethodPost, route.path, route.body, "robot", "Content-Type", "application/json")
		assert.Equal(t, http.StatusForbidden, w.Code, "%s: %s", route.path, w.Body.String())
	}
	assert.Contains(t, env.run("robot", "/cert download"), "You cannot get certificates")

	assert.Contains(t, env.run("guest", "/cert download vpn"), `You cannot get certificates of profile "vpn".`)
	assert.Contains(t, env.run("guest", "/cert download visitors"), "[Get my certificate]")
	w := env.request(http.MethodPost, "/api/v1/enrollments", `{"profile": "visitors"}`, "guest", "Content-Type", "application/json")
	assert.Equal(t, http.StatusCreated, w.Code, w.Body.String())
}

// Where the server requires verified emails, an unverified one stays out
// of certificates.
func TestUnverifiedEmailIsNotCertified(t *testing.T) {
	env := newTestEnv(t)
	siteURL, siteName, verify := testSiteURL, "Example", true
	env.api.ExpectedCalls = removeCalls(env.api.ExpectedCalls, "GetConfig")
	env.api.On("GetConfig").Return(&model.Config{
		ServiceSettings: model.ServiceSettings{SiteURL: &siteURL},
		TeamSettings:    model.TeamSettings{SiteName: &siteName},
		EmailSettings:   model.EmailSettings{RequireEmailVerification: &verify},
	})
	env.configure(env.p.getConfiguration())
	env.users["bob"].EmailVerified = true

	assert.Empty(t, leafOf(t, env.issueJSON(env.token("alice"))).EmailAddresses, "alice has not verified hers")
	assert.Equal(t, []string{"bob@example.com"}, leafOf(t, env.issueJSON(env.token("bob"))).EmailAddresses)
}

// countingConnector counts revocations it is asked for.
type countingConnector struct {
	connector.Connector
	revokes atomic.Int32
}

func (c *countingConnector) Revoke(ctx context.Context, req connector.RevokeRequest) error {
	c.revokes.Add(1)
	return c.Connector.Revoke(ctx, req)
}

// Registering a copy of someone's certificate does not let its holder
// revoke it at the CA: only a certificate an admin registered is.
func TestRegisteredCertificatesAreRevokedAtTheCAOnlyIfAnAdminRegisteredThem(t *testing.T) {
	env := newTestEnv(t)
	s, err := env.p.current.Get()
	require.NoError(t, err)
	counting := &countingConnector{Connector: s.Core.Connectors["builtin"]}
	env.p.current.Store(withConnector(s, "builtin", counting))
	loaded, err := env.p.caKeeper.Load(env.p.getConfiguration())
	require.NoError(t, err)
	sign := func() string {
		leaf, err := loaded.Current.CA.Sign(newCSR(t, "p256", "alice", nil).key.Public(), pki.LeafSpec{CommonName: "alice", NotBefore: env.now(), NotAfter: env.now().Add(time.Hour),
			ExtKeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
		require.NoError(t, err)
		return jsonString(string(pki.EncodeCertificatesPEM([]*x509.Certificate{leaf})))
	}

	w := env.request(http.MethodPost, "/api/v1/certificates/import", `{"certificate": `+sign()+`}`, "alice", "Content-Type", "application/json")
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	own := decodeJSON[web.CertificateView](t, w.Body.Bytes())
	assert.Equal(t, "builtin", own.Connector, "it was signed by the built-in CA")
	assert.Contains(t, env.run("alice", "/cert revoke "+own.Serial), "only this plugin's record changed")
	assert.Equal(t, int32(0), counting.revokes.Load(), "the CA is not asked")

	w = env.request(http.MethodPost, "/api/v1/certificates/import", `{"owner": "alice", "certificate": `+sign()+`}`, "carol", "Content-Type", "application/json")
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	byAdmin := decodeJSON[web.CertificateView](t, w.Body.Bytes())
	assert.Contains(t, env.run("alice", "/cert revoke "+byAdmin.Serial), "is now revoked")
	assert.Equal(t, int32(1), counting.revokes.Load(), "an admin's registration is revoked at the CA")
}

// A CA that answers "pending" at the pickup of an approved request: the
// link sent when it issues later collects the certificate.
func TestApprovedRequestTheCAHeldIsCollectedLater(t *testing.T) {
	env := newApprovalEnv(t)
	id := env.requestVia("alice", "secure")
	assert.Contains(t, env.run("carol", "/cert approve "+id), "Request approved.")
	dms := env.dmsTo("alice")
	first := pickupPattern.FindStringSubmatch(dms[len(dms)-1].Message)
	require.Len(t, first, 3)

	ca := withHoldingCA(t, env)
	w := env.request(http.MethodPost, "/issue", form(first[2]), "", "Accept", "application/json")
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	assert.Equal(t, records.RequestWaitingCA, env.request_(id).State)

	ca.decide(connector.StatusIssued)
	env.advance(2 * time.Minute)
	env.p.runRequestJob()
	dms = env.dmsTo("alice")
	ready := pickupPattern.FindStringSubmatch(dms[len(dms)-1].Message)
	require.Len(t, ready, 3, dms[len(dms)-1].Message)
	resp := env.issueJSON(ready[2])
	assert.Equal(t, resp.Serial, env.request_(id).Serial)
	assert.Equal(t, records.RequestIssued, env.request_(id).State)
}

// Changing the encryption secret keeps the keys requests hold usable.
func TestNewEncryptionSecretKeepsHeldKeys(t *testing.T) {
	env := newTestEnv(t)
	ca := withHoldingCA(t, env)
	w := env.request(http.MethodPost, "/issue", form(env.token("alice")), "", "Accept", "application/json")
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	id := decodeJSON[map[string]any](t, w.Body.Bytes())["request_id"].(string)
	ca.decide(connector.StatusIssued)
	env.advance(2 * time.Minute)
	env.p.runRequestJob()
	dms := env.dmsTo("alice")
	ready := pickupPattern.FindStringSubmatch(dms[len(dms)-1].Message)
	require.Len(t, ready, 3, dms[len(dms)-1].Message)

	cfg := env.p.getConfiguration()
	newSecret := strings.Repeat("n", 43)
	current := map[string]any{"linksigningsecret": cfg.LinkSigningSecret, "encryptionsecret": cfg.EncryptionSecret}
	next := map[string]any{"linksigningsecret": cfg.LinkSigningSecret, "encryptionsecret": newSecret}
	require.NoError(t, env.saveConfig(current, next))
	assert.Len(t, env.request_(id).PendingKeyCopies, 1, "a copy under the new secret")
	rotated := cfg.Clone()
	rotated.EncryptionSecret = newSecret
	env.configure(rotated)
	env.p.current.Store(withConnector(mustServices(t, env), "builtin", ca))

	resp := env.issueJSON(ready[2])
	assert.NotEmpty(t, resp.PKCS12)
	assert.Equal(t, records.RequestIssued, env.request_(id).State)
}

func mustServices(t *testing.T, env *testEnv) *app.Snapshot {
	t.Helper()
	s, err := env.p.current.Get()
	require.NoError(t, err)
	return s
}

// slowConnector signs after the clock moved on, as a slow CA does.
type slowConnector struct {
	connector.Connector
	env *testEnv
}

func (s *slowConnector) Sign(ctx context.Context, req connector.SignRequest) (*connector.Result, error) {
	s.env.advance(45 * time.Second)
	return s.Connector.Sign(ctx, req)
}

// A certificate whose answer was slow enough to be lost on the way is
// kept for its link: the same link delivers it once more, not a new one.
func TestSlowAnswerIsDeliveredAgainOnTheSameLink(t *testing.T) {
	env := newTestEnv(t)
	s := mustServices(t, env)
	env.p.current.Store(withConnector(s, "builtin", &slowConnector{Connector: s.Core.Connectors["builtin"], env: env}))
	token := env.token("alice")
	first := env.issueJSON(token) // suppose this answer never reached the browser

	again := env.issueJSON(token)
	assert.Equal(t, first.Serial, again.Serial, "the same certificate, not a second one")
	certs, err := env.p.store.ListCertificates(records.MattermostUser(env.user("alice").Id))
	require.NoError(t, err)
	assert.Len(t, certs, 1)
	requireOneAudit(t, env, observe.AuditIssueCertificate) // and counted once
	assert.Equal(t, http.StatusConflict, env.request(http.MethodPost, "/issue", form(token), "").Code, "once more, not forever")
}

// A CA's refusal reads once, under a title in words.
func TestCARefusalIsToldOnce(t *testing.T) {
	env := newTestEnv(t)
	env.p.current.Store(withFailingConnector(mustServices(t, env), connector.KindRejected))
	body := env.request(http.MethodPost, "/issue", form(env.token("alice")), "").Body.String()
	assert.Equal(t, 1, strings.Count(body, "refused the request"), body)
	assert.NotContains(t, body, "Unprocessable Entity")
	assert.Contains(t, body, "The certificate was not created")
}

// A CSR that cannot be parsed is refused in words; the parser's own
// account goes to the log only.
func TestGarbageCSRIsRefusedInWords(t *testing.T) {
	env := newTestEnv(t)
	w := env.request(http.MethodPost, "/api/v1/csr", `{"csr": "MIIBAAAA"}`, "alice", "Content-Type", "application/json")
	require.Equal(t, http.StatusUnprocessableEntity, w.Code, w.Body.String())
	assert.NotContains(t, w.Body.String(), "asn1")
	assert.Contains(t, w.Body.String(), "not a certificate signing request")
	logged := strings.Join(env.loggedLines(), "\n")
	assert.Contains(t, logged, "A CSR was refused")
	assert.Contains(t, logged, "asn1")
}
