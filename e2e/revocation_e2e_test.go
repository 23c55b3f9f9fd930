//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ocsp"
)

// TestCRLThroughTheServer: the built-in CA's CRL, fetched from the plugin
// without signing in, makes OpenSSL refuse a revoked certificate and accept
// a good one; each revocation publishes a list with a greater number.
func TestCRLThroughTheServer(t *testing.T) {
	requireBed(t)
	require.NoError(t, withPluginSettings(t, func(s map[string]any) { s["connectorsandprofiles"] = "" }))
	mia := newTestUser(t, "mia")
	dir := t.TempDir()
	good, goodLeaf := mia.issueJSON(t)
	revoked, revokedLeaf := mia.issueJSON(t)
	crlPath := crlPathOf(t, goodLeaf)

	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, data, 0o600))
		return path
	}
	write("good.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: goodLeaf.Raw}))
	write("revoked.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: revokedLeaf.Raw}))
	write("chain.pem", []byte(pluginRequest(t, http.MethodGet, "/ca.pem", nil, "", "").body))
	crlNumber := func() string {
		reply := pluginRequest(t, http.MethodGet, crlPath, nil, "", "")
		require.Equal(t, http.StatusOK, reply.status, reply.String())
		require.Equal(t, "application/pkix-crl", reply.header.Get("Content-Type"))
		write("crl.der", []byte(reply.body))
		runTool(t, dir, "openssl", "crl", "-inform", "DER", "-in", "crl.der", "-out", "crl.pem")
		text := runTool(t, dir, "openssl", "crl", "-in", "crl.pem", "-noout", "-text")
		lines := strings.Split(text, "\n")
		for i, line := range lines {
			if strings.Contains(line, "X509v3 CRL Number") && i+1 < len(lines) {
				return strings.TrimSpace(lines[i+1]) // the number is on the next line
			}
		}
		t.Fatalf("the CRL has no number:\n%s", text)
		return ""
	}
	before := crlNumber()

	reply := pluginJSON(t, "/api/v1/certificates/"+revoked.serial+"/revoke", mia.Token(), map[string]string{"reason": "keyCompromise"})
	require.Equal(t, http.StatusOK, reply.status, reply.String())
	after := crlNumber()
	require.NotEqual(t, before, after, "a revocation publishes a new list")
	text := runTool(t, dir, "openssl", "crl", "-in", "crl.pem", "-noout", "-text")
	require.Contains(t, strings.ToUpper(text), strings.ToUpper(revoked.serial))
	require.Contains(t, text, "Key Compromise")
	require.NotContains(t, strings.ToUpper(text), strings.ToUpper(good.serial))

	out := runTool(t, dir, "openssl", "verify", "-crl_check", "-CAfile", "chain.pem", "-CRLfile", "crl.pem", "good.pem")
	require.Contains(t, out, "good.pem: OK")
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "openssl", "verify", "-crl_check", "-CAfile", "chain.pem", "-CRLfile", "crl.pem", "revoked.pem")
	cmd.Dir = dir
	refused, err := cmd.CombinedOutput()
	require.Error(t, err, "OpenSSL must refuse the revoked certificate:\n%s", refused)
	require.Contains(t, string(refused), "certificate revoked")
}

