//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/attest/attesttest"
	"github.com/clientcerts/mattermost-plugin-certs/server/mailer/smtptest"
)

// pluginMultipart posts text fields and files as multipart/form-data.
func pluginMultipart(t *testing.T, path, bearer string, fields map[string]string, files map[string][]byte) pluginReply {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for name, value := range fields {
		require.NoError(t, mw.WriteField(name, value))
	}
	for name, content := range files {
		fw, err := mw.CreateFormFile(name, name)
		require.NoError(t, err)
		_, err = fw.Write(content)
		require.NoError(t, err)
	}
	require.NoError(t, mw.Close())
	return pluginSend(t, path, bearer, mw.FormDataContentType(), buf.Bytes())
}

// signedAnswer is the JSON answer of a signed CSR.
type signedAnswer struct {
	Serial         string `json:"serial"`
	CertificatePEM string `json:"certificate_pem"`
	Attested       bool   `json:"attested"`
	DeviceSerial   string `json:"device_serial"`
}

var csrLinkPattern = regexp.MustCompile("https?://[^\\s()\\[\\]<>\"'`]+/plugins/" + pluginID + `/csr\?token=[A-Za-z0-9_.-]+`)

// TestCSRFromOpenSSLThroughTheServer: a key made by OpenSSL stays with the
// user; the plugin signs its CSR through the upload link with the account's
// names, OpenSSL verifies the result, and the same key is not certified
// twice.
func TestCSRFromOpenSSLThroughTheServer(t *testing.T) {
	u := newTestUser(t, "csr")
	dir := t.TempDir()
	runTool(t, dir, "openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "key.pem")
	runTool(t, dir, "openssl", "req", "-new", "-key", "key.pem", "-subj", "/CN=somebody-else", "-out", "request.csr")
	runTool(t, dir, "openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-out", "weak.pem")
	runTool(t, dir, "openssl", "req", "-new", "-key", "weak.pem", "-subj", "/CN=weak", "-outform", "DER", "-out", "weak.der")
	csrPEM, err := os.ReadFile(filepath.Join(dir, "request.csr"))
	require.NoError(t, err)
	weakDER, err := os.ReadFile(filepath.Join(dir, "weak.der"))
	require.NoError(t, err)

	reply := u.runCommand(t, "/cert csr")
	link := csrLinkPattern.FindString(reply.Message)
	require.NotEmpty(t, link, reply.Message)
	parsed, err := url.Parse(link)
	require.NoError(t, err)
	token := parsed.Query().Get("token")

	page := pluginRequest(t, http.MethodGet, "/csr?token="+url.QueryEscape(token), nil, "", "")
	require.Equal(t, http.StatusOK, page.status, page.String())
	assert.Contains(t, page.body, `id="csr_file"`)

	weak := pluginMultipart(t, "/csr", u.Token(), map[string]string{"token": token}, map[string][]byte{"csr_file": weakDER})
	require.Equal(t, http.StatusUnprocessableEntity, weak.status, weak.String())
	assert.Contains(t, weak.body, "unsupported RSA key size 1024")

	signed := pluginMultipart(t, "/csr", u.Token(), map[string]string{"token": token, "csr": string(csrPEM)}, nil)
	require.Equal(t, http.StatusCreated, signed.status, signed.String())
	var answer signedAnswer
	require.NoError(t, json.Unmarshal([]byte(signed.body), &answer))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cert.pem"), []byte(answer.CertificatePEM), 0o600))
	certs := pemCertificates(t, answer.CertificatePEM)
	require.GreaterOrEqual(t, len(certs), 2)
	assert.Equal(t, u.name(), certs[0].Subject.CommonName, "the account's name, not the CSR's")

	chain := fetchCAChain(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "root.pem"), encodePEM(chain[len(chain)-1]), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "issuing.pem"), encodePEM(chain[:len(chain)-1]...), 0o600))
	runTool(t, dir, "openssl", "verify", "-CAfile", "root.pem", "-untrusted", "issuing.pem", "-purpose", "sslclient", "cert.pem")
	keyPub := runTool(t, dir, "openssl", "pkey", "-in", "key.pem", "-pubout")
	certPub := runTool(t, dir, "openssl", "x509", "-in", "cert.pem", "-noout", "-pubkey")
	assert.Equal(t, keyPub, certPub, "the certificate is for the user's own key")

	again := pluginJSON(t, "/api/v1/csr", u.Token(), map[string]string{"csr": string(csrPEM)})
	assert.Equal(t, http.StatusConflict, again.status, again.String())
	assert.Contains(t, again.body, answer.Serial)

	list := pluginRequest(t, http.MethodGet, "/api/v1/certificates", nil, u.Token(), "application/json")
	assert.Contains(t, list.body, `"origin":"csr"`)
}

