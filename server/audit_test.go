package main

import (
	"fmt"
	"sync"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/observe"
	"github.com/clientcerts/mattermost-plugin-certs/server/observe/metricstest"
)

// LogAuditRec keeps the record as it crossed the plugin RPC.
func (a *fakeAPI) LogAuditRec(rec *model.AuditRecord) {
	if _, bench := a.env.t.(*testing.B); bench {
		// Benchmarks measure the plugin, not this check; and keep nothing.
		return
	}
	a.env.audits.Add(a.env.t, rec)
}

func requireOneAudit(t *testing.T, env *testEnv, event string) *model.AuditRecord {
	t.Helper()
	return env.audits.One(t, event)
}

// fakeEvents keeps the events the plugin recorded.
type fakeEvents struct {
	mu     sync.Mutex
	events []fakeEvent
}

type fakeEvent struct {
	kind, actor string
	detail      any
}

func (f *fakeEvents) RecordEvent(kind, actor string, detail any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, fakeEvent{kind: kind, actor: actor, detail: detail})
	return nil
}

func TestIssuanceAndRevocationAreAuditedWithoutSecrets(t *testing.T) {
	env := newTestEnv(t)
	alice := env.user("alice").Id
	token := env.token("alice")
	issued := env.issueJSON(token)

	rec := requireOneAudit(t, env, observe.AuditIssueCertificate)
	assert.Equal(t, model.AuditStatusSuccess, rec.Status)
	assert.Equal(t, alice, rec.Actor.UserId)
	assert.Equal(t, issued.Serial, rec.Meta["serial"])
	assert.Equal(t, "default", rec.Meta["profile"])
	assert.Equal(t, "builtin", rec.Meta["connector"])
	assert.Equal(t, alice, rec.Meta["owner"])

	reply := env.run("alice", "/cert revoke "+issued.Serial+" keyCompromise")
	require.Contains(t, reply, "is now revoked")
	rec = requireOneAudit(t, env, observe.AuditRevokeCertificate)
	assert.Equal(t, model.AuditStatusSuccess, rec.Status)
	assert.Equal(t, alice, rec.Actor.UserId, "RevokedBy is the actor")
	assert.Equal(t, issued.Serial, rec.Meta["serial"])
	assert.Equal(t, "keyCompromise", rec.Meta["reason"])

	// Revoking again changes nothing, and records nothing.
	env.run("alice", "/cert revoke "+issued.Serial)
	assert.Len(t, env.audits.Of(observe.AuditRevokeCertificate), 1)

	text := env.audits.Text()
	require.NotEmpty(t, issued.Passphrase)
	assert.NotContains(t, text, issued.Passphrase, "no passphrase in an audit record")
	assert.NotContains(t, text, token, "no link token in an audit record")
	assert.NotContains(t, text, issued.PKCS12[:40], "no PKCS#12 in an audit record")
	assert.NotContains(t, text, "PRIVATE KEY")
	cfg := env.p.getConfiguration()
	assert.NotContains(t, text, cfg.LinkSigningSecret)
	assert.NotContains(t, text, cfg.EncryptionSecret)
}

func TestApprovalsAndDenialsAreAudited(t *testing.T) {
	env := newApprovalEnv(t)
	approved := env.requestVia("alice", "secure")
	rec := requireOneAudit(t, env, observe.AuditRequestCertificate)
	assert.Equal(t, env.user("alice").Id, rec.Actor.UserId)
	assert.Equal(t, approved, rec.Meta["request_id"])

	env.click("carol", env.approvalPostFor("carol", approved), "approve")
	rec = requireOneAudit(t, env, observe.AuditApproveRequest)
	assert.Equal(t, env.user("carol").Id, rec.Actor.UserId, "DecidedBy is the actor")
	assert.Equal(t, approved, rec.Meta["request_id"])
	assert.Equal(t, true, rec.Meta["final"])
	assert.Equal(t, "pending", rec.Meta["previous_state"])

	denied := env.requestVia("alice", "secure")
	_, err := mustServices(t, env).Core.Deny(denied, env.requester("carol"), "not for you")
	require.NoError(t, err)
	rec = requireOneAudit(t, env, observe.AuditDenyRequest)
	assert.Equal(t, env.user("carol").Id, rec.Actor.UserId)
	assert.Equal(t, "not for you", rec.Meta["reason"])
	assert.Equal(t, false, rec.Meta["by_ca"])

	cancelled := env.requestVia("alice", "secure")
	env.run("alice", "/cert cancel "+cancelled)
	rec = requireOneAudit(t, env, observe.AuditCancelRequest)
	assert.Equal(t, env.user("alice").Id, rec.Actor.UserId)

	families := env.scrape()
	assert.Equal(t, 1.0, metricstest.Sample(families, "certs_request_decisions_total", "profile", "secure", "outcome", "approved"))
	assert.Equal(t, 1.0, metricstest.Sample(families, "certs_request_decisions_total", "profile", "secure", "outcome", "denied"))
}

