package observe

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

const metricsNamespace = "certs"

// StateCountsCacheFor is how long the certificate counts of one scrape
// serve the next ones: counting is one query over the certificates table,
// so a scraper polling every few seconds costs one query this often.
const StateCountsCacheFor = 30 * time.Second

// Metrics are the plugin's Prometheus metrics, in a registry of its own
// (the plugin runs in its own process, and the global registry would mix
// in whatever a library registers). Counters move in memory only: a
// scrape costs no database round trip but for the cached counts.
type Metrics struct {
	registry *prometheus.Registry
	handler  http.Handler

	issued      *prometheus.CounterVec
	failed      *prometheus.CounterVec
	pending     *prometheus.CounterVec
	caDuration  *prometheus.HistogramVec
	caRequests  *prometheus.CounterVec
	revocations *prometheus.CounterVec
	decisions   *prometheus.CounterVec
	reminders   prometheus.Counter
}

// NewMetrics registers the metrics; counts, when not nil, gives the
// certificates by state for a gauge.
func NewMetrics(version string, counts func() (records.StateCounts, error), now func() time.Time) *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		issued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "certificates_issued_total",
			Help: "Certificates issued and recorded, by connector and profile.",
		}, []string{"connector", "profile"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "issuance_failures_total",
			Help: "Signing requests a CA refused or failed, by connector, profile and reason (denied, unavailable, rejected, misconfigured, unsupported, timeout, error).",
		}, []string{"connector", "profile", "reason"}),
		pending: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "issuance_pending_total",
			Help: "Signing requests the CA answered \"pending\" (held for its own approval), by connector and profile.",
		}, []string{"connector", "profile"}),
		caDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: metricsNamespace, Name: "ca_request_duration_seconds",
			Help: "Time a CA connector took to answer, by connector and operation (sign, poll, revoke, chain).",
			// 1 ms (the built-in CA) to about a minute (a remote CA timing out).
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 13),
		}, []string{"connector", "operation"}),
		caRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "ca_requests_total",
			Help: "CA connector calls by connector, operation and outcome (issued, pending, denied, ok, or the failure's kind).",
		}, []string{"connector", "operation", "outcome"}),
		revocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "revocations_total",
			Help: "Certificates revoked, by connector and reason.",
		}, []string{"connector", "reason"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "request_decisions_total",
			Help: "Certificate requests that were approved, denied, cancelled or expired, by profile and outcome.",
		}, []string{"profile", "outcome"}),
		reminders: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "expiry_reminders_sent_total",
			Help: "Expiry reminders handed to the owners' notifications.",
		}),
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: metricsNamespace, Name: "plugin_info",
		Help:        "The plugin's version, as a label; always 1.",
		ConstLabels: prometheus.Labels{"version": version},
	})
	info.Set(1)
	m.registry.MustRegister(m.issued, m.failed, m.pending, m.caDuration, m.caRequests, m.revocations, m.decisions, m.reminders, info,
		// The plugin is a process of its own: the server's metrics do not
		// show its memory, goroutines or CPU.
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if counts != nil {
		m.registry.MustRegister(&stateGauge{
			count: counts, now: now,
			desc: prometheus.NewDesc(metricsNamespace+"_certificates", "Certificates recorded, by state (issued and valid, expired, revoked); counted at most every 30 s.",
				[]string{"state"}, nil),
		})
	}
	m.handler = promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
	return m
}

// ServeHTTP answers a scrape in Prometheus's text format.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.handler.ServeHTTP(w, r)
}

// ReminderSent counts an expiry reminder handed to its owner's
// notifications.
func (m *Metrics) ReminderSent() { m.reminders.Inc() }

// stateGauge reports the certificates by state, from one count reused for
// StateCountsCacheFor.
type stateGauge struct {
	count func() (records.StateCounts, error)
	now   func() time.Time
	desc  *prometheus.Desc

	mu     sync.Mutex
	at     time.Time
	counts *records.StateCounts
}

func (g *stateGauge) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }

func (g *stateGauge) Collect(ch chan<- prometheus.Metric) {
	counts := g.current()
	if counts == nil {
		return
	}
	for state, n := range map[string]int{"issued": counts.Issued, "expired": counts.Expired, "revoked": counts.Revoked} {
		ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, float64(n), state)
	}
}

// current counts again when the last count is too old; of concurrent
// scrapes one counts and the others wait for it.
func (g *stateGauge) current() *records.StateCounts {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	if g.counts != nil && now.Sub(g.at) < StateCountsCacheFor {
		return g.counts
	}
	counts, err := g.count()
	if err != nil {
		// Keep the last count rather than a gap; try again next scrape.
		return g.counts
	}
	g.counts, g.at = &counts, now
	return g.counts
}

