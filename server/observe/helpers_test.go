package observe

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	promodel "github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

// fakeAudit keeps the records it is given, after they went through gob as
// over the plugin RPC: a meta value of a type gob does not know breaks the
// call. It is also the warning log.
type fakeAudit struct {
	t       *testing.T
	mu      sync.Mutex
	records []*model.AuditRecord
	warns   []string
}

func (a *fakeAudit) LogAuditRec(rec *model.AuditRecord) {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(rec); err != nil {
		a.t.Errorf("audit record %s does not cross the plugin RPC: %v", rec.EventName, err)
		return
	}
	var sent model.AuditRecord
	if err := gob.NewDecoder(&buf).Decode(&sent); err != nil {
		a.t.Errorf("audit record %s does not cross the plugin RPC: %v", rec.EventName, err)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.records = append(a.records, &sent)
}

func (a *fakeAudit) LogWarn(msg string, keyValuePairs ...any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.warns = append(a.warns, msg+" "+fmt.Sprintln(keyValuePairs...))
}

// of are the records of one event.
func (a *fakeAudit) of(event string) []*model.AuditRecord {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []*model.AuditRecord
	for _, rec := range a.records {
		if rec.EventName == event {
			out = append(out, rec)
		}
	}
	return out
}

// one is the one record of event.
func (a *fakeAudit) one(event string) *model.AuditRecord {
	a.t.Helper()
	recs := a.of(event)
	require.Len(a.t, recs, 1, "one %s record; all: %s", event, a.text())
	return recs[0]
}

// text is every record as text, to look for what must not be there.
func (a *fakeAudit) text() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var b strings.Builder
	for _, rec := range a.records {
		fmt.Fprintf(&b, "%+v\n", *rec)
	}
	return b.String()
}

// scrape asks m as the server's metrics listener does and parses the text
// format.
func scrape(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	w := httptest.NewRecorder()
	m.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	require.Equal(t, http.StatusOK, w.Code)
	require.Contains(t, w.Header().Get("Content-Type"), "text/plain")
	parser := expfmt.NewTextParser(promodel.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(w.Body.String()))
	require.NoError(t, err)
	return families
}

// sample is the value of the metric of family name whose labels include
// labels (name=value pairs), or -1 when there is none.
func sample(families map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	family, ok := families[name]
	if !ok {
		return -1
	}
next:
	for _, m := range family.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return -1
}

// counterValue reads a counter's value.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, c.Write(&m))
	return m.GetCounter().GetValue()
}