func TestRenewalIsAudited(t *testing.T) {
	env := newTestEnv(t)
	issued := env.issueJSON(env.token("alice"))
	reply := env.run("alice", "/cert renew "+issued.Serial)
	require.Contains(t, reply, "Get my renewed certificate")
	rec := requireOneAudit(t, env, observe.AuditRenewCertificate)
	assert.Equal(t, model.AuditStatusSuccess, rec.Status)
	assert.Equal(t, env.user("alice").Id, rec.Actor.UserId)
	assert.Equal(t, issued.Serial, rec.Meta["serial"])
	assert.Equal(t, "link", rec.Meta["next"])
	assert.NotContains(t, env.audits.Text(), "token=", "the renewal link is not in the record")

	env.run("bob", "/cert renew "+issued.Serial)
	recs := env.audits.Of(observe.AuditRenewCertificate)
	require.Len(t, recs, 2)
	assert.Equal(t, model.AuditStatusFail, recs[1].Status, "bob may not renew alice's certificate")
}

func TestCatalogChangeIsRecordedByNameWithoutSecrets(t *testing.T) {
	env := newTestEnv(t)
	events := &fakeEvents{}
	env.p.events = events
	cfg := env.p.getConfiguration()
	current := map[string]any{"linksigningsecret": cfg.LinkSigningSecret, "encryptionsecret": cfg.EncryptionSecret}
	next := map[string]any{"linksigningsecret": cfg.LinkSigningSecret, "encryptionsecret": cfg.EncryptionSecret,
		"connectorsandprofiles": stepCATestCatalog, "emaildelivery": "off"}
	_, err := env.saveConfigReturning(current, next)
	require.NoError(t, err)

	require.Len(t, events.events, 1)
	event := events.events[0]
	assert.Equal(t, "settings.changed", event.kind)
	assert.Empty(t, event.actor, "the save hook does not know who saved")
	detail := event.detail.(map[string]any)
	assert.Equal(t, []string{"EmailDelivery"}, detail["settings"])
	assert.Equal(t, map[string]any{"added": []string{"corp"}}, detail["connectors"])
	assert.Equal(t, map[string]any{"added": []string{"vpn", "step"}, "removed": []string{"default"}}, detail["profiles"])
	assert.Equal(t, []string{"default", "vpn"}, detail["default_profile"])

	rec := requireOneAudit(t, env, observe.AuditUpdateSettings)
	assert.Equal(t, detail["connectors"], rec.Meta["connectors"])
	assert.NotContains(t, env.audits.Text(), "hunter2-provisioner")
	assert.NotContains(t, fmt.Sprint(events.events), "hunter2-provisioner")

	// A refused save records nothing.
	bad := map[string]any{"linksigningsecret": cfg.LinkSigningSecret, "encryptionsecret": cfg.EncryptionSecret, "linklifetimeminutes": 600}
	require.Error(t, env.saveConfig(current, bad))
	assert.Len(t, events.events, 1)
}

// requester is a test user as the core sees them.
func (env *testEnv) requester(name string) *enroll.Requester {
	env.t.Helper()
	r, err := env.p.dir.Requester(env.user(name).Id)
	require.NoError(env.t, err)
	return r
}