// TestAttestedCSRThroughTheServer: a profile that requires hardware
// attestation accepts a CSR whose key a trusted device attests, and
// records the device.
func TestAttestedCSRThroughTheServer(t *testing.T) {
	u := newTestUser(t, "attest")
	device, err := attesttest.New("E2E Yubico", 7654321)
	require.NoError(t, err)
	require.NoError(t, withPluginSettings(t, func(s map[string]any) {
		s["attestationroots"] = device.RootPEM()
		s["connectorsandprofiles"] = `{"profiles": [{"name": "hardware", "attestation": "require"}]}`
	}))
	waitForProfiles(t, u, "hardware")

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	csr := csrFor(t, key)
	missing := pluginJSON(t, "/api/v1/csr", u.Token(), map[string]string{"csr": csr})
	assert.Equal(t, http.StatusUnprocessableEntity, missing.status, missing.String())
	assert.Contains(t, missing.body, "requires a hardware attestation")

	attestation, err := device.Attest(key.Public())
	require.NoError(t, err)
	signed := pluginJSON(t, "/api/v1/csr", u.Token(), map[string]string{"csr": csr, "attestation": attestation})
	require.Equal(t, http.StatusCreated, signed.status, signed.String())
	var answer signedAnswer
	require.NoError(t, json.Unmarshal([]byte(signed.body), &answer))
	assert.True(t, answer.Attested)
	assert.Equal(t, "7654321", answer.DeviceSerial)

	assert.Contains(t, u.runCommand(t, "/cert download").Message, "need a key made in a hardware device")
}