// TestOCSPThroughTheServer: OpenSSL asks the plugin's OCSP responder, named
// in the certificate, and verifies its signed answers: good, revoked with
// the reason, and unknown for a serial the CA never issued.
func TestOCSPThroughTheServer(t *testing.T) {
	requireBed(t)
	require.NoError(t, withPluginSettings(t, func(s map[string]any) { s["connectorsandprofiles"] = "" }))
	nia := newTestUser(t, "nia")
	dir := t.TempDir()
	file, leaf := nia.issueJSON(t)
	require.Len(t, leaf.OCSPServer, 1)
	responder := leaf.OCSPServer[0]
	require.Equal(t, bed.mm.URL+"/plugins/"+pluginID+"/ocsp", responder)

	chainPEM := pluginRequest(t, http.MethodGet, "/ca.pem", nil, "", "").body
	block, _ := pem.Decode([]byte(chainPEM))
	require.NotNil(t, block)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "chain.pem"), []byte(chainPEM), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "issuing.pem"), pem.EncodeToMemory(block), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "leaf.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw}), 0o600))
	ask := func(args ...string) string {
		return runTool(t, dir, "openssl", append([]string{"ocsp", "-issuer", "issuing.pem", "-CAfile", "chain.pem", "-url", responder}, args...)...)
	}

	out := ask("-cert", "leaf.pem")
	require.Contains(t, out, "Response verify OK", out)
	require.Contains(t, out, "leaf.pem: good", out)

	reply := pluginJSON(t, "/api/v1/certificates/"+file.serial+"/revoke", nia.Token(), map[string]string{"reason": "keyCompromise"})
	require.Equal(t, http.StatusOK, reply.status, reply.String())
	out = ask("-cert", "leaf.pem")
	require.Contains(t, out, "leaf.pem: revoked", out)
	require.Contains(t, out, "keyCompromise", out)

	out = ask("-serial", "0x5eed5eed")
	require.Contains(t, out, "0x5eed5eed: unknown", out)
}

// TestDeactivationThroughTheServer: an admin deactivates a user through the
// REST API; the plugin revokes the user's certificates (affiliation
// changed), so the CRL lists them.
func TestDeactivationThroughTheServer(t *testing.T) {
	requireBed(t)
	require.NoError(t, withPluginSettings(t, func(s map[string]any) {
		s["connectorsandprofiles"] = ""
		s["ondeactivation"] = "revoke"
	}))
	pat := newTestUser(t, "pat")
	file, leaf := pat.issueJSON(t)
	crlPath := crlPathOf(t, leaf)
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	_, err := bed.admin.Client.DeleteUser(ctx, pat.User.Id)
	require.NoError(t, err)

	state := func() string {
		reply := pluginRequest(t, http.MethodGet, "/api/v1/admin/certificates/"+file.serial, nil, bed.admin.Client.AuthToken, "application/json")
		require.Equal(t, http.StatusOK, reply.status, reply.String())
		var c struct {
			State            string `json:"state"`
			RevocationReason string `json:"revocation_reason"`
		}
		require.NoError(t, json.Unmarshal([]byte(reply.body), &c))
		return c.State + " " + c.RevocationReason
	}
	require.Eventually(t, func() bool { return state() == "revoked affiliationChanged" }, replyTimeout, 200*time.Millisecond, "now: %s", state())
	// The hook records the revocation, then signs the new list: the list
	// follows a moment after the record.
	onCRL := func() bool {
		reply := pluginRequest(t, http.MethodGet, crlPath, nil, "", "")
		crl, err := x509.ParseRevocationList([]byte(reply.body))
		require.NoError(t, err)
		for _, e := range crl.RevokedCertificateEntries {
			if strings.EqualFold(e.SerialNumber.Text(16), file.serial) {
				return true
			}
		}
		return false
	}
	require.Eventually(t, onCRL, replyTimeout, 200*time.Millisecond, "the deactivated user's certificate is on the CRL")
}

// crlPathOf is the plugin path of the CRL a certificate of the built-in CA
// names: /crl/builtin.crl for the first issuing CA, /crl/builtin/<n>.crl
// for generation n (TestCARenewalThroughTheServer renews it).
func crlPathOf(t *testing.T, leaf *x509.Certificate) string {
	t.Helper()
	require.Len(t, leaf.CRLDistributionPoints, 1)
	base := bed.mm.URL + "/plugins/" + pluginID
	require.Regexp(t, `^`+regexp.QuoteMeta(base)+`/crl/builtin(/[0-9]+)?\.crl$`, leaf.CRLDistributionPoints[0])
	return strings.TrimPrefix(leaf.CRLDistributionPoints[0], base)
}

