package main

import (
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/config"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/web/enrollment"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/clientcerts/mattermost-plugin-certs/server/mailer/smtptest"
)

// withMailServer points the plugin's SMTP override at a real SMTP server on
// loopback, with STARTTLS and a password.
func withMailServer(t *testing.T, env *testEnv, delivery string) *smtptest.Server {
	t.Helper()
	server, err := smtptest.Start(smtptest.Options{TLS: true, Username: "certs", Password: "s3cret-smtp"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = server.Close() })
	env.p.mailer.RootCAs = server.RootCAs()
	// The server's own SMTP settings are its defaults; the plugin's
	// override points at the test server.
	serverCfg := &model.Config{}
	serverCfg.SetDefaults()
	env.api.ExpectedCalls = removeCalls(env.api.ExpectedCalls, "GetUnsanitizedConfig")
	env.api.On("GetUnsanitizedConfig").Return(serverCfg).Maybe()
	c := env.p.getConfiguration().Clone()
	c.EmailDelivery = delivery
	c.SMTPServer = "localhost"
	c.SMTPPort = config.FlexInt(server.Port())
	c.SMTPConnectionSecurity = "starttls"
	c.SMTPUsername = "certs"
	c.SMTPPassword = "s3cret-smtp"
	c.SMTPFrom = "certificates@example.com"
	env.configure(c)
	return server
}

// checkCertificateMail checks the one message the server got: to alice,
// with the PKCS#12 that opens with passphrase, which is nowhere in it.
func checkCertificateMail(t *testing.T, server *smtptest.Server, serial, passphrase string) {
	t.Helper()
	received, err := server.WaitForMessages(1, 5*time.Second)
	require.NoError(t, err)
	require.Len(t, received, 1)
	assert.Equal(t, []string{"alice@example.com"}, received[0].To)
	assert.True(t, received[0].TLS, "sent over STARTTLS")
	assert.NotContains(t, string(received[0].Data), passphrase, "the passphrase is never in the email")
	msg, err := received[0].Parse()
	require.NoError(t, err)
	assert.Contains(t, msg.Subject, "Your client certificate (alice)")
	assert.Contains(t, msg.Text, serial)
	assert.Contains(t, msg.Text, "passphrase is not\nin this email")
	require.Len(t, msg.Attachments, 1)
	assert.Equal(t, "alice.p12", msg.Attachments[0].Filename)
	assert.Equal(t, "application/x-pkcs12", msg.Attachments[0].ContentType)
	assert.NotContains(t, base64.StdEncoding.EncodeToString(received[0].Data), passphrase)
	_, leaf, _, err := pkcs12.DecodeChain(msg.Attachments[0].Data, passphrase)
	require.NoError(t, err, "the attachment opens with the passphrase shown to the user")
	assert.Equal(t, "alice", leaf.Subject.CommonName)
}

func TestEnrollmentPageEmailsTheFileWithoutThePassphrase(t *testing.T) {
	env := newTestEnv(t)
	server := withMailServer(t, env, config.EmailDeliveryAllowed)
	token := env.token("alice")

	page := env.request(http.MethodGet, issuePath(token), "", "")
	assert.Contains(t, page.Body.String(), `name="email" id="email">`, "offered, not ticked, when allowed")

	w := env.request(http.MethodPost, "/issue", url.Values{"token": {token}, "email": {"on"}}.Encode(), "", "Accept", "application/json")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var resp enrollment.IssuanceView
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &resp))
	assert.Equal(t, "alice@example.com", resp.EmailedTo)
	assert.Empty(t, resp.EmailError)
	checkCertificateMail(t, server, resp.Serial, resp.Passphrase)
}

func TestEmailDeliverySettingShapesTheOffer(t *testing.T) {
	env := newTestEnv(t)
	withMailServer(t, env, config.EmailDeliveryDefault)
	assert.Contains(t, env.request(http.MethodGet, issuePath(env.token("alice")), "", "").Body.String(), `name="email" id="email" checked>`)

	c := env.p.getConfiguration().Clone()
	c.EmailDelivery = config.EmailDeliveryOff
	env.configure(c)
	assert.NotContains(t, env.request(http.MethodGet, issuePath(env.token("alice")), "", "").Body.String(), `name="email"`)
	assert.Contains(t, env.run("alice", "/cert download --email"), "cannot be sent by email on this server")

	c = c.Clone()
	c.EmailDelivery = "sometimes"
	assert.ErrorContains(t, c.IsValid(), `Email delivery must be "off", "allowed" or "default"`)
	c.EmailDelivery = config.EmailDeliveryAllowed
	c.SMTPPort = 0
	assert.ErrorContains(t, c.IsValid(), "SMTP port must be between 1 and 65535")
}

