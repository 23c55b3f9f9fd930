package main

import (
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"
	"github.com/clientcerts/mattermost-plugin-certs/server/web/enrollment"
)

// The user API gives the enroll modal what it asks the user, and does in
// one call what a link's page does: renew, collect an approved request.

func TestAPIProfilesSayWhatTheModalAsks(t *testing.T) {
	env := newCatalogEnv(t)
	profiles := decodeJSON[[]enrollment.ProfileView](t, env.request(http.MethodGet, "/api/v1/profiles", "", "alice").Body.Bytes())
	require.Len(t, profiles, 2)
	vpn, smime := profiles[0], profiles[1]
	assert.True(t, vpn.ServerKey)
	assert.Equal(t, "ecdsa-p256", vpn.KeyTypes[0], "the server's own key type first")
	assert.Greater(t, len(vpn.KeyTypes), 1, "every supported type for a CSR")
	assert.Equal(t, "alice", vpn.Subject.CommonName)
	assert.Equal(t, []string{"alice@example.com"}, vpn.Subject.Emails)
	assert.Equal(t, "allowed", vpn.Email)
	assert.Equal(t, "compatible", vpn.PKCS12Format)
	assert.False(t, vpn.RequiresApproval)
	assert.Equal(t, []string{"rsa-2048"}, smime.KeyTypes)
	assert.Equal(t, "alice@example.com", smime.Subject.CommonName, "the profile names its holders by email")

	env = newApprovalEnv(t)
	profiles = decodeJSON[[]enrollment.ProfileView](t, env.request(http.MethodGet, "/api/v1/profiles", "", "alice").Body.Bytes())
	require.Len(t, profiles, 3)
	assert.True(t, profiles[1].RequiresApproval)
	assert.Empty(t, profiles[1].Approvers, "the system admins")
	assert.Equal(t, []string{"bob"}, profiles[2].Approvers)
}

func TestAPIRenewsInOneCall(t *testing.T) {
	env := newTestEnv(t)
	first := env.issueJSON(env.token("alice"))

	w := env.request(http.MethodPost, "/api/v1/enrollments", `{"renews": "`+first.Serial+`"}`, "alice", "Content-Type", "application/json")
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	second := decodeJSON[enrollment.IssuanceView](t, w.Body.Bytes())
	assert.NotEqual(t, first.Serial, second.Serial)
	assert.NotEmpty(t, second.PKCS12, "a new key, made by the server")
	assert.NotEmpty(t, second.Passphrase)

	csr := newCSR(t, "p256", "alice", []string{"alice@example.com"})
	body := `{"renews": "` + second.Serial + `", "csr": ` + jsonString(csr.pem()) + `}`
	w = env.request(http.MethodPost, "/api/v1/enrollments", body, "alice", "Content-Type", "application/json")
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	third := decodeJSON[enrollment.IssuanceView](t, w.Body.Bytes())
	assert.Empty(t, third.PKCS12, "the key is the CSR's")
	assert.Contains(t, third.CertificatePEM, "BEGIN CERTIFICATE")

	views := decodeJSON[[]web.CertificateView](t, env.request(http.MethodGet, "/api/v1/certificates", "", "alice").Body.Bytes())
	renews := map[string]string{}
	for _, v := range views {
		renews[v.Serial] = v.Renews
	}
	assert.Equal(t, first.Serial, renews[second.Serial])
	assert.Equal(t, second.Serial, renews[third.Serial])

	w = env.request(http.MethodPost, "/api/v1/enrollments", `{"renews": "`+third.Serial+`"}`, "bob", "Content-Type", "application/json")
	assert.Equal(t, http.StatusNotFound, w.Code, "not bob's: as if it did not exist")
	w = env.request(http.MethodPost, "/api/v1/enrollments", `{"renews": "not a serial!"}`, "alice", "Content-Type", "application/json")
	assert.Equal(t, http.StatusBadRequest, w.Code)
	w = env.request(http.MethodPost, "/api/v1/enrollments", `{"renews": "`+third.Serial+`", "csr": "garbage"}`, "alice", "Content-Type", "application/json")
	assert.Equal(t, http.StatusUnprocessableEntity, w.Code, w.Body.String())
	assert.Len(t, decodeJSON[[]web.CertificateView](t, env.request(http.MethodGet, "/api/v1/certificates", "", "alice").Body.Bytes()), 3,
		"a refused renewal issues nothing")
}