// TestCARenewalThroughTheServer: a system admin forces the renewal of the
// built-in issuing CA; new certificates come from the new one and name its
// own CRL; ca.pem serves both; OpenSSL checks a certificate of each CA
// against that CA's CRL (one file with both lists, as a RADIUS server
// would hold) and asks the OCSP responder about both; the admins are told.
func TestCARenewalThroughTheServer(t *testing.T) {
	requireBed(t)
	require.NoError(t, withPluginSettings(t, func(s map[string]any) { s["connectorsandprofiles"] = "" }))
	rho := newTestUser(t, "rho")
	dir := t.TempDir()
	write := func(name string, data []byte) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o600))
	}
	leafPEM := func(leaf *x509.Certificate) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw})
	}
	revoke := func(serial string) {
		reply := pluginJSON(t, "/api/v1/certificates/"+serial+"/revoke", rho.Token(), map[string]string{"reason": "keyCompromise"})
		require.Equal(t, http.StatusOK, reply.status, reply.String())
	}

	oldIssuing := fetchCAChain(t)[0]
	_, oldGood := rho.issueJSON(t)
	oldRevokedFile, oldRevoked := rho.issueJSON(t)
	revoke(oldRevokedFile.serial)

	const route = "/api/v1/admin/ca/rollover"
	require.Equal(t, http.StatusForbidden, pluginJSON(t, route, rho.Token(), map[string]string{}).status, "only system admins")
	require.Equal(t, http.StatusMethodNotAllowed, pluginRequest(t, http.MethodGet, "/api/v1/admin/ca/rollover", nil, bed.admin.Client.AuthToken, "application/json").status)
	reply := pluginJSON(t, route, bed.admin.Client.AuthToken, map[string]string{})
	require.Equal(t, http.StatusOK, reply.status, reply.String())
	var renewed struct {
		Generation int    `json:"generation"`
		IssuingCA  string `json:"issuing_ca"`
	}
	require.NoError(t, json.Unmarshal([]byte(reply.body), &renewed))
	require.GreaterOrEqual(t, renewed.Generation, 2)

	chain := fetchCAChain(t)
	require.GreaterOrEqual(t, len(chain), 3, "ca.pem: the new issuing CA, the previous one, the root")
	newIssuing := chain[0]
	require.False(t, newIssuing.Equal(oldIssuing))
	require.True(t, chain[1].Equal(oldIssuing))
	require.Equal(t, renewed.IssuingCA, newIssuing.Subject.String())

	_, newGood := rho.issueJSON(t)
	newRevokedFile, newRevoked := rho.issueJSON(t)
	require.NoError(t, newGood.CheckSignatureFrom(newIssuing))
	require.Equal(t, fmt.Sprintf("/crl/builtin/%d.crl", renewed.Generation), crlPathOf(t, newGood))
	require.Equal(t, "/crl/builtin.crl", crlPathOf(t, oldGood), "the old certificates keep their list")
	revoke(newRevokedFile.serial)

	write("chain.pem", encodePEM(chain...))
	write("old-issuing.pem", encodePEM(oldIssuing))
	write("new-issuing.pem", encodePEM(newIssuing))
	write("old-good.pem", leafPEM(oldGood))
	write("old-revoked.pem", leafPEM(oldRevoked))
	write("new-good.pem", leafPEM(newGood))
	write("new-revoked.pem", leafPEM(newRevoked))
	var crls []byte
	for name, leaf := range map[string]*x509.Certificate{"old": oldGood, "new": newGood} {
		reply := pluginRequest(t, http.MethodGet, crlPathOf(t, leaf), nil, "", "")
		require.Equal(t, http.StatusOK, reply.status, reply.String())
		write(name+"-crl.der", []byte(reply.body))
		runTool(t, dir, "openssl", "crl", "-inform", "DER", "-in", name+"-crl.der", "-out", name+"-crl.pem")
		runTool(t, dir, "openssl", "crl", "-in", name+"-crl.pem", "-noout", "-CAfile", "chain.pem") // signature checked
		data, err := os.ReadFile(filepath.Join(dir, name+"-crl.pem"))
		require.NoError(t, err)
		crls = append(crls, data...)
	}
	write("crls.pem", crls)

	for _, good := range []string{"old-good.pem", "new-good.pem"} {
		out := runTool(t, dir, "openssl", "verify", "-crl_check", "-CAfile", "chain.pem", "-CRLfile", "crls.pem", good)
		require.Contains(t, out, good+": OK")
	}
	for _, revoked := range []string{"old-revoked.pem", "new-revoked.pem"} {
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		cmd := exec.CommandContext(ctx, "openssl", "verify", "-crl_check", "-CAfile", "chain.pem", "-CRLfile", "crls.pem", revoked)
		cmd.Dir = dir
		refused, err := cmd.CombinedOutput()
		cancel()
		require.Error(t, err, "OpenSSL must refuse %s:\n%s", revoked, refused)
		require.Contains(t, string(refused), "certificate revoked")
	}

	responder := newGood.OCSPServer[0]
	ask := func(issuer, cert string) string {
		out := runTool(t, dir, "openssl", "ocsp", "-issuer", issuer, "-CAfile", "chain.pem", "-url", responder, "-cert", cert)
		require.Contains(t, out, "Response verify OK", out)
		return out
	}
	require.Contains(t, ask("old-issuing.pem", "old-good.pem"), "old-good.pem: good")
	require.Contains(t, ask("old-issuing.pem", "old-revoked.pem"), "old-revoked.pem: revoked")
	require.Contains(t, ask("new-issuing.pem", "new-good.pem"), "new-good.pem: good")
	require.Contains(t, ask("new-issuing.pem", "new-revoked.pem"), "new-revoked.pem: revoked")

	botDM(t, bed.admin, func(p *model.Post) bool {
		return strings.Contains(p.Message, "the built-in issuing CA was renewed") && strings.Contains(p.Message, newIssuing.Subject.CommonName)
	})
}

