//go:build e2e

package e2e

import (
	"encoding/json"
	"net/http"
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
