package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"
	"github.com/clientcerts/mattermost-plugin-certs/server/web/enrollment"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.step.sm/crypto/pemutil"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/clientcerts/mattermost-plugin-certs/server/admission"
	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
)

func form(token string) string {
	return url.Values{"token": {token}}.Encode()
}

func issuePath(token string) string {
	return "/issue?token=" + url.QueryEscape(token)
}

// issueJSON posts a token and decodes the JSON answer.
func (env *testEnv) issueJSON(token string) enrollment.IssuanceView {
	env.t.Helper()
	w := env.request(http.MethodPost, "/issue", form(token), "", "Accept", "application/json")
	require.Equal(env.t, http.StatusOK, w.Code, w.Body.String())
	var resp enrollment.IssuanceView
	require.NoError(env.t, json.Unmarshal(w.Body.Bytes(), &resp))
	return resp
}

func TestIssuePageShowsWhatWillBeCreatedWithoutConsuming(t *testing.T) {
	env := newTestEnv(t)
	token := env.token("alice")

	for range 2 { // a link previewer's GET must not burn the link
		w := env.request(http.MethodGet, issuePath(token), "", "")
		require.Equal(t, http.StatusOK, w.Code)
		body := w.Body.String()
		assert.Contains(t, body, "alice@example.com")
		assert.Contains(t, body, `<form method="post">`)
		assert.Contains(t, body, `name="token" value="`+token+`"`)
		assert.Contains(t, body, "ECDSA P-256")
		assert.Contains(t, w.Header().Get("Content-Security-Policy"), "default-src 'none'")
		assert.Equal(t, "no-referrer", w.Header().Get("Referrer-Policy"))
		assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
	}
	env.issueJSON(token)
}

func TestIssueSubmitCreatesWorkingPKCS12(t *testing.T) {
	env := newTestEnv(t)
	alice := env.user("alice")
	resp := env.issueJSON(env.token("alice"))

	assert.Equal(t, "alice.p12", resp.Filename)
	assert.Regexp(t, `^([2-9a-km-np-z]{5}-){5}[2-9a-km-np-z]{5}$`, resp.Passphrase)
	der := resp.PKCS12
	key, leaf, chain, err := pkcs12.DecodeChain(der, resp.Passphrase)
	require.NoError(t, err)
	require.NotNil(t, key)
	require.Len(t, chain, 2, "issuing CA and root are inside")

	assert.Equal(t, "alice", leaf.Subject.CommonName)
	assert.Equal(t, []string{"alice@example.com"}, leaf.EmailAddresses)
	assert.Equal(t, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, leaf.ExtKeyUsage)
	assert.Equal(t, resp.Serial, leaf.SerialNumber.Text(16))
	assert.GreaterOrEqual(t, leaf.SerialNumber.BitLen(), 128)
	assert.WithinDuration(t, env.now().Add(365*24*time.Hour), leaf.NotAfter, time.Minute)
	roots := x509.NewCertPool()
	roots.AddCert(chain[1])
	inter := x509.NewCertPool()
	inter.AddCert(chain[0])
	_, err = leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, CurrentTime: env.now()})
	require.NoError(t, err)

	record, err := env.p.store.GetCertificate(resp.Serial)
	require.NoError(t, err)
	assert.Equal(t, records.MattermostUser(alice.Id), record.Owner)
	assert.Equal(t, records.CertIssued, record.State)
	assert.Equal(t, leaf.Raw, record.DER)

	dms := env.dmsTo("alice")
	require.Len(t, dms, 1)
	assert.Contains(t, dms[0].Message, resp.Serial)
	assert.Contains(t, dms[0].Message, "/cert revoke "+resp.Serial)
	assert.Equal(t, testBotID, dms[0].UserId)
}

