//go:build e2e

package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestManyIssuancesForOneUser: 50 certificates issued for one user at once,
// through the real server's KV store (PostgreSQL compare-and-set), are all
// recorded and all listed: no index update is lost to a concurrent one.
func TestManyIssuancesForOneUser(t *testing.T) {
	requireBed(t)
	erin := newTestUser(t, "erin")
	const n = 50
	tokens := make([]string, n)
	for i := range tokens {
		_, tokens[i] = erin.linkViaAPI(t)
	}

	serials := make([]string, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, token := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			reply, err := doPluginRequest(http.MethodPost, "/issue", map[string][]string{"token": {token}}, "", "application/json")
			if err == nil && reply.status != http.StatusOK {
				err = &unexpectedReply{reply}
			}
			if err != nil {
				errs[i] = err
				return
			}
			var answer struct {
				Serial string `json:"serial"`
			}
			errs[i] = json.Unmarshal([]byte(reply.body), &answer)
			serials[i] = answer.Serial
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "issuance %d", i)
	}

	reply := pluginRequest(t, http.MethodGet, "/api/v1/certificates", nil, erin.Token(), "application/json")
	require.Equal(t, http.StatusOK, reply.status, reply.String())
	var listed []struct {
		Serial string `json:"serial"`
	}
	require.NoError(t, json.Unmarshal([]byte(reply.body), &listed))
	got := make([]string, 0, len(listed))
	for _, c := range listed {
		got = append(got, c.Serial)
	}
	require.ElementsMatch(t, serials, got, "every certificate is in the owner's list")
}

type unexpectedReply struct{ reply pluginReply }

func (e *unexpectedReply) Error() string { return "unexpected reply: " + e.reply.String() }

// TestRSABurstThroughTheServer: more RSA-4096 requests than the plugin's
// line for RSA keys holds arrive at once. Those beyond it are told the
// server is busy (503 with Retry-After) before their link is claimed, so a
// busy link works later; meanwhile another user's P-256 enrollment goes
// through and the server answers its ping. (How fast is measured by
// `make bench`, not asserted here.)
func TestRSABurstThroughTheServer(t *testing.T) {
	requireBed(t)
	catalog := `{"profiles": [{"name": "default"}, {"name": "rsa", "key_types": ["rsa-4096"]}]}`
	require.NoError(t, withPluginSettings(t, func(s map[string]any) { s["connectorsandprofiles"] = catalog }))
	ruth, sam := newTestUser(t, "ruth"), newTestUser(t, "sam")
	waitForProfiles(t, ruth, "default", "rsa")

	// The plugin admits five RSA-4096 keys per generator, one generator
	// per core but one: send more than that.
	n := 5*max(1, runtime.NumCPU()-1) + 10
	tokens := make([]string, n)
	for i := range tokens {
		reply := pluginJSON(t, "/api/v1/links", ruth.Token(), map[string]string{"profile": "rsa"})
		require.Equal(t, http.StatusCreated, reply.status, reply.String())
		var link struct {
			URL string `json:"url"`
		}
		require.NoError(t, json.Unmarshal([]byte(reply.body), &link))
		tokens[i] = tokenOf(t, link.URL)
	}

	replies := make([]pluginReply, n)
	errs := make([]error, n)
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i, token := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			replies[i], errs[i] = doPluginRequest(http.MethodPost, "/issue", url.Values{"token": {token}}, "", "application/json")
		}()
	}
	close(gate)
	// While the burst is served: another user's P-256 certificate, and a
	// ping.
	issued, _ := sam.issueJSON(t)
	require.NotEmpty(t, issued.serial)
	ping, err := http.Get(bed.mm.URL + "/api/v4/system/ping")
	require.NoError(t, err)
	ping.Body.Close()
	require.Equal(t, http.StatusOK, ping.StatusCode)
	wg.Wait()

	var ok, busy []string
	for i, reply := range replies {
		require.NoError(t, errs[i])
		switch reply.status {
		case http.StatusOK:
			ok = append(ok, tokens[i])
		case http.StatusServiceUnavailable:
			require.NotEmpty(t, reply.header.Get("Retry-After"), reply.String())
			require.Contains(t, reply.body, "busy", reply.String())
			busy = append(busy, tokens[i])
		default:
			t.Fatalf("request %d: %s", i, reply)
		}
	}
	require.NotEmpty(t, ok, "the line admits some")
	require.NotEmpty(t, busy, "and turns the rest away")
	again := submitIssue(t, busy[0], "", "application/json")
	require.Equal(t, http.StatusOK, again.status, "a link turned away as busy still works: %s", again)
}
