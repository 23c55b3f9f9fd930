package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/observe"
	"github.com/clientcerts/mattermost-plugin-certs/server/observe/metricstest"
)

// scrape asks ServeMetrics as the server's metrics listener does.
func (env *testEnv) scrape() map[string]*dto.MetricFamily {
	env.t.Helper()
	return metricstest.Scrape(env.t, func(w http.ResponseWriter, r *http.Request) { env.p.ServeMetrics(nil, w, r) })
}

func TestServeMetricsCountsIssuancesAndRevocations(t *testing.T) {
	env := newTestEnv(t)
	before := env.scrape()
	assert.Equal(t, 1.0, metricstest.Sample(before, "certs_plugin_info", "version", manifest.Version))
	assert.Equal(t, 0.0, metricstest.Sample(before, "certs_certificates", "state", "issued"))
	assert.Equal(t, -1.0, metricstest.Sample(before, "certs_certificates_issued_total"), "no issuance yet")
	assert.NotNil(t, before["go_goroutines"], "the plugin process's own runtime")

	issued := env.issueJSON(env.token("alice"))
	env.issueJSON(env.token("bob"))
	after := env.scrape()
	assert.Equal(t, 2.0, metricstest.Sample(after, "certs_certificates_issued_total", "connector", "builtin", "profile", "default"))
	assert.Equal(t, 2.0, metricstest.Sample(after, "certs_ca_requests_total", "connector", "builtin", "operation", "sign", "outcome", "issued"))
	assert.Equal(t, 2.0, metricstest.Sample(after, "certs_ca_request_duration_seconds", "connector", "builtin", "operation", "sign"))
	assert.Equal(t, 0.0, metricstest.Sample(after, "certs_certificates", "state", "issued"), "the counts of the last scrape are reused for a while")

	env.advance(observe.StateCountsCacheFor)
	assert.Equal(t, 2.0, metricstest.Sample(env.scrape(), "certs_certificates", "state", "issued"))

	require.Contains(t, env.run("alice", "/cert revoke "+issued.Serial+" superseded"), "is now revoked")
	env.advance(observe.StateCountsCacheFor)
	revoked := env.scrape()
	assert.Equal(t, 1.0, metricstest.Sample(revoked, "certs_revocations_total", "connector", "builtin", "reason", "superseded"))
	assert.Equal(t, 1.0, metricstest.Sample(revoked, "certs_certificates", "state", "revoked"))
	assert.Equal(t, 1.0, metricstest.Sample(revoked, "certs_certificates", "state", "issued"))
}

func TestFailedAndPendingSigningsAreCountedAndFailuresAudited(t *testing.T) {
	env := newTestEnv(t)
	healthy := mustServices(t, env)
	failing := &failingConnector{Connector: healthy.Core.Connectors["builtin"], kind: connector.KindUnavailable}
	env.p.current.Store(withConnector(healthy, "builtin", env.p.metrics.ObserveConnector(failing, env.p.API)))

	token := env.token("alice")
	w := env.request(http.MethodPost, "/issue", form(token), "")
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	families := env.scrape()
	assert.Equal(t, 1.0, metricstest.Sample(families, "certs_issuance_failures_total", "connector", "builtin", "profile", "default", "reason", "unavailable"))
	assert.Equal(t, 1.0, metricstest.Sample(families, "certs_ca_requests_total", "operation", "sign", "outcome", "unavailable"))

	rec := requireOneAudit(t, env, observe.AuditIssueCertificate)
	assert.Equal(t, model.AuditStatusFail, rec.Status)
	assert.Equal(t, env.user("alice").Id, rec.Actor.UserId, "the subject's identity URI names the account")
	assert.Equal(t, "unavailable", rec.Meta["outcome"])
	assert.Equal(t, "connection refused", rec.Error.Description)

	holding := &holdingConnector{Connector: healthy.Core.Connectors["builtin"], held: map[string]connector.SignRequest{}}
	env.p.current.Store(withConnector(healthy, "builtin", env.p.metrics.ObserveConnector(holding, env.p.API)))
	w = env.request(http.MethodPost, "/issue", form(env.token("alice")), "")
	require.Equal(t, http.StatusAccepted, w.Code, "held by the CA")
	assert.Equal(t, 1.0, metricstest.Sample(env.scrape(), "certs_issuance_pending_total", "connector", "builtin", "profile", "default"))
	held := requireOneAudit(t, env, observe.AuditRequestHeldByCA)
	assert.Equal(t, env.user("alice").Id, held.Actor.UserId)
}

func TestObservedBuiltinStillSignsCRLsAndOCSP(t *testing.T) {
	env := newTestEnv(t)
	conn := mustServices(t, env).Core.Connectors["builtin"]
	_, signsCRL := connector.Capability[connector.CRLSigner](conn)
	_, signsOCSP := connector.Capability[connector.OCSPSigner](conn)
	_, trusts := connector.Capability[connector.TrustChainer](conn)
	assert.True(t, signsCRL && signsOCSP && trusts, "the optional interfaces are found through the wrapper")
	_, isObserved := conn.(*observe.Connector)
	assert.True(t, isObserved)
}

func TestRemindersAreCounted(t *testing.T) {
	env := newTestEnv(t)
	issued := env.issueJSON(env.token("alice"))
	env.advance(issued.NotAfter.Sub(env.now()) - 6*24*time.Hour)
	env.p.runRequestJob()
	assert.Equal(t, 1.0, metricstest.Sample(env.scrape(), "certs_expiry_reminders_sent_total"))
}
