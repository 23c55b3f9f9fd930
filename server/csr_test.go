package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"html"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/web/enrollment"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/attest/attesttest"
	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

// csrRequest is a CSR as the tests make it.
type csrRequest struct {
	key crypto.Signer
	der []byte
}

func (c csrRequest) pem() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: c.der}))
}

// newCSR makes a CSR for a new key of the given kind ("p256", "p224",
// "rsa1024", "rsa2048"), asking for the given names.
func newCSR(t *testing.T, kind, commonName string, emails []string, dnsNames ...string) csrRequest {
	t.Helper()
	var key crypto.Signer
	var err error
	switch kind {
	case "p256":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "p224":
		key, err = ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	case "rsa1024":
		key, err = rsa.GenerateKey(rand.Reader, 1024) //nolint:gosec // a weak key the plugin must refuse
	case "rsa2048":
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		t.Fatalf("unknown key kind %s", kind)
	}
	require.NoError(t, err)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: commonName}, EmailAddresses: emails, DNSNames: dnsNames,
	}, key)
	require.NoError(t, err)
	return csrRequest{key: key, der: der}
}

var csrLinkPattern = regexp.MustCompile(`https://chat\.example\.com/plugins/certs/csr\?token=[A-Za-z0-9_.-]+`)

// csrToken runs /cert csr [profile] and returns the link's token.
func (env *testEnv) csrToken(username, profileName string) string {
	env.t.Helper()
	reply := env.run(username, strings.TrimSpace("/cert csr "+profileName))
	link := csrLinkPattern.FindString(reply)
	require.NotEmpty(env.t, link, reply)
	u, err := url.Parse(link)
	require.NoError(env.t, err)
	return u.Query().Get("token")
}

// multipartBody builds a multipart form: fields as text, files as
// name → content.
func multipartBody(t testing.TB, fields, files map[string][]byte) (string, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for name, value := range fields {
		require.NoError(t, mw.WriteField(name, string(value)))
	}
	for name, content := range files {
		fw, err := mw.CreateFormFile(name, name+".bin")
		require.NoError(t, err)
		_, err = fw.Write(content)
		require.NoError(t, err)
	}
	require.NoError(t, mw.Close())
	return buf.String(), mw.FormDataContentType()
}

// uploadCSR posts the upload form with a token; files are optional.
func (env *testEnv) uploadCSR(token string, fields, files map[string][]byte, accept string) *httptest.ResponseRecorder {
	env.t.Helper()
	if fields == nil {
		fields = map[string][]byte{}
	}
	fields["token"] = []byte(token)
	body, contentType := multipartBody(env.t, fields, files)
	return env.request(http.MethodPost, "/csr", body, "", "Content-Type", contentType, "Accept", accept)
}

// signedFor decodes a JSON CSR answer and checks the certificate is for key.
func signedFor(t *testing.T, w *httptest.ResponseRecorder, key crypto.Signer) (enrollment.IssuanceView, *x509.Certificate) {
	t.Helper()
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	var resp enrollment.IssuanceView
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &resp))
	require.NotNil(t, resp.Attested, "a CSR's answer says whether its key was attested")
	cert, err := x509.ParseCertificate(resp.CertificateDER)
	require.NoError(t, err)
	assert.True(t, cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(key.Public()), "the certificate is for the CSR's key")
	return resp, cert
}