func csrFor(t *testing.T, key crypto.Signer) string {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

// TestRegisterAnExistingCertificateThroughTheServer: a certificate made
// elsewhere (here by OpenSSL) is registered once and listed.
func TestRegisterAnExistingCertificateThroughTheServer(t *testing.T) {
	u := newTestUser(t, "import")
	dir := t.TempDir()
	runTool(t, dir, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-noenc",
		"-keyout", "key.pem", "-out", "cert.pem", "-days", "30", "-subj", "/CN="+u.name(),
		"-addext", "basicConstraints=critical,CA:FALSE", "-addext", "extendedKeyUsage=clientAuth")
	runTool(t, dir, "openssl", "x509", "-in", "cert.pem", "-outform", "DER", "-out", "cert.der")
	der, err := os.ReadFile(filepath.Join(dir, "cert.der"))
	require.NoError(t, err)

	registered := pluginMultipart(t, "/api/v1/certificates/import", u.Token(), nil, map[string][]byte{"certificate": der})
	require.Equal(t, http.StatusCreated, registered.status, registered.String())
	assert.Contains(t, registered.body, `"origin":"imported"`)
	again := pluginJSON(t, "/api/v1/certificates/import", u.Token(), map[string]string{"certificate": base64.StdEncoding.EncodeToString(der)})
	assert.Equal(t, http.StatusUnprocessableEntity, again.status)
	assert.Contains(t, again.body, "already registered")

	other := newTestUser(t, "notmine")
	refused := pluginJSON(t, "/api/v1/certificates/import", other.Token(), map[string]string{"certificate": base64.StdEncoding.EncodeToString(der)})
	assert.Equal(t, http.StatusUnprocessableEntity, refused.status)
	assert.Contains(t, refused.body, "is not "+other.name()+"'s")

	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	assert.NotEmpty(t, tableRowWith(u.runCommand(t, "/cert list").Message, cert.SerialNumber.Text(16)))
}

// TestEmailDeliveryThroughTheServer: `/cert download --email` through
// Mattermost sends the PKCS#12 to a real SMTP server without its
// passphrase, which OpenSSL then opens the attachment with; with the mail
// server down, the certificate waits behind a download link.
func TestEmailDeliveryThroughTheServer(t *testing.T) {
	u := newTestUser(t, "mail")
	server, err := smtptest.Start(smtptest.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = server.Close() })
	require.NoError(t, withPluginSettings(t, func(s map[string]any) {
		s["emaildelivery"] = "allowed"
		s["smtpserver"] = "127.0.0.1"
		s["smtpport"] = server.Port()
		s["smtpconnectionsecurity"] = "none"
		s["smtpfrom"] = "certificates@example.com"
	}))
	waitForProfiles(t, u, "default")

	reply := u.runCommand(t, "/cert download --email")
	require.Contains(t, reply.Message, "was emailed to", reply.Message)
	passphrase := regexp.MustCompile("email:\n\n`([^`]+)`").FindStringSubmatch(reply.Message)
	require.Len(t, passphrase, 2, reply.Message)
	received, err := server.WaitForMessages(1, replyTimeout)
	require.NoError(t, err)
	assert.Equal(t, []string{u.User.Email}, received[0].To)
	assert.NotContains(t, string(received[0].Data), passphrase[1])
	msg, err := received[0].Parse()
	require.NoError(t, err)
	require.Len(t, msg.Attachments, 1)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "mail.p12"), msg.Attachments[0].Data, 0o600))
	out := runTool(t, dir, "openssl", "pkcs12", "-in", "mail.p12", "-passin", "pass:"+passphrase[1], "-nokeys", "-clcerts")
	assert.Contains(t, out, "CN = "+u.name())

	// The mail server goes away: the certificate is kept for download.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	deadPort := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	require.NoError(t, savePluginSettings(t, func(s map[string]any) { s["smtpport"] = deadPort }))
	deadline := time.Now().Add(settingsTimeout)
	for {
		reply = u.runCommand(t, "/cert download --email")
		if strings.Contains(reply.Message, "could not be reached") || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	require.Contains(t, reply.Message, "the mail server could not be reached", reply.Message)
	link := issueLinkPattern.FindString(reply.Message)
	require.NotEmpty(t, link, reply.Message)
	file, leaf := u.redeemJSON(t, tokenOf(t, link))
	assert.Equal(t, u.name(), leaf.Subject.CommonName)
	assert.Contains(t, reply.Message, file.serial, "the certificate made before the email failed")
}

// TestEmailThroughMattermostsSMTPSettings: with no SMTP settings of its own,
// the plugin sends through the server's (System Console › SMTP), read with
// the plugin API.
func TestEmailThroughMattermostsSMTPSettings(t *testing.T) {
	u := newTestUser(t, "mmsmtp")
	server, err := smtptest.Start(smtptest.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = server.Close() })

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, _, err := bed.admin.Client.GetConfig(ctx)
	require.NoError(t, err)
	original := cfg.EmailSettings
	cfg.EmailSettings.SMTPServer = model.NewPointer("127.0.0.1")
	cfg.EmailSettings.SMTPPort = model.NewPointer(strconv.Itoa(server.Port()))
	cfg.EmailSettings.ConnectionSecurity = model.NewPointer(model.ConnSecurityNone)
	cfg.EmailSettings.EnableSMTPAuth = model.NewPointer(false)
	cfg.EmailSettings.FeedbackEmail = model.NewPointer("chat@example.com")
	_, _, err = bed.admin.Client.UpdateConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cfg, _, err := bed.admin.Client.GetConfig(ctx)
		require.NoError(t, err)
		cfg.EmailSettings = original
		_, _, err = bed.admin.Client.UpdateConfig(ctx, cfg)
		require.NoError(t, err)
	})

	reply := u.runCommand(t, "/cert download --email")
	require.Contains(t, reply.Message, "was emailed to", reply.Message)
	received, err := server.WaitForMessages(1, replyTimeout)
	require.NoError(t, err)
	assert.Equal(t, "chat@example.com", received[0].From, "the server's sender address")
	assert.Equal(t, []string{u.User.Email}, received[0].To)
}
