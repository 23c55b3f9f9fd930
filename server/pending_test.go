package main

import (
	"context"
	"crypto"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

// holdingConnector is a CA that needs its own approval (as AD CS can): it
// answers "pending", then issues or denies when the test says so.
type holdingConnector struct {
	connector.Connector // the built-in CA signs once "approved"

	mu       sync.Mutex
	held     map[string]connector.SignRequest
	decision connector.Status
	polls    int
}

func (h *holdingConnector) Sign(_ context.Context, req connector.SignRequest) (*connector.Result, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	id := fmt.Sprintf("ca-%d", len(h.held)+1)
	h.held[id] = req
	return &connector.Result{Status: connector.StatusPending, RequestID: id}, nil
}

func (h *holdingConnector) Poll(ctx context.Context, id string) (*connector.Result, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.polls++
	switch h.decision {
	case connector.StatusIssued:
		return h.Connector.Sign(ctx, h.held[id])
	case connector.StatusDenied:
		return &connector.Result{Status: connector.StatusDenied, Reason: "template not allowed"}, nil
	}
	return &connector.Result{Status: connector.StatusPending, RequestID: id}, nil
}

func (h *holdingConnector) decide(s connector.Status) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.decision = s
}

func withHoldingCA(t *testing.T, env *testEnv) *holdingConnector {
	t.Helper()
	healthy, err := env.p.current.Get()
	require.NoError(t, err)
	holding := &holdingConnector{Connector: healthy.Core.Connectors["builtin"], held: map[string]connector.SignRequest{}}
	env.p.current.Store(withConnector(healthy, "builtin", holding))
	return holding
}

func TestCAPendingRequestIsPolledAndCollected(t *testing.T) {
	env := newTestEnv(t)
	ca := withHoldingCA(t, env)
	token := env.token("alice")

	w := env.request(http.MethodPost, "/issue", form(token), "", "Accept", "application/json")
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	answer := decodeJSON[map[string]any](t, w.Body.Bytes())
	id, _ := answer["request_id"].(string)
	require.NotEmpty(t, id)
	assert.Equal(t, "waiting_ca", answer["state"])
	assert.Equal(t, http.StatusConflict, env.request(http.MethodPost, "/issue", form(token), "").Code, "the link is used")

	req := env.request_(id)
	require.NotNil(t, req.PendingKey, "the server-generated key waits, sealed")
	_, parseErr := parsePKCS8(req.PendingKey.Sealed)
	assert.Error(t, parseErr, "sealed, not in clear")
	dms := env.dmsTo("alice")
	assert.Contains(t, dms[len(dms)-1].Message, "must approve your request `"+id+"`")

	// The job waits for the first poll time, then backs off while pending.
	env.p.runRequestJob()
	assert.Equal(t, 0, ca.polls)
	env.advance(61 * time.Second)
	env.p.runRequestJob()
	assert.Equal(t, 1, ca.polls)
	env.p.runRequestJob()
	assert.Equal(t, 1, ca.polls, "backoff: not asked again at once")
	assert.Equal(t, 1, env.request_(id).Polls)

	ca.decide(connector.StatusIssued)
	env.advance(3 * time.Minute)
	env.p.runRequestJob()
	req = env.request_(id)
	assert.Equal(t, records.RequestApproved, req.State)
	require.NotEmpty(t, req.CertificateDER)

	dms = env.dmsTo("alice")
	m := pickupPattern.FindStringSubmatch(dms[len(dms)-1].Message)
	require.Len(t, m, 3, dms[len(dms)-1].Message)
	resp := env.issueJSON(m[2])
	der := resp.PKCS12
	key, leaf, _, err := pkcs12.DecodeChain(der, resp.Passphrase)
	require.NoError(t, err)
	assert.True(t, pki.PublicKeysEqual(leaf.PublicKey, key.(crypto.Signer).Public()), "the held key belongs to the certificate")
	assert.Equal(t, req.CertificateDER, leaf.Raw)

	req = env.request_(id)
	assert.Equal(t, records.RequestIssued, req.State)
	assert.Nil(t, req.PendingKey, "the key is dropped once collected")
	assert.Equal(t, resp.Serial, req.Serial)
}

func TestCADenialIsReported(t *testing.T) {
	env := newTestEnv(t)
	ca := withHoldingCA(t, env)
	w := env.request(http.MethodPost, "/issue", form(env.token("alice")), "")
	require.Equal(t, http.StatusAccepted, w.Code)
	assert.Contains(t, w.Body.String(), "Waiting for the certificate authority")
	open, err := env.p.store.ListOpenRequests()
	require.NoError(t, err)
	require.Len(t, open, 1)

	ca.decide(connector.StatusDenied)
	env.advance(2 * time.Minute)
	env.p.runRequestJob()
	req := env.request_(open[0].ID)
	assert.Equal(t, records.RequestDenied, req.State)
	assert.Nil(t, req.PendingKey)
	dms := env.dmsTo("alice")
	assert.Contains(t, dms[len(dms)-1].Message, "refused your request `"+req.ID+"`: template not allowed")
}