func TestAPICollectsAnApprovedRequest(t *testing.T) {
	env := newApprovalEnv(t)
	w := env.request(http.MethodPost, "/api/v1/enrollments", `{"profile": "secure"}`, "alice", "Content-Type", "application/json")
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	waiting := decodeJSON[enrollment.WaitingView](t, w.Body.Bytes())
	assert.Equal(t, string(records.RequestPending), waiting.State)

	collect := "/api/v1/requests/" + waiting.RequestID + "/collect"
	w = env.request(http.MethodPost, collect, "", "alice")
	assert.Equal(t, http.StatusConflict, w.Code, "not approved yet: %s", w.Body.String())

	env.run("carol", "/cert approve "+waiting.RequestID)
	w = env.request(http.MethodPost, collect, "", "bob")
	assert.Equal(t, http.StatusNotFound, w.Code, "not bob's")
	w = env.request(http.MethodGet, collect, "", "alice")
	assert.Contains(t, []int{http.StatusNotFound, http.StatusMethodNotAllowed}, w.Code, "a state change is a POST")

	w = env.request(http.MethodPost, collect, `{"format": "modern"}`, "alice", "Content-Type", "application/json")
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	issued := decodeJSON[enrollment.IssuanceView](t, w.Body.Bytes())
	assert.NotEmpty(t, issued.PKCS12)

	reqs := decodeJSON[[]enrollment.RequestView](t, env.request(http.MethodGet, "/api/v1/requests", "", "alice").Body.Bytes())
	require.Len(t, reqs, 1)
	assert.Equal(t, issued.Serial, reqs[0].Serial, "the request names the certificate it became")
	assert.Equal(t, string(records.RequestIssued), reqs[0].State)

	w = env.request(http.MethodPost, collect, "", "alice")
	assert.Equal(t, http.StatusConflict, w.Code, "collected once: %s", w.Body.String())
	assert.Contains(t, w.Body.String(), "This request is issued.")
}

// Collects racing for one approved request: one certificate, the others
// told the request is issued. The request's single pickup holds in the
// store (the link's marks), whichever door collects.
func TestAPICollectsRacingIssueOnce(t *testing.T) {
	env := newApprovalEnv(t)
	w := env.request(http.MethodPost, "/api/v1/enrollments", `{"profile": "secure"}`, "alice", "Content-Type", "application/json")
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	id := decodeJSON[enrollment.WaitingView](t, w.Body.Bytes()).RequestID
	env.run("carol", "/cert approve "+id)

	codes := make([]int, 10)
	var wg sync.WaitGroup
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = env.request(http.MethodPost, "/api/v1/requests/"+id+"/collect", "", "alice").Code
		}()
	}
	wg.Wait()
	issued := 0
	for _, code := range codes {
		if code == http.StatusCreated {
			issued++
		} else {
			assert.Equal(t, http.StatusConflict, code)
		}
	}
	assert.Equal(t, 1, issued, "codes %v", codes)
	assert.Len(t, decodeJSON[[]web.CertificateView](t, env.request(http.MethodGet, "/api/v1/certificates", "", "alice").Body.Bytes()), 1)
}

func TestAPICancelsAWaitingRequest(t *testing.T) {
	env := newApprovalEnv(t)
	w := env.request(http.MethodPost, "/api/v1/enrollments", `{"profile": "secure"}`, "alice", "Content-Type", "application/json")
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	id := decodeJSON[enrollment.WaitingView](t, w.Body.Bytes()).RequestID

	assert.Equal(t, http.StatusNotFound, env.request(http.MethodPost, "/api/v1/requests/"+id+"/cancel", "", "bob").Code)
	w = env.request(http.MethodPost, "/api/v1/requests/"+id+"/cancel", "", "alice")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, string(records.RequestCancelled), decodeJSON[enrollment.RequestView](t, w.Body.Bytes()).State)
	w = env.request(http.MethodPost, "/api/v1/requests/"+id+"/collect", "", "alice")
	assert.Equal(t, http.StatusConflict, w.Code)
	assert.Contains(t, w.Body.String(), "This request is cancelled.")
}