func TestIssueSubmitHTMLShowsPassphraseOnceWithDownload(t *testing.T) {
	env := newTestEnv(t)
	w := env.request(http.MethodPost, "/issue", form(env.token("alice")), "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	body := w.Body.String()
	pass := regexp.MustCompile(`<code class="passphrase" id="passphrase">([^<]+)</code>`).FindStringSubmatch(body)
	require.Len(t, pass, 2)
	data := regexp.MustCompile(`id="download" download="alice.p12" href="data:application/x-pkcs12;base64,([^"]+)"`).FindStringSubmatch(body)
	require.Len(t, data, 2, body)
	// Attribute values are HTML-escaped ('+' becomes &#43;); browsers unescape.
	der, err := base64.StdEncoding.DecodeString(html.UnescapeString(data[1]))
	require.NoError(t, err)
	_, _, _, err = pkcs12.DecodeChain(der, pass[1])
	require.NoError(t, err)
}

func TestIssueTokenIsSingleUse(t *testing.T) {
	env := newTestEnv(t)
	token := env.token("alice")
	env.issueJSON(token)

	w := env.request(http.MethodPost, "/issue", form(token), "")
	assert.Equal(t, http.StatusConflict, w.Code)
	assert.Contains(t, w.Body.String(), "already been used")
	assert.Contains(t, w.Body.String(), "/cert download")

	w = env.request(http.MethodGet, issuePath(token), "", "")
	assert.Equal(t, http.StatusConflict, w.Code)

	certs, err := env.p.store.ListCertificates(records.MattermostUser(env.user("alice").Id))
	require.NoError(t, err)
	assert.Len(t, certs, 1)
}

// submitConcurrently posts every token to /issue at once and returns the
// status codes in order.
func (env *testEnv) submitConcurrently(tokens []string) []int {
	codes := make([]int, len(tokens))
	var wg sync.WaitGroup
	for i, token := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = env.request(http.MethodPost, "/issue", form(token), "", "Accept", "application/json").Code
		}()
	}
	wg.Wait()
	return codes
}

func TestIssueConcurrentSubmitsIssueExactlyOnce(t *testing.T) {
	env := newTestEnv(t)
	token := env.token("alice")
	tokens := make([]string, 20)
	for i := range tokens {
		tokens[i] = token
	}
	codes := env.submitConcurrently(tokens)
	ok := 0
	for _, c := range codes {
		if c == http.StatusOK {
			ok++
		} else {
			assert.Equal(t, http.StatusConflict, c)
		}
	}
	assert.Equal(t, 1, ok)
	certs, err := env.p.store.ListCertificates(records.MattermostUser(env.user("alice").Id))
	require.NoError(t, err)
	assert.Len(t, certs, 1)
}

func TestIssueRejectsBadTokens(t *testing.T) {
	env := newTestEnv(t)
	valid := env.token("alice")
	parts := strings.Split(valid, ".")
	require.Len(t, parts, 3)
	forged := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))

	otherEnv := newTestEnv(t) // same claims shape, another secret
	otherEnv.p.getConfiguration().LinkSigningSecret = strings.Repeat("x", 43)
	otherCfg := otherEnv.p.getConfiguration().Clone()
	otherCfg.LinkSigningSecret = strings.Repeat("x", 43)
	otherEnv.configure(otherCfg)
	foreign := otherEnv.token("alice")

	cases := map[string]struct {
		token  string
		status int
	}{
		"missing":          {"", http.StatusBadRequest},
		"malformed":        {"not-a-token", http.StatusBadRequest},
		"forged signature": {forged, http.StatusBadRequest},
		"other secret":     {foreign, http.StatusBadRequest},
		"truncated":        {valid[:len(valid)-5], http.StatusBadRequest},
		"huge":             {strings.Repeat("a", 8000), http.StatusBadRequest},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			for _, w := range []interface {
				Result() *http.Response
			}{
				env.request(http.MethodGet, issuePath(tc.token), "", ""),
				env.request(http.MethodPost, "/issue", form(tc.token), ""),
			} {
				resp := w.Result()
				assert.Equal(t, tc.status, resp.StatusCode)
				assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
			}
			body := env.request(http.MethodGet, issuePath(tc.token), "", "").Body.String()
			assert.Contains(t, body, "/cert download")
		})
	}
	certs, err := env.p.store.ListCertificates(records.MattermostUser(env.user("alice").Id))
	require.NoError(t, err)
	assert.Empty(t, certs)
}

func TestIssueRejectsExpiredToken(t *testing.T) {
	env := newTestEnv(t)
	token := env.token("alice")
	env.advance(6 * time.Minute)
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		var w interface{ Result() *http.Response }
		if method == http.MethodGet {
			w = env.request(method, issuePath(token), "", "")
		} else {
			w = env.request(method, "/issue", form(token), "")
		}
		assert.Equal(t, http.StatusGone, w.Result().StatusCode, method)
	}
}

