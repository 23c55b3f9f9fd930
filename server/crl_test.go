package main

import (
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"net/http"
	"testing"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/web"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ocsp"
)

// crlOf fetches and checks the built-in CA's CRL.
func (env *testEnv) crlOf(t *testing.T) *x509.RevocationList {
	t.Helper()
	w := env.request(http.MethodGet, "/crl/builtin.crl", "", "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, "application/pkix-crl", w.Header().Get("Content-Type"))
	crl, err := x509.ParseRevocationList(w.Body.Bytes())
	require.NoError(t, err)
	issuing := mustServices(t, env)
	chain, err := issuing.Core.Connectors["builtin"].Chain(t.Context())
	require.NoError(t, err)
	require.NoError(t, crl.CheckSignatureFrom(chain[0]), "signed by the issuing CA")
	return crl
}

func serialIn(crl *x509.RevocationList, serial string) (x509.RevocationListEntry, bool) {
	want, _ := new(big.Int).SetString(serial, 16)
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(want) == 0 {
			return e, true
		}
	}
	return x509.RevocationListEntry{}, false
}

func TestBuiltinCRLNamesRevokedCertificatesWithTheirReasons(t *testing.T) {
	env := newTestEnv(t)
	kept := env.issueJSON(env.token("alice"))
	lost := env.issueJSON(env.token("alice"))
	leaf := leafOf(t, kept)
	assert.Equal(t, []string{testSiteURL + "/plugins/certs/crl/builtin.crl"}, leaf.CRLDistributionPoints, "certificates say where the CRL is")

	first := env.crlOf(t)
	assert.Empty(t, first.RevokedCertificateEntries)
	assert.Equal(t, int64(1), first.Number.Int64())

	assert.Contains(t, env.run("alice", "/cert revoke "+lost.Serial+" keyCompromise"), "is now revoked")
	crl := env.crlOf(t)
	assert.Equal(t, int64(2), crl.Number.Int64(), "a revocation signs a new list, numbered after the last")
	entry, listed := serialIn(crl, lost.Serial)
	require.True(t, listed)
	assert.Equal(t, 1, entry.ReasonCode, "keyCompromise")
	_, listed = serialIn(crl, kept.Serial)
	assert.False(t, listed)
	assert.True(t, crl.NextUpdate.After(env.now().Add(6*24*time.Hour)))

	w := env.request(http.MethodGet, "/crl/builtin.pem", "", "")
	require.Equal(t, http.StatusOK, w.Code)
	block, _ := pem.Decode(w.Body.Bytes())
	require.NotNil(t, block)
	assert.Equal(t, "X509 CRL", block.Type)

	// A quiet week: the job signs a fresh list well before the old one's
	// next update.
	env.advance(4 * 24 * time.Hour)
	env.p.runRequestJob()
	refreshed := env.crlOf(t)
	assert.Equal(t, int64(3), refreshed.Number.Int64())
	_, listed = serialIn(refreshed, lost.Serial)
	assert.True(t, listed, "still listed until it expires")

	assert.Contains(t, env.run("alice", "/cert revoke "+kept.Serial+" nonsense"), "is not a revocation reason")
	assert.Equal(t, http.StatusNotFound, env.request(http.MethodGet, "/crl/nosuch.crl", "", "").Code)
}

// A certificate our CA signed is on our list once revoked, whoever
// registered it; registering it does not make OCSP vouch for it, and the
// reply claims no more than happened.
func TestRegisteredCertificateRevokedByItsHolderIsOnTheCRL(t *testing.T) {
	env := newTestEnv(t)
	loaded, err := env.p.caKeeper.Load(env.p.getConfiguration())
	require.NoError(t, err)
	other, err := loaded.Current.CA.Sign(newCSR(t, "p256", "alice", nil).key.Public(), pkiLeaf(env))
	require.NoError(t, err)
	assert.Equal(t, ocsp.Unknown, env.askOCSP(t, other, other.SerialNumber).Status, "never recorded")

	w := env.request(http.MethodPost, "/api/v1/certificates/import", `{"certificate": `+jsonString(string(pemOf(other)))+`}`, "alice", "Content-Type", "application/json")
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	serial := decodeJSON[web.CertificateView](t, w.Body.Bytes()).Serial
	assert.Equal(t, ocsp.Unknown, env.askOCSP(t, other, other.SerialNumber).Status, "registered by its holder: nobody vouched for it")

	reply := env.run("alice", "/cert revoke "+serial)
	assert.Contains(t, reply, "is now revoked")
	assert.NotContains(t, reply, "only this plugin's record changed")
	_, listed := serialIn(env.crlOf(t), serial)
	assert.True(t, listed, "our CA signed it: our list names it")
	assert.Equal(t, ocsp.Revoked, env.askOCSP(t, other, other.SerialNumber).Status)
}

// An admin may have certificates name their CRL and OCSP responder under a
// base of their own, plain HTTP for the clients that fetch nothing else.
func TestRevocationURLsUnderTheAdminsBase(t *testing.T) {
	env := newTestEnv(t)
	c := env.p.getConfiguration().Clone()
	c.RevocationBaseURL = "http://pki.example.com/"
	env.configure(c)
	leaf := leafOf(t, env.issueJSON(env.token("alice")))
	assert.Equal(t, []string{"http://pki.example.com/plugins/certs/crl/builtin.crl"}, leaf.CRLDistributionPoints)
	assert.Equal(t, []string{"http://pki.example.com/plugins/certs/ocsp"}, leaf.OCSPServer)
}

// The list is served from its stored bytes, with its number as ETag: a
// client that asks again with it gets a 304 until a revocation signs a new
// one. Caches must ask again before each use.
func TestCRLIsRevalidatedByItsETag(t *testing.T) {
	env := newTestEnv(t)
	first := env.request(http.MethodGet, "/crl/builtin.crl", "", "")
	require.Equal(t, http.StatusOK, first.Code)
	etag := first.Header().Get("ETag")
	require.NotEmpty(t, etag)
	assert.Equal(t, "public, no-cache", first.Header().Get("Cache-Control"))
	pemReply := env.request(http.MethodGet, "/crl/builtin.pem", "", "")
	assert.NotEqual(t, etag, pemReply.Header().Get("ETag"), "another representation, another tag")

	again := env.request(http.MethodGet, "/crl/builtin.crl", "", "", "If-None-Match", etag)
	assert.Equal(t, http.StatusNotModified, again.Code)
	assert.Empty(t, again.Body.Bytes())
	assert.Equal(t, http.StatusOK, env.request(http.MethodGet, "/crl/builtin.crl", "", "", "If-None-Match", `"other"`).Code)

	serial := env.issueJSON(env.token("alice")).Serial
	assert.Contains(t, env.run("alice", "/cert revoke "+serial), "is now revoked")
	changed := env.request(http.MethodGet, "/crl/builtin.crl", "", "", "If-None-Match", etag)
	require.Equal(t, http.StatusOK, changed.Code, "a revocation made a new list")
	assert.NotEqual(t, etag, changed.Header().Get("ETag"))
}