// TestRevocationURLBaseThroughTheServer: with a Revocation URL base saved
// through the REST API, new certificates name their CRL and OCSP
// responder under it, over plain HTTP.
func TestRevocationURLBaseThroughTheServer(t *testing.T) {
	requireBed(t)
	require.NoError(t, withPluginSettings(t, func(s map[string]any) { s["revocationbaseurl"] = "http://pki.example.com" }))
	u := newTestUser(t, "base")
	deadline := time.Now().Add(time.Minute)
	for {
		// The plugin applies a saved setting a moment after the save.
		_, leaf := u.issueJSON(t)
		if len(leaf.OCSPServer) == 1 && leaf.OCSPServer[0] == "http://pki.example.com/plugins/"+pluginID+"/ocsp" {
			require.Len(t, leaf.CRLDistributionPoints, 1)
			require.True(t, strings.HasPrefix(leaf.CRLDistributionPoints[0], "http://pki.example.com/plugins/"+pluginID+"/crl/builtin"), leaf.CRLDistributionPoints[0])
			return
		}
		require.True(t, time.Now().Before(deadline), "certificates still name %v", leaf.OCSPServer)
		time.Sleep(time.Second)
	}
}

// TestOCSPGetThroughTheServer: an OCSP GET (RFC 6960 appendix A: the URL
// encoding of the request's base64, here one with "/" and "+" in it)
// reaches the responder through Mattermost. One whose base64 holds "//" does
// not: Mattermost's router cleans the path and redirects (see docs/http-api.md).
func TestOCSPGetThroughTheServer(t *testing.T) {
	requireBed(t)
	issuing := fetchCAChain(t)[0]
	var encoded string
	for i := int64(1); encoded == "" && i < 100000; i++ {
		der, err := ocsp.CreateRequest(&x509.Certificate{SerialNumber: big.NewInt(i)}, issuing, nil)
		require.NoError(t, err)
		if e := base64.StdEncoding.EncodeToString(der); strings.Contains(e, "/") && strings.Contains(e, "+") && !strings.Contains(e, "//") {
			encoded = e
		}
	}
	require.NotEmpty(t, encoded)
	reply := pluginRequest(t, http.MethodGet, "/ocsp/"+url.QueryEscape(encoded), nil, "", "")
	require.Equal(t, http.StatusOK, reply.status, reply.String())
	resp, err := ocsp.ParseResponse([]byte(reply.body), nil)
	require.NoError(t, err)
	require.Equal(t, ocsp.Unknown, resp.Status)
}