func TestIssueRefusesAnotherUsersSessionWithoutBurningTheLink(t *testing.T) {
	env := newTestEnv(t)
	token := env.token("alice")

	w := env.request(http.MethodGet, issuePath(token), "", "bob")
	assert.Equal(t, http.StatusForbidden, w.Code)
	assert.Contains(t, w.Body.String(), "belongs to another user")
	w = env.request(http.MethodPost, "/issue", form(token), "bob")
	assert.Equal(t, http.StatusForbidden, w.Code)

	// Alice, signed in or not, can still use it.
	w = env.request(http.MethodGet, issuePath(token), "", "alice")
	assert.Equal(t, http.StatusOK, w.Code)
	w = env.request(http.MethodPost, "/issue", form(token), "alice", "Accept", "application/json")
	assert.Equal(t, http.StatusOK, w.Code)
}

// A link minted while its user was active is refused once they are not.
func TestIssueRefusesDeactivatedUser(t *testing.T) {
	env := newTestEnv(t)
	s, err := env.p.current.Get()
	require.NoError(t, err)
	token, _, err := s.Core.Minter.Mint(records.MattermostUser(env.user("gone").Id), linktoken.PurposeIssue, "default", time.Minute)
	require.NoError(t, err)
	w := env.request(http.MethodPost, "/issue", form(token), "")
	assert.Equal(t, http.StatusForbidden, w.Code)
}

func TestIssueRefusesOversizedForm(t *testing.T) {
	env := newTestEnv(t)
	body := form(env.token("alice")) + "&pad=" + strings.Repeat("x", web.MaxFormBytes)
	w := env.request(http.MethodPost, "/issue", body, "")
	assert.Equal(t, http.StatusBadRequest, w.Code)
	assert.Contains(t, w.Body.String(), "form could not be read")
}

// failingConnector is a CA that is down.
type failingConnector struct {
	connector.Connector
	kind connector.Kind
}

func (f *failingConnector) Sign(context.Context, connector.SignRequest) (*connector.Result, error) {
	return nil, &connector.Error{Kind: f.kind, Connector: "flaky", Message: "connection refused"}
}

// withFailingConnector is s with its built-in connector failing with kind.
func withFailingConnector(s *app.Snapshot, kind connector.Kind) *app.Snapshot {
	return withConnector(s, "builtin", &failingConnector{Connector: s.Core.Connectors["builtin"], kind: kind})
}

func TestIssueCAFailureKeepsTheLinkUsable(t *testing.T) {
	env := newTestEnv(t)
	token := env.token("alice")
	healthy, err := env.p.current.Get()
	require.NoError(t, err)
	env.p.current.Store(withFailingConnector(healthy, connector.KindUnavailable))

	w := env.request(http.MethodPost, "/issue", form(token), "")
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Contains(t, w.Body.String(), "could not be reached")
	assert.Contains(t, w.Body.String(), "link still works")

	env.p.current.Store(healthy)
	env.issueJSON(token)
}

func TestIssueCARejectionIsExplained(t *testing.T) {
	env := newTestEnv(t)
	healthy, err := env.p.current.Get()
	require.NoError(t, err)
	env.p.current.Store(withFailingConnector(healthy, connector.KindRejected))

	w := env.request(http.MethodPost, "/issue", form(env.token("alice")), "")
	assert.Equal(t, http.StatusUnprocessableEntity, w.Code)
	assert.Contains(t, w.Body.String(), "refused the request")
}

func TestIssueWhileMisconfiguredExplains(t *testing.T) {
	env := newTestEnv(t)
	token := env.token("alice")
	msg := "CA private key: broken"
	env.p.current.Store(nil)
	env.p.current.Fail(msg)
	w := env.request(http.MethodPost, "/issue", form(token), "")
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Contains(t, w.Body.String(), "administrator")
}

func TestManyConcurrentIssuancesForOneUserAreAllRecorded(t *testing.T) {
	env := newTestEnv(t)
	const n = 50
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = env.token("alice")
	}
	serials := make([]string, n)
	var wg sync.WaitGroup
	for i, token := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := env.request(http.MethodPost, "/issue", form(token), "", "Accept", "application/json")
			if assert.Equal(t, http.StatusOK, w.Code, w.Body.String()) {
				var resp enrollment.IssuanceView
				assert.NoError(t, json.Unmarshal(w.Body.Bytes(), &resp))
				serials[i] = resp.Serial
			}
		}()
	}
	wg.Wait()
	listed, err := env.p.store.ListSerials(records.MattermostUser(env.user("alice").Id))
	require.NoError(t, err)
	assert.ElementsMatch(t, serials, listed, "the owner's index lists every certificate")
}

