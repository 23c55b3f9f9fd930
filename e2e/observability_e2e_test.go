//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/lib/pq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// auditLine is one record of the server's audit file.
type auditLine struct {
	EventName string         `json:"event_name"`
	Status    string         `json:"status"`
	Actor     map[string]any `json:"actor"`
	Meta      map[string]any `json:"meta"`
	Event     map[string]any `json:"event"`
}

// auditRecords reads the server's audit file: all of it as text, and the
// plugin's records.
func auditRecords(t *testing.T) (string, []auditLine) {
	t.Helper()
	data, err := os.ReadFile(bed.auditFile)
	if os.IsNotExist(err) {
		return "", nil
	}
	require.NoError(t, err)
	var out []auditLine
	scanner := bufio.NewScanner(bytes.NewReader(data))
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	for scanner.Scan() {
		var line auditLine
		if json.Unmarshal(scanner.Bytes(), &line) == nil && strings.HasPrefix(line.EventName, "certs") {
			out = append(out, line)
		}
	}
	return string(data), out
}

// waitForAudit waits until the audit file has a record of event whose
// meta key has value: the server writes its audit queue asynchronously.
func waitForAudit(t *testing.T, event, key, value string) auditLine {
	t.Helper()
	var found auditLine
	require.Eventually(t, func() bool {
		_, lines := auditRecords(t)
		for _, l := range lines {
			if l.EventName == event && l.Meta[key] == value {
				found = l
				return true
			}
		}
		return false
	}, 30*time.Second, 200*time.Millisecond, "no %s record with %s=%s in %s", event, key, value, bed.auditFile)
	return found
}

// scrapePluginMetrics reads /plugins/certs/metrics on the server's metrics
// listener.
func scrapePluginMetrics(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, bed.metricsURL+"/plugins/"+pluginID+"/metrics", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err, "the metrics listener runs without a licence")
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	return string(body)
}

// metricValue is the value of the first line of the text format that
// starts with series (name and labels as the server writes them), or "".
func metricValue(text, series string) string {
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			return strings.TrimSpace(rest)
		}
	}
	return ""
}

// TestAuditAndMetricsThroughTheServer: an issuance and a revocation through
// the real server land in its audit file (ExperimentalAuditSettings, no
// licence needed) with the serial, the actor and the reason, and no
// passphrase, key or link token anywhere in the file; a settings change
// is audited and written to certs_events by name only; the metrics
// listener serves the plugin's counters.
func TestAuditAndMetricsThroughTheServer(t *testing.T) {
	requireBed(t)
	require.NoError(t, withPluginSettings(t, func(s map[string]any) { s["connectorsandprofiles"] = "" }))
	nina := newTestUser(t, "nina")

	_, token := nina.linkViaAPI(t)
	issued, _ := nina.redeemJSON(t, token)
	reply := pluginJSON(t, "/api/v1/certificates/"+issued.serial+"/revoke", nina.Token(), map[string]string{"reason": "superseded"})
	require.Equal(t, http.StatusOK, reply.status, reply.String())

	issue := waitForAudit(t, "certsIssueCertificate", "serial", issued.serial)
	assert.Equal(t, "success", issue.Status)
	assert.Equal(t, nina.User.Id, issue.Actor["user_id"])
	assert.Equal(t, "builtin", issue.Meta["connector"])
	params, _ := issue.Event["parameters"].(map[string]any)
	assert.Equal(t, pluginID, params["plugin_id"], "the server names the plugin that wrote the record")

	revoke := waitForAudit(t, "certsRevokeCertificate", "serial", issued.serial)
	assert.Equal(t, "success", revoke.Status)
	assert.Equal(t, nina.User.Id, revoke.Actor["user_id"])
	assert.Equal(t, "superseded", revoke.Meta["reason"])

	// A settings change: the catalog gains a profile.
	require.NoError(t, withPluginSettings(t, func(s map[string]any) {
		s["connectorsandprofiles"] = `{"profiles": [{"name": "default"}, {"name": "audited-vpn"}]}`
	}))
	require.Eventually(t, func() bool {
		_, lines := auditRecords(t)
		for _, l := range lines {
			if profiles, ok := l.Meta["profiles"].(map[string]any); ok && l.EventName == "certsUpdateSettings" {
				if added, _ := profiles["added"].([]any); len(added) == 1 && added[0] == "audited-vpn" {
					return true
				}
			}
		}
		return false
	}, 30*time.Second, 200*time.Millisecond, "no certsUpdateSettings record naming the added profile")
	db, err := sql.Open("postgres", bed.pg.DSN())
	require.NoError(t, err)
	defer db.Close()
	var detail string
	require.NoError(t, db.QueryRow(`SELECT detail::text FROM certs_events WHERE kind = 'settings.changed'
		AND detail->'profiles'->'added' ? 'audited-vpn' ORDER BY id DESC LIMIT 1`).Scan(&detail))
	assert.Contains(t, detail, "audited-vpn")

	text, _ := auditRecords(t)
	require.NotEmpty(t, issued.passphrase)
	assert.NotContains(t, text, issued.passphrase, "no passphrase in the audit file")
	assert.NotContains(t, text, token, "no link token in the audit file")
	assert.NotContains(t, text, "PRIVATE KEY")
	assert.NotContains(t, text, "/issue?token=")

	metrics := scrapePluginMetrics(t)
	assert.Contains(t, metrics, `certs_plugin_info{version="`)
	issuedCount := metricValue(metrics, `certs_certificates_issued_total{connector="builtin",profile="default"}`)
	assert.NotEmpty(t, issuedCount, "the issuance is counted:\n%s", metrics)
	assert.NotEqual(t, "0", issuedCount)
	assert.NotEmpty(t, metricValue(metrics, `certs_revocations_total{connector="builtin",reason="superseded"}`), metrics)
	assert.NotEmpty(t, metricValue(metrics, `certs_ca_request_duration_seconds_count{connector="builtin",operation="sign"}`), metrics)
}

// TestSupportPacketNeedsALicence: the server refuses a Support Packet
// without a licence, before it asks any plugin: GenerateSupportData is
// tested in the unit tests only (server/supportpacket_test.go).
func TestSupportPacketNeedsALicence(t *testing.T) {
	requireBed(t)
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, bed.mm.URL+"/api/v4/system/support_packet", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+bed.admin.Client.AuthToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, string(body))
	assert.Contains(t, string(body), "api.no_license")
}
