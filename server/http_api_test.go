package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"
	"github.com/clientcerts/mattermost-plugin-certs/server/web/enrollment"
)

func decodeJSON[T any](t testing.TB, body []byte) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(body, &v), string(body))
	return v
}

func TestAPIRequiresASignedInUser(t *testing.T) {
	env := newTestEnv(t)
	for _, tc := range []struct{ method, path string }{
		{http.MethodPost, "/api/v1/links"},
		{http.MethodGet, "/api/v1/certificates"},
		{http.MethodPost, "/api/v1/certificates/1234/revoke"},
		{http.MethodGet, "/api/v1/autocomplete/serials"},
	} {
		w := env.request(tc.method, tc.path, "", "")
		assert.Equal(t, http.StatusUnauthorized, w.Code, tc.path)
		assert.Equal(t, "application/json", w.Header().Get("Content-Type"))
		assert.Contains(t, w.Body.String(), "not signed in")
	}
}

func TestAPICreateLink(t *testing.T) {
	env := newTestEnv(t)
	w := env.request(http.MethodPost, "/api/v1/links", "", "alice")
	require.Equal(t, http.StatusCreated, w.Code)
	resp := decodeJSON[enrollment.LinkView](t, w.Body.Bytes())
	assert.Regexp(t, linkPattern, resp.URL)
	assert.WithinDuration(t, env.now().Add(5*60e9), resp.ExpiresAt, 2e9)
}

func TestAPIListRevokeAndAutocomplete(t *testing.T) {
	env := newTestEnv(t)
	first := env.issueJSON(env.token("alice")).Serial
	second := env.issueJSON(env.token("alice")).Serial

	list := decodeJSON[[]web.CertificateView](t, env.request(http.MethodGet, "/api/v1/certificates", "", "alice").Body.Bytes())
	require.Len(t, list, 2)
	assert.Equal(t, first, list[0].Serial)
	assert.Equal(t, "issued", list[0].State)
	certs, err := pki.ParseCertificatesPEM([]byte(list[0].CertificatePEM))
	require.NoError(t, err)
	assert.Equal(t, first, pki.FormatSerial(certs[0].SerialNumber))
	assert.Equal(t, pki.Fingerprint(certs[0]), list[0].Fingerprint)

	assert.Empty(t, decodeJSON[[]web.CertificateView](t, env.request(http.MethodGet, "/api/v1/certificates", "", "bob").Body.Bytes()))

	items := decodeJSON[[]model.AutocompleteListItem](t, env.request(http.MethodGet, "/api/v1/autocomplete/serials?user_input=x", "", "alice").Body.Bytes())
	require.Len(t, items, 2)
	assert.Equal(t, second, items[0].Item, "newest first")

	w := env.request(http.MethodPost, "/api/v1/certificates/"+first+"/revoke", "", "bob")
	assert.Equal(t, http.StatusNotFound, w.Code)
	w = env.request(http.MethodPost, "/api/v1/certificates/not-hex/revoke", "", "alice")
	assert.Equal(t, http.StatusBadRequest, w.Code)
	w = env.request(http.MethodPost, "/api/v1/certificates/"+strings.ToUpper(first)+"/revoke", "", "alice")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	answer := decodeJSON[enrollment.RevocationView](t, w.Body.Bytes())
	assert.Equal(t, "revoked", answer.State)
	assert.Equal(t, "ca", answer.Reach, "on the built-in CA's list")
	w = env.request(http.MethodPost, "/api/v1/certificates/"+first+"/revoke", "", "alice")
	assert.Equal(t, http.StatusConflict, w.Code)

	items = decodeJSON[[]model.AutocompleteListItem](t, env.request(http.MethodGet, "/api/v1/autocomplete/serials", "", "alice").Body.Bytes())
	require.Len(t, items, 1, "revoked certificates are not offered")
	assert.Equal(t, second, items[0].Item)
}

func TestCAPEMServesTheChain(t *testing.T) {
	env := newTestEnv(t)
	w := env.request(http.MethodGet, "/ca.pem", "", "")
	require.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "application/x-pem-file", w.Header().Get("Content-Type"))
	chain, err := pki.ParseCertificatesPEM(w.Body.Bytes())
	require.NoError(t, err)
	require.Len(t, chain, 2)
	assert.Equal(t, "Client Certificates Issuing CA", chain[0].Subject.CommonName)
	assert.Equal(t, "Client Certificates Root CA", chain[1].Subject.CommonName)
	assert.Equal(t, []string{"Example"}, chain[1].Subject.Organization)
	require.NoError(t, chain[0].CheckSignatureFrom(chain[1]))
}

func TestUnknownRoutesAndMethods(t *testing.T) {
	env := newTestEnv(t)
	assert.Equal(t, http.StatusNotFound, env.request(http.MethodGet, "/nope", "", "").Code)
	assert.Equal(t, http.StatusMethodNotAllowed, env.request(http.MethodDelete, "/issue", "", "").Code)
	assert.Equal(t, http.StatusMethodNotAllowed, env.request(http.MethodPost, "/ca.pem", "", "").Code)
}

func TestPanicsBecome500(t *testing.T) {
	env := newTestEnv(t)
	env.p.router.HandleFunc("/panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	w := env.request(http.MethodGet, "/panic", "", "")
	assert.Equal(t, http.StatusInternalServerError, w.Code)
	assert.NotContains(t, w.Body.String(), "boom")
	assert.Contains(t, strings.Join(env.loggedErrors(), "\n"), "Recovered from a panic")
}