func TestErrorPagesAreTitledInWords(t *testing.T) {
	env := newTestEnv(t)
	token := env.token("alice")
	env.issueJSON(token)
	body := env.request(http.MethodPost, "/issue", form(token), "").Body.String()
	assert.Contains(t, body, "<h1>Link already used</h1>")
	body = env.request(http.MethodGet, issuePath("garbage"), "", "").Body.String()
	assert.Contains(t, body, "<h1>This link cannot be used</h1>")
}

func TestIssueAlsoGivesPEMAndDER(t *testing.T) {
	env := newTestEnv(t)
	w := env.request(http.MethodPost, "/issue", form(env.token("alice"))+"&key_pem=true", "", "Accept", "application/json")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	resp := decodeJSON[enrollment.IssuanceView](t, w.Body.Bytes())
	der := resp.PKCS12
	_, leaf, chain, err := pkcs12.DecodeChain(der, resp.Passphrase)
	require.NoError(t, err)

	certs, err := pki.ParseCertificatesPEM([]byte(resp.CertificatePEM))
	require.NoError(t, err)
	require.Len(t, certs, 3, "leaf, issuing CA, root")
	assert.Equal(t, leaf.Raw, certs[0].Raw)
	assert.Equal(t, chain[0].Raw, certs[1].Raw)

	assert.Equal(t, leaf.Raw, resp.CertificateDER)
	assert.Equal(t, leaf.Subject.String(), resp.Subject, "the subject, as a CSR's answer has it")
	assert.Nil(t, resp.Attested, "no attestation for a key the server made")

	// On the wire, both files are strings of standard base64.
	wire := decodeJSON[map[string]any](t, w.Body.Bytes())
	for field, want := range map[string][]byte{"pkcs12": resp.PKCS12, "certificate_der": leaf.Raw} {
		text, ok := wire[field].(string)
		require.True(t, ok, "%s is a string", field)
		got, err := base64.StdEncoding.DecodeString(text)
		require.NoError(t, err, field)
		assert.Equal(t, want, got, field)
	}

	block, _ := pem.Decode([]byte(resp.KeyPEM))
	require.NotNil(t, block)
	assert.Equal(t, "ENCRYPTED PRIVATE KEY", block.Type)
	keyDER, err := pemutil.DecryptPKCS8PrivateKey(block.Bytes, []byte(resp.Passphrase))
	require.NoError(t, err)
	key, err := x509.ParsePKCS8PrivateKey(keyDER)
	require.NoError(t, err)
	assert.True(t, pki.PublicKeysEqual(leaf.PublicKey, key.(crypto.Signer).Public()))

	page := env.request(http.MethodPost, "/issue", form(env.token("alice"))+"&key_pem=on", "").Body.String()
	for _, link := range []string{`download="alice.pem"`, `download="alice-key.pem"`, `download="alice.cer"`} {
		assert.Contains(t, page, link)
	}
}

// Nothing secret of an issuance reaches the log, at any level: not the
// passphrase, the PKCS#12 file, the key, or the link.
func TestIssuanceLogsNoSecret(t *testing.T) {
	env := newTestEnv(t)
	token := env.token("alice")
	w := env.request(http.MethodPost, "/issue", form(token)+"&key_pem=true", "", "Accept", "application/json")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	resp := decodeJSON[enrollment.IssuanceView](t, w.Body.Bytes())
	logs := strings.Join(env.loggedLines(), "\n")
	require.Contains(t, logs, resp.Serial, "the issuance is logged")
	for what, secret := range map[string]string{
		"passphrase": resp.Passphrase, "PKCS#12": base64.StdEncoding.EncodeToString(resp.PKCS12)[:64], "key": "PRIVATE KEY", "link": token,
	} {
		assert.NotContains(t, logs, secret, "the log holds the %s", what)
	}
}

