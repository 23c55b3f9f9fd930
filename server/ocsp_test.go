package main

import (
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ocsp"
)

// askOCSP posts an OCSP request for serial of the built-in CA and reads
// the signed answer.
func (env *testEnv) askOCSP(t *testing.T, leaf *x509.Certificate, serial *big.Int) *ocsp.Response {
	t.Helper()
	chain, err := mustServices(t, env).Core.Connectors["builtin"].Chain(t.Context())
	require.NoError(t, err)
	issuing := chain[0]
	req := &ocsp.Request{HashAlgorithm: crypto.SHA1, SerialNumber: serial}
	if leaf != nil {
		der, err := ocsp.CreateRequest(leaf, issuing, nil)
		require.NoError(t, err)
		req, err = ocsp.ParseRequest(der)
		require.NoError(t, err)
	} else {
		template, err := ocsp.CreateRequest(&x509.Certificate{SerialNumber: big.NewInt(1)}, issuing, nil)
		require.NoError(t, err)
		parsed, err := ocsp.ParseRequest(template)
		require.NoError(t, err)
		parsed.SerialNumber = serial
		req = parsed
	}
	body, err := req.Marshal()
	require.NoError(t, err)
	w := env.request(http.MethodPost, "/ocsp", string(body), "", "Content-Type", "application/ocsp-request")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, "application/ocsp-response", w.Header().Get("Content-Type"))
	resp, err := ocsp.ParseResponse(w.Body.Bytes(), issuing)
	require.NoError(t, err, "signed by a responder the CA delegated")
	require.Equal(t, serial, resp.SerialNumber)
	return resp
}

func TestOCSPAnswersGoodRevokedAndUnknown(t *testing.T) {
	env := newTestEnv(t)
	issued := env.issueJSON(env.token("alice"))
	leaf := leafOf(t, issued)
	assert.Equal(t, []string{testSiteURL + "/plugins/certs/ocsp"}, leaf.OCSPServer, "certificates say where to ask")

	good := env.askOCSP(t, leaf, leaf.SerialNumber)
	assert.Equal(t, ocsp.Good, good.Status)
	require.NotNil(t, good.Certificate)
	assert.Contains(t, good.Certificate.ExtKeyUsage, x509.ExtKeyUsageOCSPSigning)
	assert.True(t, good.NextUpdate.After(good.ThisUpdate))

	assert.Contains(t, env.run("alice", "/cert revoke "+issued.Serial+" superseded"), "is now revoked")
	revoked := env.askOCSP(t, leaf, leaf.SerialNumber)
	assert.Equal(t, ocsp.Revoked, revoked.Status)
	assert.Equal(t, ocsp.Superseded, revoked.RevocationReason)

	unknown := env.askOCSP(t, nil, big.NewInt(0x5eed))
	assert.Equal(t, ocsp.Unknown, unknown.Status)

	// The same by GET, the request in base64 in the path.
	w := env.request(http.MethodGet, "/ocsp/"+base64.StdEncoding.EncodeToString(mustOCSPRequest(t, env, leaf)), "", "")
	require.Equal(t, http.StatusOK, w.Code)
	byGet, err := ocsp.ParseResponse(w.Body.Bytes(), nil)
	require.NoError(t, err)
	assert.Equal(t, ocsp.Revoked, byGet.Status)

	// Garbage is refused in the protocol's own words.
	w = env.request(http.MethodPost, "/ocsp", "not a request", "", "Content-Type", "application/ocsp-request")
	require.Equal(t, http.StatusOK, w.Code)
	_, err = ocsp.ParseResponse(w.Body.Bytes(), nil)
	var re ocsp.ResponseError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, ocsp.Malformed, re.Status)
}

