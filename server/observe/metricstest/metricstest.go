// Package metricstest reads the plugin's metrics as the server's metrics
// listener serves them, for tests.
package metricstest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	promodel "github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

// Scrape asks serve as the server's metrics listener does and parses the
// text format.
func Scrape(t testing.TB, serve http.HandlerFunc) map[string]*dto.MetricFamily {
	t.Helper()
	w := httptest.NewRecorder()
	serve(w, httptest.NewRequest(http.MethodGet, "/", nil))
	require.Equal(t, http.StatusOK, w.Code)
	require.Contains(t, w.Header().Get("Content-Type"), "text/plain")
	parser := expfmt.NewTextParser(promodel.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(w.Body.String()))
	require.NoError(t, err)
	return families
}

// Sample is the value of the metric of family name whose labels include
// labels (name=value pairs), or -1 when there is none.
func Sample(families map[string]*dto.MetricFamily, name string, labels ...string) float64 {
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
