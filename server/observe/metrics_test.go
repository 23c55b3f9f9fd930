package observe

import (
	"context"
	"crypto/x509"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/clocktest"
	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/observe/metricstest"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// builtinConnector is a built-in CA connector over a new hierarchy.
func builtinConnector(t *testing.T, now func() time.Time) *connector.Builtin {
	t.Helper()
	h, err := pki.GenerateHierarchy("Example", now())
	require.NoError(t, err)
	ca, err := pki.NewCA([]*x509.Certificate{h.Issuing, h.Root}, h.IssuingKey, now())
	require.NoError(t, err)
	return connector.NewBuiltin("builtin", ca, now)
}

// signRequest asks for a certificate of a new key for the account
// accountID, under profile.
func signRequest(t *testing.T, accountID, profileName string) connector.SignRequest {
	t.Helper()
	key, err := pki.GenerateKey(pki.KeyECDSAP256)
	require.NoError(t, err)
	return connector.SignRequest{
		PublicKey: key.Public(),
		Subject: connector.Subject{CommonName: "alice",
			URIs: []*url.URL{{Scheme: "mattermost", Host: "chat.example.com", Path: "/users/" + accountID}}},
		Profile: connector.Profile{Name: profileName, Validity: time.Hour, ExtKeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
	}
}

// failingConnector is a CA that is down, or answers in ways its tests set.
type failingConnector struct {
	connector.Connector
	kind connector.Kind
	err  error
}

func (f *failingConnector) fail() error {
	if f.err != nil {
		return f.err
	}
	return &connector.Error{Kind: f.kind, Connector: "flaky", Message: "connection refused", Err: errors.New("dial tcp 10.0.0.1:443: secret-ish detail")}
}

func (f *failingConnector) Sign(context.Context, connector.SignRequest) (*connector.Result, error) {
	return nil, f.fail()
}

func (f *failingConnector) Revoke(context.Context, connector.RevokeRequest) error { return f.fail() }

func (f *failingConnector) Poll(context.Context, string) (*connector.Result, error) {
	return nil, f.fail()
}

// answeringConnector answers every signing with one result.
type answeringConnector struct {
	connector.Connector
	result *connector.Result
}

func (a *answeringConnector) Sign(context.Context, connector.SignRequest) (*connector.Result, error) {
	return a.result, nil
}

func (a *answeringConnector) Poll(context.Context, string) (*connector.Result, error) {
	return a.result, nil
}

func TestMetricsDescribeThePluginProcess(t *testing.T) {
	m := NewMetrics("1.2.3", nil, time.Now)
	families := scrape(t, m)
	assert.Equal(t, 1.0, metricstest.Sample(families, "certs_plugin_info", "version", "1.2.3"))
	assert.NotNil(t, families["go_goroutines"], "the plugin process's own runtime")
	assert.NotContains(t, families, "certs_certificates", "no counts: no gauge")
	assert.Equal(t, -1.0, metricstest.Sample(families, "certs_certificates_issued_total"), "no issuance yet")
}

func TestStateGaugeCountsAtMostEvery30Seconds(t *testing.T) {
	clock := clocktest.New(time.Now())
	counts := records.StateCounts{Issued: 2, Expired: 1}
	calls := 0
	var fail error
	m := NewMetrics("1.2.3", func() (records.StateCounts, error) {
		calls++
		return counts, fail
	}, clock.Now)

	families := scrape(t, m)
	assert.Equal(t, 2.0, metricstest.Sample(families, "certs_certificates", "state", "issued"))
	assert.Equal(t, 1.0, metricstest.Sample(families, "certs_certificates", "state", "expired"))
	assert.Equal(t, 0.0, metricstest.Sample(families, "certs_certificates", "state", "revoked"))
	counts.Revoked = 1
	assert.Equal(t, 0.0, metricstest.Sample(scrape(t, m), "certs_certificates", "state", "revoked"), "the counts of the last scrape are reused for a while")
	assert.Equal(t, 1, calls)

	clock.Advance(StateCountsCacheFor)
	assert.Equal(t, 1.0, metricstest.Sample(scrape(t, m), "certs_certificates", "state", "revoked"))
	assert.Equal(t, 2, calls)

	// A failed count keeps the last one rather than a gap.
	fail = errors.New("the database is away")
	counts.Revoked = 5
	clock.Advance(StateCountsCacheFor)
	assert.Equal(t, 1.0, metricstest.Sample(scrape(t, m), "certs_certificates", "state", "revoked"))
	assert.Equal(t, 1.0, metricstest.Sample(scrape(t, m), "certs_certificates", "state", "revoked"))
	assert.Equal(t, 4, calls, "and tries again at the next scrape")

	// Never counted: no gauge at all.
	never := NewMetrics("1.2.3", func() (records.StateCounts, error) { return records.StateCounts{}, fail }, clock.Now)
	assert.Equal(t, -1.0, metricstest.Sample(scrape(t, never), "certs_certificates", "state", "issued"))
}

func TestObservedConnectorCountsSigningsAndAuditsFailures(t *testing.T) {
	m := NewMetrics("1.2.3", nil, time.Now)
	audit := &fakeAudit{t: t}
	builtin := builtinConnector(t, time.Now)
	alice := model.NewId()

	observed := m.ObserveConnector(builtin, audit)
	for range 2 {
		result, err := observed.Sign(t.Context(), signRequest(t, alice, "default"))
		require.NoError(t, err)
		assert.Equal(t, connector.StatusIssued, result.Status)
	}
	chain, err := observed.Chain(t.Context())
	require.NoError(t, err)
	assert.Len(t, chain, 2)
	families := scrape(t, m)
	assert.Equal(t, 2.0, metricstest.Sample(families, "certs_ca_requests_total", "connector", "builtin", "operation", "sign", "outcome", "issued"))
	assert.Equal(t, 2.0, metricstest.Sample(families, "certs_ca_request_duration_seconds", "connector", "builtin", "operation", "sign"))
	assert.Equal(t, 1.0, metricstest.Sample(families, "certs_ca_requests_total", "connector", "builtin", "operation", "chain", "outcome", "ok"))
	assert.Equal(t, -1.0, metricstest.Sample(families, "certs_issuance_failures_total"))
	assert.Empty(t, audit.All(), "a signing is audited when it is recorded, by the inventory")

	// A CA that is down.
	failing := m.ObserveConnector(&failingConnector{Connector: builtin, kind: connector.KindUnavailable}, audit)
	_, err = failing.Sign(t.Context(), signRequest(t, alice, "default"))
	require.Error(t, err)
	families = scrape(t, m)
	assert.Equal(t, 1.0, metricstest.Sample(families, "certs_issuance_failures_total", "connector", "builtin", "profile", "default", "reason", "unavailable"))
	assert.Equal(t, 1.0, metricstest.Sample(families, "certs_ca_requests_total", "operation", "sign", "outcome", "unavailable"))
	rec := audit.One(t, AuditIssueCertificate)
	assert.Equal(t, model.AuditStatusFail, rec.Status)
	assert.Equal(t, alice, rec.Actor.UserId, "the subject's identity URI names the account")
	assert.Equal(t, "unavailable", rec.Meta["outcome"])
	assert.Equal(t, "default", rec.Meta["profile"])
	assert.Equal(t, "builtin", rec.Meta["connector"])
	assert.Equal(t, "alice", rec.Meta["common_name"])
	assert.Equal(t, "connection refused", rec.Error.Description)
	assert.NotContains(t, audit.Text(), "secret-ish detail", "never the cause: it may quote a CA")

	// A CA that holds the request for its own approval, and one that denies.
	holding := m.ObserveConnector(&answeringConnector{Connector: builtin, result: &connector.Result{Status: connector.StatusPending, RequestID: "ca-1"}}, audit)
	_, err = holding.Sign(t.Context(), signRequest(t, alice, "default"))
	require.NoError(t, err)
	_, err = holding.Poll(t.Context(), "ca-1")
	require.NoError(t, err)
	denying := m.ObserveConnector(&answeringConnector{Connector: builtin, result: &connector.Result{Status: connector.StatusDenied, Reason: "template not allowed"}}, audit)
	_, err = denying.Sign(t.Context(), signRequest(t, "not-an-account", "vpn"))
	require.NoError(t, err)
	families = scrape(t, m)
	assert.Equal(t, 1.0, metricstest.Sample(families, "certs_issuance_pending_total", "connector", "builtin", "profile", "default"))
	assert.Equal(t, 1.0, metricstest.Sample(families, "certs_ca_requests_total", "operation", "poll", "outcome", "pending"))
	assert.Equal(t, 1.0, metricstest.Sample(families, "certs_issuance_failures_total", "profile", "vpn", "reason", "denied"))
	assert.Len(t, audit.Of(AuditIssueCertificate), 2, "pending is no failure")
	denied := audit.Of(AuditIssueCertificate)[1]
	assert.Empty(t, denied.Actor.UserId, "no account in the subject")
	assert.Equal(t, "template not allowed", denied.Error.Description)

	// Timeouts and failures that are not the connector's own words.
	timingOut := m.ObserveConnector(&failingConnector{Connector: builtin, err: context.DeadlineExceeded}, audit)
	_, err = timingOut.Sign(t.Context(), signRequest(t, alice, "default"))
	require.Error(t, err)
	broken := m.ObserveConnector(&failingConnector{Connector: builtin, err: errors.New("panic: the CA said something private")}, audit)
	_, err = broken.Sign(t.Context(), signRequest(t, alice, "default"))
	require.Error(t, err)
	families = scrape(t, m)
	assert.Equal(t, 1.0, metricstest.Sample(families, "certs_issuance_failures_total", "reason", "timeout"))
	assert.Equal(t, 1.0, metricstest.Sample(families, "certs_issuance_failures_total", "reason", "error"))
	recs := audit.Of(AuditIssueCertificate)
	require.Len(t, recs, 4)
	assert.Equal(t, "the CA connector failed", recs[3].Error.Description)
	assert.NotContains(t, audit.Text(), "something private")
}

func TestObservedConnectorAuditsRevocationsTheCADidNotTake(t *testing.T) {
	m := NewMetrics("1.2.3", nil, time.Now)
	audit := &fakeAudit{t: t}
	builtin := builtinConnector(t, time.Now)
	require.NoError(t, m.ObserveConnector(builtin, audit).Revoke(t.Context(), connector.RevokeRequest{Serial: "01", Reason: "superseded", ReasonCode: 4}))
	assert.Empty(t, audit.All(), "a revocation is audited when it is recorded, by the inventory")

	failing := m.ObserveConnector(&failingConnector{Connector: builtin, kind: connector.KindRejected}, audit)
	require.Error(t, failing.Revoke(t.Context(), connector.RevokeRequest{Serial: "02", Reason: "keyCompromise", ReasonCode: 1}))
	rec := audit.One(t, AuditRevokeCertificate)
	assert.Equal(t, model.AuditStatusFail, rec.Status)
	assert.Equal(t, "02", rec.Meta["serial"])
	assert.Equal(t, "builtin", rec.Meta["connector"])
	assert.Equal(t, "keyCompromise", rec.Meta["reason"])
	assert.Equal(t, "rejected", rec.Meta["outcome"])
	assert.Equal(t, "connection refused", rec.Error.Description)
	families := scrape(t, m)
	assert.Equal(t, 1.0, metricstest.Sample(families, "certs_ca_requests_total", "operation", "revoke", "outcome", "ok"))
	assert.Equal(t, 1.0, metricstest.Sample(families, "certs_ca_requests_total", "operation", "revoke", "outcome", "rejected"))
	assert.Equal(t, -1.0, metricstest.Sample(families, "certs_revocations_total"), "counted when recorded, by the inventory")
}

func TestObservedBuiltinStillSignsCRLsAndOCSP(t *testing.T) {
	m := NewMetrics("1.2.3", nil, time.Now)
	conn := m.ObserveConnector(builtinConnector(t, time.Now), &fakeAudit{t: t})
	_, signsCRL := connector.Capability[connector.CRLSigner](conn)
	_, signsOCSP := connector.Capability[connector.OCSPSigner](conn)
	_, trusts := connector.Capability[connector.TrustChainer](conn)
	assert.True(t, signsCRL && signsOCSP && trusts, "the optional interfaces are found through the wrapper")
	observed, isObserved := conn.(*Connector)
	require.True(t, isObserved)
	_, isBuiltin := observed.Unwrap().(*connector.Builtin)
	assert.True(t, isBuiltin)
	assert.Equal(t, "builtin", conn.Name())
}

func TestEachPluginHasItsOwnRegistry(t *testing.T) {
	a, b := NewMetrics("1.2.3", nil, time.Now), NewMetrics("1.2.3", nil, time.Now)
	a.ReminderSent()
	assert.Equal(t, 1.0, counterValue(t, a.reminders))
	assert.Equal(t, 0.0, counterValue(t, b.reminders))
	assert.Equal(t, 1.0, metricstest.Sample(scrape(t, a), "certs_expiry_reminders_sent_total"))
	assert.Equal(t, 0.0, metricstest.Sample(scrape(t, b), "certs_expiry_reminders_sent_total"))
}