// withMailServerDown points the SMTP override at a port nothing listens on.
func withMailServerDown(t *testing.T, env *testEnv) {
	t.Helper()
	withMailServer(t, env, config.EmailDeliveryAllowed)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	c := env.p.getConfiguration().Clone()
	c.SMTPPort = config.FlexInt(port)
	env.configure(c)
}

func TestMailServerDownLosesNothingOnThePage(t *testing.T) {
	env := newTestEnv(t)
	withMailServerDown(t, env)

	w := env.request(http.MethodPost, "/issue", url.Values{"token": {env.token("alice")}, "email": {"on"}}.Encode(), "")
	require.Equal(t, http.StatusOK, w.Code)
	body := w.Body.String()
	assert.Contains(t, body, `id="email-error"`)
	assert.Contains(t, body, "the mail server could not be reached")
	assert.Contains(t, body, `id="download"`, "the file is still on the page")
	assert.NotContains(t, strings.Join(env.loggedLines(), "\n"), "s3cret-smtp", "no log line at any level holds the password")
}

func TestDownloadByEmailFromChat(t *testing.T) {
	env := newTestEnv(t)
	server := withMailServer(t, env, config.EmailDeliveryAllowed)

	reply := env.run("alice", "/cert download --email")
	require.Contains(t, reply, "was emailed to alice@example.com", reply)
	serial := regexpFind(t, "certificate `([0-9a-f]+)`", reply)
	passphrase := regexpFind(t, "email:\n\n`([^`]+)`", reply)
	checkCertificateMail(t, server, serial, passphrase)
	for _, dm := range env.dmsTo("alice") {
		assert.NotContains(t, dm.Message, passphrase, "the passphrase is only in the ephemeral reply")
	}
}

func TestDownloadByEmailWhenTheMailServerIsDownKeepsTheCertificate(t *testing.T) {
	env := newTestEnv(t)
	withMailServerDown(t, env)

	reply := env.run("alice", "/cert download --email")
	require.Contains(t, reply, "the mail server could not be reached", reply)
	serial := regexpFind(t, "certificate `([0-9a-f]+)`", reply)
	m := pickupPattern.FindStringSubmatch(strings.ReplaceAll(reply, "[Download it]", "[Collect my certificate]"))
	require.Len(t, m, 3, reply)

	resp := env.issueJSON(m[2])
	assert.Equal(t, serial, resp.Serial, "the same certificate, not a new one")
	der := resp.PKCS12
	_, leaf, _, err := pkcs12.DecodeChain(der, resp.Passphrase)
	require.NoError(t, err)
	assert.Equal(t, "alice", leaf.Subject.CommonName)
	certs, err := env.p.store.ListCertificates(records.MattermostUser(env.user("alice").Id))
	require.NoError(t, err)
	assert.Len(t, certs, 1, "recorded once")
	assert.Equal(t, http.StatusConflict, env.request(http.MethodPost, "/issue", form(m[2]), "").Code, "collected once")
}

func TestSMTPPasswordIsSealedOnSave(t *testing.T) {
	env := newTestEnv(t)
	cfg := env.p.getConfiguration()
	current := map[string]any{"linksigningsecret": cfg.LinkSigningSecret, "encryptionsecret": cfg.EncryptionSecret}
	next := map[string]any{"linksigningsecret": cfg.LinkSigningSecret, "encryptionsecret": cfg.EncryptionSecret,
		"smtpserver": "smtp.example.com", "smtpport": 587, "smtppassword": "s3cret-smtp"}
	saved, err := env.saveConfigReturning(current, next)
	require.NoError(t, err)
	require.NotNil(t, saved)
	marker, _ := saved.PluginSettings.Plugins["certs"]["smtppassword"].(string)
	require.True(t, config.IsSealedSecret(marker), "saved: %v", saved.PluginSettings.Plugins["certs"])

	c := cfg.Clone()
	c.SMTPServer = "smtp.example.com"
	c.SMTPPort = 587
	c.SMTPPassword = marker
	settings, err := env.p.mailer.Settings(c)
	require.NoError(t, err)
	assert.Equal(t, "s3cret-smtp", settings.Password)
}

func regexpFind(t *testing.T, pattern, s string) string {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(s)
	require.Len(t, m, 2, "%q in %q", pattern, s)
	return m[1]
}
