package observe

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/clientcerts/mattermost-plugin-certs/server/observe/metricstest"
	"github.com/mattermost/mattermost/server/public/model"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
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

// scrape asks m as the server's metrics listener does.
func scrape(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	return metricstest.Scrape(t, m.ServeHTTP)
}

// counterValue reads a counter's value.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, c.Write(&m))
	return m.GetCounter().GetValue()
}