// Connector is a connector with its latency and outcomes counted, and its
// failed signings and revocations audited.
type Connector struct {
	connector.Connector
	metrics *Metrics
	audit   AuditLog
}

// ObserveConnector wraps conn; the optional interfaces the core looks for
// (the built-in CA signs its own CRLs and OCSP answers, and serves the
// chains it took over from) are found through Unwrap.
func (m *Metrics) ObserveConnector(conn connector.Connector, audit AuditLog) connector.Connector {
	return &Connector{Connector: conn, metrics: m, audit: audit}
}

// Unwrap is the connector observed.
func (o *Connector) Unwrap() connector.Connector { return o.Connector }

// observe counts one call of operation that started at start.
func (o *Connector) observe(operation string, start time.Time, outcome string) {
	name := o.Name()
	o.metrics.caDuration.WithLabelValues(name, operation).Observe(time.Since(start).Seconds())
	o.metrics.caRequests.WithLabelValues(name, operation, outcome).Inc()
}

func (o *Connector) Sign(ctx context.Context, req connector.SignRequest) (*connector.Result, error) {
	start := time.Now()
	result, err := o.Connector.Sign(ctx, req)
	outcome := callOutcome(result, err)
	o.observe("sign", start, outcome)
	switch outcome {
	case string(connector.StatusIssued):
	case string(connector.StatusPending):
		o.metrics.pending.WithLabelValues(o.Name(), req.Profile.Name).Inc()
	default:
		o.metrics.failed.WithLabelValues(o.Name(), req.Profile.Name, outcome).Inc()
		o.auditSignFailure(req, outcome, result, err)
	}
	return result, err
}

func (o *Connector) Poll(ctx context.Context, requestID string) (*connector.Result, error) {
	start := time.Now()
	result, err := o.Connector.Poll(ctx, requestID)
	o.observe("poll", start, callOutcome(result, err))
	return result, err
}

func (o *Connector) Revoke(ctx context.Context, req connector.RevokeRequest) error {
	start := time.Now()
	err := o.Connector.Revoke(ctx, req)
	outcome := callOutcome(nil, err)
	o.observe("revoke", start, outcome)
	if err != nil {
		// A revocation the CA refused is not recorded; one it could not
		// hear (unavailable) is, and is audited when recorded.
		rec := newAuditRecord(AuditRevokeCertificate, model.AuditStatusFail, "")
		rec.AddEventObjectType("certificate")
		rec.AddMeta("serial", req.Serial)
		rec.AddMeta("connector", o.Name())
		rec.AddMeta("reason", req.Reason)
		rec.AddMeta("outcome", outcome)
		rec.AddErrorDesc(safeConnectorMessage(err))
		o.audit.LogAuditRec(rec)
	}
	return err
}

func (o *Connector) Chain(ctx context.Context) ([]*x509.Certificate, error) {
	start := time.Now()
	chain, err := o.Connector.Chain(ctx)
	o.observe("chain", start, callOutcome(nil, err))
	return chain, err
}

// auditSignFailure records a signing the CA did not do, for the account
// its subject names.
func (o *Connector) auditSignFailure(req connector.SignRequest, outcome string, result *connector.Result, err error) {
	rec := newAuditRecord(AuditIssueCertificate, model.AuditStatusFail, subjectAccount(req.Subject))
	rec.AddEventObjectType("certificate")
	rec.AddMeta("profile", req.Profile.Name)
	rec.AddMeta("connector", o.Name())
	rec.AddMeta("common_name", req.Subject.CommonName)
	rec.AddMeta("outcome", outcome)
	if err != nil {
		rec.AddErrorDesc(safeConnectorMessage(err))
	} else if result != nil {
		rec.AddErrorDesc(result.Reason)
	}
	o.audit.LogAuditRec(rec)
}

// subjectAccount is the Mattermost account a subject's identity URI
// names, or "".
func subjectAccount(s connector.Subject) string {
	if id := enroll.PrincipalOf(s.URIs).MattermostUserID(); model.IsValidId(id) {
		return id
	}
	return ""
}

// callOutcome names a connector call's result for a label: the CA's
// status, "ok", or the failure's kind.
func callOutcome(result *connector.Result, err error) string {
	if err != nil {
		if ce := connector.AsError(err); ce != nil {
			return string(ce.Kind)
		}
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return "timeout"
		}
		return "error"
	}
	if result == nil {
		return "ok"
	}
	return string(result.Status)
}

// safeConnectorMessage is what a connector failure says that may be shown
// to users: a connector *Error's Message, never its cause (which may quote
// a CA's answer).
func safeConnectorMessage(err error) string {
	if ce := connector.AsError(err); ce != nil {
		return ce.Message
	}
	return "the CA connector failed"
}