// The key's PEM copy costs a key derivation: it is made only when the user
// asks for it on the page (or in the form a script posts).
func TestKeyPEMOnlyWhenAsked(t *testing.T) {
	env := newTestEnv(t)
	token := env.token("alice")
	confirm := env.request(http.MethodGet, issuePath(token), "", "").Body.String()
	assert.Contains(t, confirm, `name="key_pem"`, "the page offers the PEM copy")
	assert.NotContains(t, confirm, `name="key_pem" id="key_pem" value="true" checked`, "not ticked by default")

	w := env.request(http.MethodPost, "/issue", form(token), "", "Accept", "application/json")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.NotContains(t, w.Body.String(), `"key_pem"`)
	resp := decodeJSON[enrollment.IssuanceView](t, w.Body.Bytes())
	assert.NotEmpty(t, resp.CertificatePEM, "the certificate's PEM and DER cost nothing and are always there")
	assert.NotEmpty(t, resp.CertificateDER)

	page := env.request(http.MethodPost, "/issue", form(env.token("alice")), "").Body.String()
	assert.NotContains(t, page, `download="alice-key.pem"`)
	assert.Contains(t, page, `id="key-pem-not-asked"`)
	assert.Contains(t, page, `download="alice.pem"`)
}

func TestUserMayChooseThePKCS12Format(t *testing.T) {
	env := newTestEnv(t)
	pbes2 := []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d}
	token := env.token("alice")

	page := env.request(http.MethodGet, issuePath(token), "", "").Body.String()
	assert.Contains(t, page, `name="format" value="compatible" checked`, "the admin's format is the default")
	assert.Contains(t, page, `name="format" value="modern">`)

	w := env.request(http.MethodPost, "/issue", form(token)+"&format=rc2", "")
	assert.Equal(t, http.StatusBadRequest, w.Code)
	assert.Contains(t, w.Body.String(), "Unknown file format")

	w = env.request(http.MethodPost, "/issue", form(token)+"&format=modern", "", "Accept", "application/json")
	require.Equal(t, http.StatusOK, w.Code, "a refused format does not burn the link")
	resp := decodeJSON[enrollment.IssuanceView](t, w.Body.Bytes())
	der := resp.PKCS12
	assert.True(t, bytes.Contains(der, pbes2), "modern files use PBES2")
	_, _, _, err := pkcs12.DecodeChain(der, resp.Passphrase)
	require.NoError(t, err)

	plain := env.issueJSON(env.token("alice"))
	der = plain.PKCS12
	assert.False(t, bytes.Contains(der, pbes2), "without a choice, the admin's 3DES format")
}

// RSA keys take long to make, so they wait in a bounded line. A request
// that finds it full is told to come back, with Retry-After, before its
// link is claimed: the link still works. ECDSA keys never wait in it.
func TestRSAKeysBeyondTheQueueAreBusyAndKeepTheirLinks(t *testing.T) {
	env := newTestEnvWithCatalog(t, `{"connectors": [{"name": "builtin", "type": "builtin"}],
		"profiles": [{"name": "vpn"}, {"name": "rsa", "key_types": ["rsa-2048"]}]}`)
	env.p.rsaKeys = admission.NewQueue(1, pki.KeyRSA2048.GenerationCost())
	env.configure(env.p.getConfiguration())
	full, err := env.p.rsaKeys.Admit(pki.KeyRSA2048.GenerationCost())
	require.NoError(t, err)

	token := env.tokenFor("alice", "rsa")
	w := env.request(http.MethodPost, "/issue", form(token), "", "Accept", "application/json")
	require.Equal(t, http.StatusServiceUnavailable, w.Code, w.Body.String())
	assert.Equal(t, "5", w.Header().Get("Retry-After"))
	assert.Contains(t, w.Body.String(), "busy")
	page := env.request(http.MethodPost, "/issue", form(token), "")
	require.Equal(t, http.StatusServiceUnavailable, page.Code)
	assert.Contains(t, page.Body.String(), "Your link still works")
	assert.Equal(t, http.StatusOK, env.request(http.MethodGet, issuePath(token), "", "").Code, "the link is not used up")

	assert.NotEmpty(t, env.issueJSON(env.tokenFor("alice", "vpn")).Serial, "P-256 does not wait behind RSA")
	reply := env.run("alice", "/cert download --email rsa")
	assert.Contains(t, reply, "busy creating other keys", reply)

	full.Release()
	resp := env.issueJSON(token)
	record, err := env.p.store.GetCertificate(resp.Serial)
	require.NoError(t, err)
	assert.Equal(t, string(pki.KeyRSA2048), record.KeyType)
	ticket, err := env.p.rsaKeys.Admit(pki.KeyRSA2048.GenerationCost())
	require.NoError(t, err, "the issuance gave its place back")
	ticket.Release()
}
