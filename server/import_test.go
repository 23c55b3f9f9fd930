package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"html"
	"math/big"
	"net/http"
	"testing"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
)

// outsideCertificate is a client certificate from a CA the plugin does not
// manage, for the given names and lifetime.
func outsideCertificate(t *testing.T, commonName, email string, notAfter time.Time) []byte {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 100))
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: commonName},
		NotBefore: notAfter.Add(-365 * 24 * time.Hour), NotAfter: notAfter,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if email != "" {
		tmpl.EmailAddresses = []string{email}
	}
	issuer := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Old Corp CA"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), caKey)
	require.NoError(t, err)
	return der
}

func (env *testEnv) importJSON(asUser string, body map[string]any) (int, web.CertificateView, string) {
	env.t.Helper()
	data, err := json.Marshal(body)
	require.NoError(env.t, err)
	w := env.request(http.MethodPost, "/api/v1/certificates/import", string(data), asUser, "Content-Type", "application/json")
	var view web.CertificateView
	var failure struct {
		Error string `json:"error"`
	}
	if w.Code == http.StatusCreated {
		require.NoError(env.t, json.Unmarshal(w.Body.Bytes(), &view))
	} else {
		require.NoError(env.t, json.Unmarshal(w.Body.Bytes(), &failure), w.Body.String())
	}
	return w.Code, view, failure.Error
}

func TestUsersRegisterTheirExistingCertificates(t *testing.T) {
	env := newTestEnv(t)
	der := outsideCertificate(t, "alice", "", time.Now().Add(90*24*time.Hour))
	code, view, _ := env.importJSON("alice", map[string]any{"certificate": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))})
	require.Equal(t, http.StatusCreated, code)
	assert.Equal(t, "imported", view.Origin)
	assert.Equal(t, "issued", view.State)

	certs, err := env.p.store.ListCertificates(records.MattermostUser(env.user("alice").Id))
	require.NoError(t, err)
	require.Len(t, certs, 1)
	assert.Equal(t, enroll.UnmanagedConnector, certs[0].Connector)

	code, _, msg := env.importJSON("alice", map[string]any{"certificate": base64.StdEncoding.EncodeToString(der)})
	assert.Equal(t, http.StatusUnprocessableEntity, code)
	assert.Contains(t, msg, "already registered")

	// Revoking it changes our records and says the outside CA must be told.
	reply := env.run("alice", "/cert revoke "+view.Serial)
	assert.Contains(t, reply, "is revoked in this plugin's records")
	assert.Contains(t, reply, "a CA this plugin does not manage")
}

func TestImportRefusals(t *testing.T) {
	env := newTestEnv(t)
	for name, tc := range map[string]struct {
		cert []byte
		want string
	}{
		"expired":      {outsideCertificate(t, "alice", "", time.Now().Add(-time.Hour)), "expired on"},
		"someone else": {outsideCertificate(t, "bob", "bob@example.com", time.Now().Add(time.Hour)), "not alice's"},
		"garbage":      {[]byte("nope"), "not a certificate"},
		"empty":        {nil, "empty"},
	} {
		t.Run(name, func(t *testing.T) {
			code, _, msg := env.importJSON("alice", map[string]any{"certificate": base64.StdEncoding.EncodeToString(tc.cert)})
			assert.Equal(t, http.StatusUnprocessableEntity, code)
			assert.Contains(t, msg, tc.want)
		})
	}
	byEmail := outsideCertificate(t, "Alice Smith", "ALICE@example.com", time.Now().Add(time.Hour))
	code, _, _ := env.importJSON("alice", map[string]any{"certificate": base64.StdEncoding.EncodeToString(byEmail)})
	assert.Equal(t, http.StatusCreated, code, "the account's email identifies it too")
}

func TestAdminsRegisterCertificatesForOthers(t *testing.T) {
	env := newApprovalEnv(t) // carol is a system admin
	fullName := outsideCertificate(t, "Alice Smith", "", time.Now().Add(time.Hour))
	encoded := base64.StdEncoding.EncodeToString(fullName)

	code, _, msg := env.importJSON("bob", map[string]any{"certificate": encoded, "owner": "alice"})
	assert.Equal(t, http.StatusForbidden, code)
	assert.Contains(t, msg, "Only system admins")
	code, _, msg = env.importJSON("carol", map[string]any{"certificate": encoded, "owner": "alice"})
	assert.Equal(t, http.StatusUnprocessableEntity, code)
	assert.Contains(t, msg, "not alice's")
	code, _, _ = env.importJSON("carol", map[string]any{"certificate": encoded, "owner": "@nobody"})
	assert.Equal(t, http.StatusNotFound, code)

	code, view, _ := env.importJSON("carol", map[string]any{"certificate": encoded, "owner": "alice", "any_names": true})
	require.Equal(t, http.StatusCreated, code)
	record, err := env.p.store.GetCertificate(view.Serial)
	require.NoError(t, err)
	assert.Equal(t, records.MattermostUser(env.user("alice").Id), record.Owner)
	dms := env.dmsTo("alice")
	assert.Contains(t, dms[len(dms)-1].Message, "@carol registered your certificate")
}

func TestImportAttributesOurOwnCAsCertificates(t *testing.T) {
	env := newTestEnv(t)
	issued := env.issueJSON(env.token("alice"))
	record, err := env.p.store.GetCertificate(issued.Serial)
	require.NoError(t, err)
	// The record is lost (say, restored from an old backup); the
	// certificate is registered again and attributed to the built-in CA.
	require.NoError(t, env.kv.Delete("cert:"+issued.Serial))
	code, view, _ := env.importJSON("alice", map[string]any{"certificate": base64.StdEncoding.EncodeToString(record.DER)})
	require.Equal(t, http.StatusCreated, code)
	assert.Equal(t, "builtin", view.Connector)
}

func TestImportPageNeedsASession(t *testing.T) {
	env := newTestEnv(t)
	assert.Equal(t, http.StatusUnauthorized, env.request(http.MethodGet, "/import", "", "").Code)
	page := env.request(http.MethodGet, "/import", "", "alice")
	require.Equal(t, http.StatusOK, page.Code)
	assert.Contains(t, page.Body.String(), "Register an existing certificate")
	assert.NotContains(t, page.Body.String(), "System admins")

	der := outsideCertificate(t, "alice", "", time.Now().Add(time.Hour))
	body, contentType := multipartBody(t, nil, map[string][]byte{"certificate_file": der})
	w := env.request(http.MethodPost, "/import", body, "alice", "Content-Type", contentType)
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	assert.Contains(t, w.Body.String(), `id="registered"`)
	w = env.request(http.MethodPost, "/import", body, "alice", "Content-Type", contentType)
	assert.Equal(t, http.StatusUnprocessableEntity, w.Code)
	assert.Contains(t, html.UnescapeString(w.Body.String()), "already registered")
	assert.Contains(t, env.run("alice", "/cert import"), "/plugins/certs/import")
}