func mustOCSPRequest(t *testing.T, env *testEnv, leaf *x509.Certificate) []byte {
	t.Helper()
	chain, err := mustServices(t, env).Core.Connectors["builtin"].Chain(t.Context())
	require.NoError(t, err)
	der, err := ocsp.CreateRequest(leaf, chain[0], nil)
	require.NoError(t, err)
	return der
}

// A GET request's base64 may hold "//" (or end in "/"): the router must
// pass it on as it is, not clean the path and redirect.
func TestOCSPGetWithSlashesInItsBase64(t *testing.T) {
	env := newTestEnv(t)
	chain, err := mustServices(t, env).Core.Connectors["builtin"].Chain(t.Context())
	require.NoError(t, err)
	var encoded string
	for i := int64(1); encoded == "" && i < 100000; i++ {
		der, err := ocsp.CreateRequest(&x509.Certificate{SerialNumber: big.NewInt(i)}, chain[0], nil)
		require.NoError(t, err)
		if e := base64.StdEncoding.EncodeToString(der); strings.Contains(e, "//") {
			encoded = e
		}
	}
	require.NotEmpty(t, encoded, "no request of the search has // in its base64")
	w := env.request(http.MethodGet, "/ocsp/"+encoded, "", "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	resp, err := ocsp.ParseResponse(w.Body.Bytes(), nil)
	require.NoError(t, err)
	assert.Equal(t, ocsp.Unknown, resp.Status)
}

// A settings save builds new connectors; the node signs on with the
// responder it has instead of making another.
func TestOCSPResponderSurvivesASettingsSave(t *testing.T) {
	env := newTestEnv(t)
	leaf := leafOf(t, env.issueJSON(env.token("alice")))
	before := env.askOCSP(t, leaf, leaf.SerialNumber)
	c := env.p.getConfiguration().Clone()
	c.LinkLifetimeMinutes = 7
	env.configure(c)
	after := env.askOCSP(t, leaf, leaf.SerialNumber)
	assert.Equal(t, before.Certificate.Raw, after.Certificate.Raw)
}

// ocspGet asks by GET, with headers in pairs.
func (env *testEnv) ocspGet(t *testing.T, der []byte, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	return env.request(http.MethodGet, "/ocsp/"+url.PathEscape(base64.StdEncoding.EncodeToString(der)), "", "", headers...)
}

// Signed answers carry the caching headers of RFC 5019 section 6, by GET
// and by POST; an answer is the same (and so is its tag) until the status
// changes.
func TestOCSPCachingHeaders(t *testing.T) {
	env := newTestEnv(t)
	issued := env.issueJSON(env.token("alice"))
	leaf := leafOf(t, issued)
	der := mustOCSPRequest(t, env, leaf)

	w := env.ocspGet(t, der)
	require.Equal(t, http.StatusOK, w.Code)
	resp, err := ocsp.ParseResponse(w.Body.Bytes(), nil)
	require.NoError(t, err)
	h := w.Header()
	assert.Equal(t, "application/ocsp-response", h.Get("Content-Type"))
	assert.Equal(t, resp.ThisUpdate.Format(http.TimeFormat), h.Get("Last-Modified"))
	assert.Equal(t, resp.NextUpdate.Format(http.TimeFormat), h.Get("Expires"))
	maxAge := int(resp.NextUpdate.Sub(env.now()).Seconds())
	assert.Equal(t, fmt.Sprintf("max-age=%d, public, no-transform, must-revalidate", maxAge), h.Get("Cache-Control"))
	assert.InDelta(t, 3600, maxAge, 1)
	etag := h.Get("ETag")
	assert.Regexp(t, `^"[0-9a-f]{32}"$`, etag)

	env.advance(10 * time.Minute)
	post := env.request(http.MethodPost, "/ocsp", string(der), "", "Content-Type", "application/ocsp-request")
	require.Equal(t, http.StatusOK, post.Code)
	assert.Equal(t, w.Body.Bytes(), post.Body.Bytes(), "the same answer, served again")
	assert.Equal(t, etag, post.Header().Get("ETag"))
	assert.Equal(t, fmt.Sprintf("max-age=%d, public, no-transform, must-revalidate", maxAge-600), post.Header().Get("Cache-Control"),
		"fresh until the answer's nextUpdate, whenever it is served")

	assert.Contains(t, env.run("alice", "/cert revoke "+issued.Serial), "is now revoked")
	revoked := env.ocspGet(t, der)
	require.Equal(t, http.StatusOK, revoked.Code)
	assert.NotEqual(t, etag, revoked.Header().Get("ETag"))
	resp, err = ocsp.ParseResponse(revoked.Body.Bytes(), nil)
	require.NoError(t, err)
	assert.Equal(t, ocsp.Revoked, resp.Status)

	// An unsigned refusal is not for caches.
	malformed := env.ocspGet(t, []byte("not a request"))
	require.Equal(t, http.StatusOK, malformed.Code)
	assert.Equal(t, "no-store", malformed.Header().Get("Cache-Control"))
	assert.Empty(t, malformed.Header().Get("ETag"))
	assert.Empty(t, malformed.Header().Get("Last-Modified"))
}

// A conditional GET is answered 304 when the cache's copy is the answer
// of now, as its tag says; never after the status changed, and never on a
// date alone.
func TestOCSPConditionalGet(t *testing.T) {
	env := newTestEnv(t)
	issued := env.issueJSON(env.token("alice"))
	der := mustOCSPRequest(t, env, leafOf(t, issued))
	first := env.ocspGet(t, der)
	require.Equal(t, http.StatusOK, first.Code)
	etag, lastModified := first.Header().Get("ETag"), first.Header().Get("Last-Modified")
	since, err := http.ParseTime(lastModified)
	require.NoError(t, err)

	assertNotModified := func(w *httptest.ResponseRecorder) {
		t.Helper()
		require.Equal(t, http.StatusNotModified, w.Code)
		assert.Empty(t, w.Body.Bytes())
		assert.Equal(t, etag, w.Header().Get("ETag"))
		assert.Equal(t, first.Header().Get("Expires"), w.Header().Get("Expires"))
		assert.Contains(t, w.Header().Get("Cache-Control"), "public, no-transform, must-revalidate")
		assert.Empty(t, w.Header().Get("Content-Type"))
	}
	assertNotModified(env.ocspGet(t, der, "If-None-Match", etag))
	assertNotModified(env.ocspGet(t, der, "If-None-Match", `"other", `+etag))
	assertNotModified(env.ocspGet(t, der, "If-None-Match", "W/"+etag))
	assertNotModified(env.ocspGet(t, der, "If-None-Match", "*"))
	assertNotModified(env.ocspGet(t, der, "If-None-Match", etag, "If-Modified-Since", since.Add(-time.Hour).Format(http.TimeFormat)))

	assert.Equal(t, http.StatusOK, env.ocspGet(t, der, "If-None-Match", `"other"`).Code)
	for _, date := range []time.Time{since, since.Add(time.Hour)} {
		assert.Equal(t, http.StatusOK, env.ocspGet(t, der, "If-Modified-Since", date.Format(http.TimeFormat)).Code,
			"a date does not say which answer a cache holds")
	}
	assert.Equal(t, http.StatusOK, env.request(http.MethodPost, "/ocsp", string(der), "", "Content-Type", "application/ocsp-request", "If-None-Match", etag).Code,
		"a POST is never conditional")

	assert.Contains(t, env.run("alice", "/cert revoke "+issued.Serial), "is now revoked")
	w := env.ocspGet(t, der, "If-None-Match", etag)
	require.Equal(t, http.StatusOK, w.Code, "the copy says good; the answer now says revoked")
	resp, err := ocsp.ParseResponse(w.Body.Bytes(), nil)
	require.NoError(t, err)
	assert.Equal(t, ocsp.Revoked, resp.Status)
}
