package observe

import (
	"fmt"
	"sync"
	"testing"

	"github.com/clientcerts/mattermost-plugin-certs/server/observe/audittest"
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
	t testing.TB
	audittest.Log
	mu    sync.Mutex
	warns []string
}

func (a *fakeAudit) LogAuditRec(rec *model.AuditRecord) { a.Add(a.t, rec) }

func (a *fakeAudit) LogWarn(msg string, keyValuePairs ...any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.warns = append(a.warns, msg+" "+fmt.Sprintln(keyValuePairs...))
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