func TestCSRUploadPageSignsTheUsersOwnKeyWithTheAccountsNames(t *testing.T) {
	env := newTestEnv(t)
	token := env.csrToken("alice", "")

	page := env.request(http.MethodGet, "/csr?token="+url.QueryEscape(token), "", "")
	require.Equal(t, http.StatusOK, page.Code, page.Body.String())
	assert.Contains(t, page.Body.String(), "Get a certificate for your own key")
	assert.Contains(t, page.Body.String(), "ECDSA P-256, ECDSA P-384, RSA 2048", "the page lists the accepted keys")

	// The CSR asks for other names: a CSR's names are never trusted.
	csr := newCSR(t, "p256", "root", []string{"boss@example.com"})
	w := env.uploadCSR(token, map[string][]byte{"csr": []byte(csr.pem())}, nil, "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	body := html.UnescapeString(w.Body.String())
	assert.Contains(t, body, "Your certificate is ready")
	assert.Contains(t, body, "BEGIN CERTIFICATE")
	assert.NotContains(t, body, "PRIVATE KEY")

	certs, err := env.p.store.ListCertificates(records.MattermostUser(env.user("alice").Id))
	require.NoError(t, err)
	require.Len(t, certs, 1)
	record := certs[0]
	assert.Equal(t, records.OriginCSR, record.Origin)
	assert.Equal(t, "alice", record.CommonName)
	assert.Equal(t, []string{"alice@example.com"}, record.Emails)
	cert, err := x509.ParseCertificate(record.DER)
	require.NoError(t, err)
	assert.True(t, cert.PublicKey.(*ecdsa.PublicKey).Equal(csr.key.Public()))

	// The certificate chains to the CA the plugin publishes.
	s, err := env.p.current.Get()
	require.NoError(t, err)
	chain, err := s.Core.Connectors["builtin"].Chain(context.Background())
	require.NoError(t, err)
	roots, intermediates := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(chain[len(chain)-1])
	intermediates.AddCert(chain[0])
	_, err = cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: intermediates, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	require.NoError(t, err)

	again := env.uploadCSR(token, map[string][]byte{"csr": []byte(newCSR(t, "p256", "", nil).pem())}, nil, "")
	assert.Equal(t, http.StatusConflict, again.Code, "the link works once")
}

func TestCSRUploadAcceptsDERFilesAndRSA(t *testing.T) {
	env := newTestEnv(t)
	csr := newCSR(t, "rsa2048", "", nil)
	w := env.uploadCSR(env.csrToken("alice", ""), nil, map[string][]byte{"csr_file": csr.der}, "application/json")
	resp, cert := signedFor(t, w, csr.key)
	assert.Equal(t, "CN=alice", cert.Subject.String())
	assert.Contains(t, resp.CertificatePEM, "BEGIN CERTIFICATE")
	assert.Equal(t, 3, strings.Count(resp.CertificatePEM, "BEGIN CERTIFICATE"), "the certificate, the issuing CA and the root")

	// The page reads a chosen DER file into the text field as base64 and
	// posts a plain form (which carries Mattermost's CSRF field).
	der := newCSR(t, "p256", "", nil)
	form := url.Values{"token": {env.csrToken("alice", "")}, "csr": {base64.StdEncoding.EncodeToString(der.der)}}.Encode()
	signedFor(t, env.request(http.MethodPost, "/csr", form, "", "Accept", "application/json"), der.key)
}

func TestCSRRefusalsAreExplainedAndKeepTheLink(t *testing.T) {
	env := newTestEnv(t)
	token := env.csrToken("alice", "")

	good := newCSR(t, "p256", "", nil)
	tampered := append([]byte(nil), good.der...)
	tampered[len(tampered)-5] ^= 0xff
	otherCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not a CSR")})

	for name, tc := range map[string]struct {
		csr  []byte
		want string
	}{
		"empty":          {nil, "empty"},
		"garbage":        {[]byte("hello"), "not a certificate signing request"},
		"wrong PEM type": {otherCert, `got a PEM "CERTIFICATE" block`},
		"bad signature":  {tampered, "signature does not verify"},
		"RSA 1024":       {newCSR(t, "rsa1024", "", nil).der, "unsupported RSA key size 1024"},
		"P-224":          {newCSR(t, "p224", "", nil).der, "unsupported elliptic curve P-224"},
	} {
		t.Run(name, func(t *testing.T) {
			w := env.uploadCSR(token, nil, map[string][]byte{"csr_file": tc.csr}, "")
			require.Equal(t, http.StatusUnprocessableEntity, w.Code)
			assert.Contains(t, html.UnescapeString(w.Body.String()), tc.want)
			assert.Contains(t, w.Body.String(), `id="error"`, "the form is shown again with the reason")
		})
	}
	resp, _ := signedFor(t, env.uploadCSR(token, map[string][]byte{"csr": []byte(good.pem())}, nil, "application/json"), good.key)
	assert.NotEmpty(t, resp.Serial, "refused uploads did not use up the link")
}

func TestCSRUploadIsBounded(t *testing.T) {
	env := newTestEnv(t)
	token := env.csrToken("alice", "")
	w := env.uploadCSR(token, nil, map[string][]byte{"csr_file": bytes.Repeat([]byte("A"), enrollment.MaxUploadBytes+1)}, "")
	assert.Equal(t, http.StatusRequestEntityTooLarge, w.Code)
	assert.Contains(t, w.Body.String(), "larger than")

	// Within the upload bound but over the CSR's own.
	w = env.uploadCSR(token, nil, map[string][]byte{"csr_file": bytes.Repeat([]byte("A"), 17<<10)}, "application/json")
	assert.Equal(t, http.StatusUnprocessableEntity, w.Code)
	assert.Contains(t, w.Body.String(), "larger than 16384 bytes")
}

func TestCSRKeyTypesFollowTheProfile(t *testing.T) {
	env := newTestEnvWithCatalog(t, `{"profiles": [{"name": "ec", "key_types": ["ecdsa-p384", "ecdsa-p256"]}]}`)
	w := env.request(http.MethodPost, "/api/v1/csr", `{"csr": `+jsonString(newCSR(t, "rsa2048", "", nil).pem())+`}`, "alice", "Content-Type", "application/json")
	assert.Equal(t, http.StatusUnprocessableEntity, w.Code)
	assert.Contains(t, apiError(t, w), "This certificate does not accept rsa-2048 keys")
	csr := newCSR(t, "p256", "", nil)
	signedFor(t, env.request(http.MethodPost, "/api/v1/csr", `{"csr": `+jsonString(csr.pem())+`}`, "alice", "Content-Type", "application/json"), csr.key)
}

// apiError is the message of a JSON error answer.
func apiError(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var body struct {
		Error string `json:"error"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body), w.Body.String())
	return body.Error
}

// tableRowWith is the line of a Markdown table that mentions needle.
func tableRowWith(table, needle string) string {
	for _, line := range strings.Split(table, "\n") {
		if strings.Contains(line, needle) {
			return line
		}
	}
	return ""
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestCSRNamesMustMatchWhenTheProfileSaysSo(t *testing.T) {
	env := newTestEnvWithCatalog(t, `{"profiles": [{"name": "strict", "csr_names": "match"}]}`)
	for name, tc := range map[string]struct {
		csr  csrRequest
		want string
	}{
		"another common name": {newCSR(t, "p256", "bob", nil), `common name must be "alice"`},
		"a host name":         {newCSR(t, "p256", "alice", nil, "alice.example.com"), "may not name hosts"},
		"someone's email":     {newCSR(t, "p256", "alice", []string{"bob@example.com"}), `"bob@example.com", which is not yours`},
	} {
		t.Run(name, func(t *testing.T) {
			w := env.request(http.MethodPost, "/api/v1/csr", `{"csr": `+jsonString(tc.csr.pem())+`}`, "alice", "Content-Type", "application/json")
			assert.Equal(t, http.StatusUnprocessableEntity, w.Code)
			assert.Contains(t, apiError(t, w), tc.want)
		})
	}
	for _, csr := range []csrRequest{newCSR(t, "p256", "alice", []string{"Alice@Example.com"}), newCSR(t, "p256", "", nil)} {
		signedFor(t, env.request(http.MethodPost, "/api/v1/csr", `{"csr": `+jsonString(csr.pem())+`}`, "alice", "Content-Type", "application/json"), csr.key)
	}
}

func TestStepCAProfilesMatchCSRNames(t *testing.T) {
	env := newTestEnv(t)
	c := env.p.getConfiguration().Clone()
	c.ConnectorsAndProfiles = `{"connectors": [{"name": "corp", "type": "stepca", "stepca": {"url": "https://ca.example.com", ` +
		`"root_fingerprint": "c84d6a1e6b2cf5d7f6a0d3c1b5e4f3a2918273645546372819a0b1c2d3e4f5a6", "provisioner": "p", "provisioner_password": "pw"}}],` +
		`"profiles": [{"name": "corp", "csr_names": "ignore"}]}`
	assert.ErrorContains(t, c.IsValid(), `csr_names: step-ca signs the names in the CSR itself`)
}

func TestCSRAPIAcceptsJSONAndMultipart(t *testing.T) {
	env := newTestEnv(t)
	pemCSR := newCSR(t, "p256", "", nil)
	signedFor(t, env.request(http.MethodPost, "/api/v1/csr", `{"csr": `+jsonString(pemCSR.pem())+`}`, "alice", "Content-Type", "application/json"), pemCSR.key)

	derCSR := newCSR(t, "p256", "", nil)
	signedFor(t, env.request(http.MethodPost, "/api/v1/csr", `{"profile": "default", "csr": "`+base64.StdEncoding.EncodeToString(derCSR.der)+`"}`, "alice",
		"Content-Type", "application/json"), derCSR.key)

	fileCSR := newCSR(t, "p256", "", nil)
	body, contentType := multipartBody(t, map[string][]byte{"profile": []byte("default")}, map[string][]byte{"csr": fileCSR.der})
	signedFor(t, env.request(http.MethodPost, "/api/v1/csr", body, "bob", "Content-Type", contentType), fileCSR.key)

	assert.Equal(t, http.StatusUnauthorized, env.request(http.MethodPost, "/api/v1/csr", `{"csr": "x"}`, "", "Content-Type", "application/json").Code)
	w := env.request(http.MethodPost, "/api/v1/csr", `{"profile": "nope", "csr": `+jsonString(newCSR(t, "p256", "", nil).pem())+`}`, "alice", "Content-Type", "application/json")
	assert.Equal(t, http.StatusForbidden, w.Code)
	w = env.request(http.MethodPost, "/api/v1/csr", `{"csr": `, "alice", "Content-Type", "application/json")
	assert.Equal(t, http.StatusBadRequest, w.Code)
}

func TestTheSameKeyIsCertifiedOnce(t *testing.T) {
	env := newTestEnv(t)
	csr := newCSR(t, "p256", "", nil)
	body := `{"csr": ` + jsonString(csr.pem()) + `}`
	first, _ := signedFor(t, env.request(http.MethodPost, "/api/v1/csr", body, "alice", "Content-Type", "application/json"), csr.key)

	w := env.request(http.MethodPost, "/api/v1/csr", body, "alice", "Content-Type", "application/json")
	assert.Equal(t, http.StatusConflict, w.Code)
	assert.Contains(t, w.Body.String(), "was already issued for this key")
	assert.Contains(t, w.Body.String(), first.Serial)

	// A new CSR for the same key, through a link, by someone else: refused,
	// and the link is not used up.
	again, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "other"}}, csr.key)
	require.NoError(t, err)
	token := env.csrToken("bob", "")
	page := env.uploadCSR(token, nil, map[string][]byte{"csr_file": again}, "")
	assert.Equal(t, http.StatusConflict, page.Code)
	assert.Contains(t, page.Body.String(), `id="error"`)
	fresh := newCSR(t, "p256", "", nil)
	signedFor(t, env.uploadCSR(token, nil, map[string][]byte{"csr_file": fresh.der}, "application/json"), fresh.key)
}

func TestConcurrentUploadsOfOneKeyIssueOnce(t *testing.T) {
	env := newTestEnv(t)
	csr := newCSR(t, "p256", "", nil)
	body := `{"csr": ` + jsonString(csr.pem()) + `}`
	codes := make(chan int, 10)
	for range 10 {
		go func() {
			codes <- env.request(http.MethodPost, "/api/v1/csr", body, "alice", "Content-Type", "application/json").Code
		}()
	}
	created := 0
	for range 10 {
		if code := <-codes; code == http.StatusCreated {
			created++
		} else {
			assert.Equal(t, http.StatusConflict, code)
		}
	}
	assert.Equal(t, 1, created)
}

func TestCSRForApprovalProfileWaitsAndIsCollectedWithoutAKey(t *testing.T) {
	env := newApprovalEnv(t)
	csr := newCSR(t, "p256", "", nil)
	w := env.uploadCSR(env.csrToken("alice", "secure"), map[string][]byte{"csr": []byte(csr.pem())}, nil, "application/json")
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	var waiting struct {
		RequestID string `json:"request_id"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &waiting))
	req := env.request_(waiting.RequestID)
	assert.Equal(t, csr.pem(), req.CSRPEM)
	assert.Contains(t, env.approvalPostFor("carol", req.ID).Attachments()[0].Text, "the requester's own ECDSA P-256 key")

	env.click("carol", env.approvalPostFor("carol", req.ID), "approve")
	pickup := pickupTokenFrom(t, env.dmsTo("alice"))
	page := env.request(http.MethodGet, issuePath(pickup), "", "")
	require.Equal(t, http.StatusOK, page.Code)
	assert.Contains(t, page.Body.String(), "signs the certificate request you uploaded")
	assert.NotContains(t, page.Body.String(), "PKCS#12")

	resp, cert := signedFor(t, env.request(http.MethodPost, "/issue", form(pickup), "", "Accept", "application/json"), csr.key)
	assert.Equal(t, "alice", cert.Subject.CommonName)
	assert.Equal(t, records.RequestIssued, env.request_(req.ID).State)
	assert.Equal(t, resp.Serial, env.request_(req.ID).Serial)
	holder, err := env.p.store.KeyHolderOf(keyFingerprintOf(t, csr.key))
	require.NoError(t, err)
	assert.Equal(t, records.KeyHolder{Kind: records.KeyHeldByCertificate, ID: resp.Serial}, holder)
}

func keyFingerprintOf(t *testing.T, key crypto.Signer) string {
	t.Helper()
	fingerprint, err := pki.PublicKeyFingerprint(key.Public())
	require.NoError(t, err)
	return fingerprint
}

// pickupTokenFrom finds the pickup link in the last DM that has one.
func pickupTokenFrom(t *testing.T, dms []*model.Post) string {
	t.Helper()
	for i := len(dms) - 1; i >= 0; i-- {
		if m := pickupPattern.FindStringSubmatch(dms[i].Message); m != nil {
			return m[2]
		}
	}
	t.Fatal("no pickup link was sent")
	return ""
}

func TestCSRHeldByTheCAIsCollectedLater(t *testing.T) {
	env := newTestEnv(t)
	holding := withHoldingCA(t, env)
	csr := newCSR(t, "p256", "", nil)
	w := env.request(http.MethodPost, "/api/v1/csr", `{"csr": `+jsonString(csr.pem())+`}`, "alice", "Content-Type", "application/json")
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	var waiting struct {
		RequestID string               `json:"request_id"`
		State     records.RequestState `json:"state"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &waiting))
	assert.Equal(t, records.RequestWaitingCA, waiting.State)
	held := env.request_(waiting.RequestID)
	assert.Nil(t, held.PendingKey, "no key is kept for a CSR")
	assert.Equal(t, csr.pem(), held.CSRPEM)

	holding.decide(connector.StatusIssued)
	env.advance(2 * time.Minute)
	env.p.runRequestJob()
	pickup := pickupTokenFrom(t, env.dmsTo("alice"))
	signedFor(t, env.request(http.MethodPost, "/issue", form(pickup), "", "Accept", "application/json"), csr.key)
}

// attestationEnv has a profile that requires hardware attestation and one
// that verifies it when present, trusting the hierarchy it returns.
func attestationEnv(t *testing.T) (*testEnv, *attesttest.Hierarchy) {
	t.Helper()
	yubico, err := attesttest.New("Test Yubico", 12345678)
	require.NoError(t, err)
	env := newTestEnv(t)
	c := env.p.getConfiguration().Clone()
	c.AttestationRoots = yubico.RootPEM()
	c.ConnectorsAndProfiles = `{"profiles": [{"name": "hardware", "attestation": "require"}, {"name": "either", "attestation": "verify_if_present"}]}`
	env.configure(c)
	_, err = env.p.current.Get()
	require.NoError(t, err)
	return env, yubico
}

func TestHardwareAttestation(t *testing.T) {
	env, yubico := attestationEnv(t)
	untrusted, err := attesttest.New("Untrusted", 99)
	require.NoError(t, err)
	upload := func(profileName string, csr csrRequest, attestation string) *httptest.ResponseRecorder {
		fields := map[string][]byte{"csr": []byte(csr.pem())}
		if attestation != "" {
			fields["attestation"] = []byte(attestation)
		}
		return env.uploadCSR(env.csrToken("alice", profileName), fields, nil, "application/json")
	}

	t.Run("good", func(t *testing.T) {
		csr := newCSR(t, "p256", "", nil)
		attestation, err := yubico.Attest(csr.key.Public())
		require.NoError(t, err)
		resp, cert := signedFor(t, upload("hardware", csr, attestation), csr.key)
		assert.True(t, *resp.Attested)
		assert.Equal(t, "12345678", resp.DeviceSerial)
		record, err := env.p.store.GetCertificate(resp.Serial)
		require.NoError(t, err)
		require.NotNil(t, record.Attestation)
		assert.Equal(t, "yubico-piv", record.Attestation.Format)
		assert.Equal(t, "5.4.3", record.Attestation.FirmwareVersion)
		assert.Equal(t, yubico.Root.Subject.String(), record.Attestation.Root)
		assert.Equal(t, "alice", cert.Subject.CommonName)
		assert.Contains(t, tableRowWith(env.run("alice", "/cert list"), resp.Serial), "your own, attested by YubiKey serial 12345678")
	})
	t.Run("wrong key", func(t *testing.T) {
		csr := newCSR(t, "p256", "", nil)
		attestation, err := yubico.Attest(newCSR(t, "p256", "", nil).key.Public())
		require.NoError(t, err)
		w := upload("hardware", csr, attestation)
		assert.Equal(t, http.StatusUnprocessableEntity, w.Code)
		assert.Contains(t, w.Body.String(), "not the key of the certificate signing request")
	})
	t.Run("untrusted root", func(t *testing.T) {
		csr := newCSR(t, "p256", "", nil)
		attestation, err := untrusted.Attest(csr.key.Public())
		require.NoError(t, err)
		w := upload("hardware", csr, attestation)
		assert.Equal(t, http.StatusUnprocessableEntity, w.Code)
		assert.Contains(t, w.Body.String(), "trusted attestation root")
	})
	t.Run("missing when required", func(t *testing.T) {
		w := upload("hardware", newCSR(t, "p256", "", nil), "")
		assert.Equal(t, http.StatusUnprocessableEntity, w.Code)
		assert.Contains(t, w.Body.String(), "requires a hardware attestation")
	})
	t.Run("optional and absent", func(t *testing.T) {
		csr := newCSR(t, "p256", "", nil)
		resp, _ := signedFor(t, upload("either", csr, ""), csr.key)
		assert.False(t, *resp.Attested)
	})
	t.Run("optional and forged", func(t *testing.T) {
		csr := newCSR(t, "p256", "", nil)
		attestation, err := untrusted.Attest(csr.key.Public())
		require.NoError(t, err)
		assert.Equal(t, http.StatusUnprocessableEntity, upload("either", csr, attestation).Code)
	})
	t.Run("no server keys when required", func(t *testing.T) {
		reply := env.run("alice", "/cert download hardware")
		assert.Contains(t, reply, "need a key made in a hardware device")
		assert.Contains(t, reply, "Run `/cert csr` with the profile", "the chat words the next step")
		w := env.request(http.MethodPost, "/api/v1/links", `{"profile": "hardware"}`, "alice", "Content-Type", "application/json")
		assert.Equal(t, http.StatusForbidden, w.Code)
		body := decodeJSON[map[string]any](t, w.Body.Bytes())
		assert.Equal(t, "use_csr", body["next"], "the API names it")
		assert.NotContains(t, body["error"], "/cert")
	})
}

func TestAttestationProfilesNeedRoots(t *testing.T) {
	env := newTestEnv(t)
	c := env.p.getConfiguration().Clone()
	c.ConnectorsAndProfiles = `{"profiles": [{"name": "hardware", "attestation": "require"}]}`
	assert.ErrorContains(t, c.IsValid(), `Trusted attestation roots: profile "hardware" verifies hardware attestations`)
	c.AttestationRoots = "garbage"
	assert.ErrorContains(t, c.IsValid(), "Trusted attestation roots:")
}

func TestCSRLinksAreNotIssueLinks(t *testing.T) {
	env := newTestEnv(t)
	csrToken := env.csrToken("alice", "")
	w := env.request(http.MethodGet, issuePath(csrToken), "", "")
	assert.Equal(t, http.StatusBadRequest, w.Code, "a CSR link cannot make a server key")
	w = env.request(http.MethodGet, "/csr?token="+url.QueryEscape(env.token("alice")), "", "")
	assert.Equal(t, http.StatusBadRequest, w.Code)

	s, err := env.p.current.Get()
	require.NoError(t, err)
	link, err := env.linkURL(s, "alice", "default", linktoken.PurposeCSR)
	require.NoError(t, err)
	assert.Contains(t, link, "/plugins/certs/csr?token=")
	w = env.request(http.MethodPost, "/api/v1/links", `{"kind": "csr"}`, "alice", "Content-Type", "application/json")
	require.Equal(t, http.StatusCreated, w.Code)
	assert.Contains(t, w.Body.String(), "/plugins/certs/csr?token=")
	w = env.request(http.MethodPost, "/api/v1/links", `{"kind": "other"}`, "alice", "Content-Type", "application/json")
	assert.Equal(t, http.StatusBadRequest, w.Code)
}

func TestAKeyFromADeniedRequestMayBeSubmittedAgain(t *testing.T) {
	env := newApprovalEnv(t)
	csr := newCSR(t, "p256", "", nil)
	body := `{"profile": "secure", "csr": ` + jsonString(csr.pem()) + `}`
	w := env.request(http.MethodPost, "/api/v1/csr", body, "alice", "Content-Type", "application/json")
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	var waiting struct {
		RequestID string `json:"request_id"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &waiting))

	again := env.request(http.MethodPost, "/api/v1/csr", body, "alice", "Content-Type", "application/json")
	assert.Equal(t, http.StatusConflict, again.Code)
	assert.Contains(t, apiError(t, again), "already submitted in request "+waiting.RequestID)

	assert.Contains(t, env.run("alice", "/cert cancel "+waiting.RequestID), "withdrawn")
	w = env.request(http.MethodPost, "/api/v1/csr", body, "alice", "Content-Type", "application/json")
	assert.Equal(t, http.StatusAccepted, w.Code, "the withdrawn request no longer holds the key")
}