// TestOCSPCachingThroughTheServer: through Mattermost, a signed OCSP answer
// carries the caching headers of RFC 5019 (by GET and POST), a GET whose
// If-None-Match names the answer of now gets a 304, and one that names the
// answer from before a revocation gets the new one.
func TestOCSPCachingThroughTheServer(t *testing.T) {
	requireBed(t)
	require.NoError(t, withPluginSettings(t, func(s map[string]any) { s["connectorsandprofiles"] = "" }))
	omar := newTestUser(t, "omar")
	file, leaf := omar.issueJSON(t)
	issuing := fetchCAChain(t)[0]
	require.NoError(t, leaf.CheckSignatureFrom(issuing))
	// A GET whose base64 holds "//" does not reach the plugin (see
	// TestOCSPGetThroughTheServer): one of the CertID hashes gives another.
	var encoded string
	var der []byte
	for _, hash := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		var err error
		der, err = ocsp.CreateRequest(leaf, issuing, &ocsp.RequestOptions{Hash: hash})
		require.NoError(t, err)
		if encoded = base64.StdEncoding.EncodeToString(der); !strings.Contains(encoded, "//") {
			break
		}
	}
	get := func(headers ...string) ocspReply {
		return askOCSP(t, http.MethodGet, "/ocsp/"+url.PathEscape(encoded), nil, headers...)
	}

	first := get()
	require.Equal(t, http.StatusOK, first.status)
	resp, err := ocsp.ParseResponseForCert(first.body, leaf, issuing)
	require.NoError(t, err)
	require.Equal(t, ocsp.Good, resp.Status)
	h := first.header
	require.Equal(t, "application/ocsp-response", h.Get("Content-Type"))
	require.Equal(t, resp.ThisUpdate.Format(http.TimeFormat), h.Get("Last-Modified"))
	require.Equal(t, resp.NextUpdate.Format(http.TimeFormat), h.Get("Expires"))
	require.Regexp(t, `^max-age=[0-9]+, public, no-transform, must-revalidate$`, h.Get("Cache-Control"))
	var maxAge int
	_, err = fmt.Sscanf(h.Get("Cache-Control"), "max-age=%d", &maxAge)
	require.NoError(t, err)
	require.InDelta(t, time.Until(resp.NextUpdate).Seconds(), maxAge, 5, "fresh until the answer's nextUpdate")
	etag := h.Get("ETag")
	require.NotEmpty(t, etag)

	post := askOCSP(t, http.MethodPost, "/ocsp", der, "Content-Type", "application/ocsp-request")
	require.Equal(t, http.StatusOK, post.status)
	require.Equal(t, first.body, post.body, "the same answer, served again")
	require.Equal(t, etag, post.header.Get("ETag"))
	require.Equal(t, h.Get("Expires"), post.header.Get("Expires"))

	again := get("If-None-Match", etag)
	require.Equal(t, http.StatusNotModified, again.status, "%s", again.header)
	require.Empty(t, again.body)
	require.Equal(t, etag, again.header.Get("ETag"))
	require.Equal(t, h.Get("Expires"), again.header.Get("Expires"))
	require.Contains(t, again.header.Get("Cache-Control"), "public, no-transform, must-revalidate")

	reply := pluginJSON(t, "/api/v1/certificates/"+file.serial+"/revoke", omar.Token(), map[string]string{"reason": "keyCompromise"})
	require.Equal(t, http.StatusOK, reply.status, reply.String())
	after := get("If-None-Match", etag)
	require.Equal(t, http.StatusOK, after.status, "the cache's copy says good")
	resp, err = ocsp.ParseResponseForCert(after.body, leaf, issuing)
	require.NoError(t, err)
	require.Equal(t, ocsp.Revoked, resp.Status)
	require.Equal(t, ocsp.KeyCompromise, resp.RevocationReason)
	require.NotEqual(t, etag, after.header.Get("ETag"))
}

type ocspReply struct {
	status int
	header http.Header
	body   []byte
}

// askOCSP sends an OCSP request to the plugin through the server, without
// signing in, with headers in pairs.
func askOCSP(t *testing.T, method, path string, body []byte, headers ...string) ocspReply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, bed.mm.URL+"/plugins/"+pluginID+path, bytes.NewReader(body))
	require.NoError(t, err)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := pluginClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return ocspReply{status: resp.StatusCode, header: resp.Header, body: data}
}
