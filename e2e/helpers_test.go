//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/require"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/clientcerts/mattermost-plugin-certs/e2e/testbed"
)

const (
	// replyTimeout bounds every wait for a message from the plugin.
	replyTimeout = 20 * time.Second
	// requestTimeout bounds every HTTP request (issuance generates a key).
	requestTimeout = 60 * time.Second
)

// testUser is a team member with an open WebSocket, ready to run commands.
type testUser struct {
	*testbed.Session
	ws           *testbed.WebSocket
	townSquareID string
}

func createTestUser(ctx context.Context, username string) (*testUser, error) {
	session, err := bed.mm.CreateUserInTeam(ctx, bed.admin.Client, username, userPassword, bed.team.Id)
	if err != nil {
		return nil, err
	}
	townSquare, _, err := session.Client.GetChannelByName(ctx, model.DefaultChannelName, bed.team.Id, "")
	if err != nil {
		return nil, fmt.Errorf("finding town square for %s: %w", username, err)
	}
	ws, err := bed.mm.ConnectWebSocket(session.Token())
	if err != nil {
		return nil, fmt.Errorf("WebSocket for %s: %w", username, err)
	}
	return &testUser{Session: session, ws: ws, townSquareID: townSquare.Id}, nil
}

var userSequence atomic.Int32

// newTestUser creates a user that only the calling test uses, so what it
// sees (certificates, DMs) does not depend on other tests.
func newTestUser(t *testing.T, prefix string) *testUser {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	user, err := createTestUser(ctx, fmt.Sprintf("%s%d", prefix, userSequence.Add(1)))
	require.NoError(t, err)
	t.Cleanup(user.ws.Close)
	return user
}

func (u *testUser) name() string { return u.User.Username }

func requireBot(t *testing.T) {
	t.Helper()
	require.NoError(t, bed.botError)
}

// runCommand executes a slash command in town square and returns the
// ephemeral reply the plugin's bot sends over the WebSocket.
func (u *testUser) runCommand(t *testing.T, command string) *model.Post {
	t.Helper()
	requireBot(t)
	u.ws.Reset()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	_, _, err := u.Client.ExecuteCommand(ctx, u.townSquareID, command)
	require.NoError(t, err, "executing %q as %s", command, u.name())
	reply, err := u.ws.WaitForEphemeral(replyTimeout, func(post *model.Post) bool {
		return post.UserId == bed.botID
	})
	require.NoError(t, err, "waiting for the bot's (%s) ephemeral reply to %q as %s", bed.botID, command, u.name())
	require.Equal(t, u.townSquareID, reply.ChannelId, "the reply to %q belongs in the channel the command ran in", command)
	return reply
}

// issueLinkPattern finds the link in a message; it stops at Markdown's
// brackets so "[text](url)" yields just the URL.
var issueLinkPattern = regexp.MustCompile("https?://[^\\s()\\[\\]<>\"'`]+/plugins/" + pluginID + `/issue\?token=[A-Za-z0-9_.-]+`)

// linkViaCommand runs `/cert download` and returns the link from the reply
// and the token in it.
func (u *testUser) linkViaCommand(t *testing.T) (string, string) {
	t.Helper()
	reply := u.runCommand(t, "/cert download")
	link := issueLinkPattern.FindString(reply.Message)
	require.NotEmpty(t, link, "the reply to /cert download has no issue link: %q", reply.Message)
	return link, tokenOf(t, link)
}

// linkViaAPI asks the plugin's HTTP API for a link, as the user.
func (u *testUser) linkViaAPI(t *testing.T) (string, string) {
	t.Helper()
	reply := pluginRequest(t, http.MethodPost, "/api/v1/links", nil, u.Token(), "application/json")
	// A new link is a created resource: 201 is right, 200 is accepted too.
	require.Contains(t, []int{http.StatusOK, http.StatusCreated}, reply.status, "POST /api/v1/links as %s: %s", u.name(), reply.body)
	var link struct {
		URL       string `json:"url"`
		ExpiresAt string `json:"expires_at"`
	}
	require.NoError(t, json.Unmarshal([]byte(reply.body), &link), "links answer: %s", reply.body)
	require.Regexp(t, "^"+issueLinkPattern.String()+"$", link.URL)
	expiresAt, err := time.Parse(time.RFC3339, link.ExpiresAt)
	require.NoError(t, err, "expires_at must be RFC 3339: %q", link.ExpiresAt)
	require.True(t, expiresAt.After(time.Now()), "the link expires in the past: %s", link.ExpiresAt)
	return link.URL, tokenOf(t, link.URL)
}

// tokenOf checks that the link points at this server and returns its token.
func tokenOf(t *testing.T, link string) string {
	t.Helper()
	require.True(t, strings.HasPrefix(link, bed.mm.URL+"/plugins/"+pluginID+"/issue?"),
		"the link %s must start with the Site URL %s", link, bed.mm.URL)
	parsed, err := url.Parse(link)
	require.NoError(t, err)
	token := parsed.Query().Get("token")
	require.NotEmpty(t, token, "no token in %s", link)
	return token
}

// pluginReply is a plugin HTTP answer, read in full.
type pluginReply struct {
	status int
	header http.Header
	body   string
}

func (r pluginReply) String() string {
	return fmt.Sprintf("%d %s: %s", r.status, r.header.Get("Content-Type"), r.body)
}

// pluginClient does not follow redirects: tests see exactly what the plugin answered.
var pluginClient = &http.Client{
	Timeout:       requestTimeout,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// pluginRequest sends a request to /plugins/certs<path>; bearer "" sends no
// credentials, form nil sends no body.
func pluginRequest(t *testing.T, method, path string, form url.Values, bearer, accept string) pluginReply {
	t.Helper()
	reply, err := doPluginRequest(method, path, form, bearer, accept)
	require.NoError(t, err)
	return reply
}

// doPluginRequest is pluginRequest for goroutines, which must not call require.
func doPluginRequest(method, path string, form url.Values, bearer, accept string) (pluginReply, error) {
	return doPluginRequestAt(bed.mm.URL, method, path, form, bearer, accept)
}

// doPluginRequestAt is doPluginRequest to the server at base.
func doPluginRequestAt(base, method, path string, form url.Values, bearer, accept string) (pluginReply, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, base+"/plugins/"+pluginID+path, body)
	if err != nil {
		return pluginReply{}, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := pluginClient.Do(req)
	if err != nil {
		return pluginReply{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	content, err := io.ReadAll(resp.Body)
	if err != nil {
		return pluginReply{}, fmt.Errorf("reading %s %s: %w", method, path, err)
	}
	return pluginReply{status: resp.StatusCode, header: resp.Header, body: string(content)}, nil
}

// pluginSend sends a JSON or multipart body to /plugins/certs<path> as the
// bearer, asking for JSON.
func pluginSend(t *testing.T, path, bearer, contentType string, body []byte) pluginReply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, bed.mm.URL+"/plugins/"+pluginID+path, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := pluginClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return pluginReply{status: resp.StatusCode, header: resp.Header, body: string(data)}
}

func pluginJSON(t *testing.T, path, bearer string, body any) pluginReply {
	t.Helper()
	data, err := json.Marshal(body)
	require.NoError(t, err)
	return pluginSend(t, path, bearer, "application/json", data)
}

func getIssuePage(t *testing.T, token, bearer string) pluginReply {
	t.Helper()
	return pluginRequest(t, http.MethodGet, "/issue?token="+url.QueryEscape(token), nil, bearer, "")
}

func submitIssue(t *testing.T, token, bearer, accept string) pluginReply {
	t.Helper()
	return pluginRequest(t, http.MethodPost, "/issue", url.Values{"token": {token}}, bearer, accept)
}

// requireLinkErrorPage checks that a page is a 4xx HTML page telling the
// user to get a new link with /cert download.
func requireLinkErrorPage(t *testing.T, reply pluginReply, what string) {
	t.Helper()
	require.GreaterOrEqual(t, reply.status, 400, "%s: %s", what, reply)
	require.Less(t, reply.status, 500, "%s: %s", what, reply)
	require.Contains(t, reply.header.Get("Content-Type"), "text/html", "%s: %s", what, reply)
	require.Contains(t, reply.body, "/cert download", "%s: the page must say to run /cert download again", what)
}

// issuedFile is what the user takes away from a successful POST /issue.
type issuedFile struct {
	serial     string // only in the JSON answer
	filename   string
	passphrase string
	pkcs12     []byte
}

var (
	passphrasePattern  = regexp.MustCompile(`<code\b[^>]*\bid="passphrase"[^>]*>([^<]+)</code>`)
	downloadTagPattern = regexp.MustCompile(`<a\b[^>]*\bid="download"[^>]*>`)
	inputTagPattern    = regexp.MustCompile(`<input\b[^>]*>`)
)

const pkcs12DataURLPrefix = "data:application/x-pkcs12;base64,"

// attribute returns the value of a double-quoted attribute in an HTML tag.
func attribute(tag, name string) (string, bool) {
	match := regexp.MustCompile(`\s` + regexp.QuoteMeta(name) + `="([^"]*)"`).FindStringSubmatch(tag)
	if match == nil {
		return "", false
	}
	return html.UnescapeString(match[1]), true
}

// parseIssuedPage reads the passphrase and the file out of the result page.
func parseIssuedPage(t *testing.T, page string) issuedFile {
	t.Helper()
	passphrase := passphrasePattern.FindStringSubmatch(page)
	require.NotNil(t, passphrase, "no <code id=\"passphrase\"> on the result page:\n%s", page)
	tag := downloadTagPattern.FindString(page)
	require.NotEmpty(t, tag, "no <a id=\"download\"> on the result page:\n%s", page)
	filename, ok := attribute(tag, "download")
	require.True(t, ok, "the download link has no download attribute: %s", tag)
	href, ok := attribute(tag, "href")
	require.True(t, ok, "the download link has no href: %s", tag)
	require.True(t, strings.HasPrefix(href, pkcs12DataURLPrefix), "the download link is not a PKCS#12 data URL: %.80s", href)
	data, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(href, pkcs12DataURLPrefix))
	require.NoError(t, err, "the data URL is not standard base64")
	return issuedFile{
		filename:   filename,
		passphrase: strings.TrimSpace(html.UnescapeString(passphrase[1])),
		pkcs12:     data,
	}
}

// issueAnswer is the JSON form of a successful POST /issue.
type issueAnswer struct {
	Serial     string `json:"serial"`
	Filename   string `json:"filename"`
	Passphrase string `json:"passphrase"`
	PKCS12     string `json:"pkcs12"`
	NotAfter   string `json:"not_after"`
}

// issueJSON gets a link for the user through the API and redeems it asking
// for JSON; it returns the file and the leaf certificate in it.
func (u *testUser) issueJSON(t *testing.T) (issuedFile, *x509.Certificate) {
	t.Helper()
	_, token := u.linkViaAPI(t)
	return u.redeemJSON(t, token)
}

// redeemJSON posts a link token as u (with the JSON answer) and checks and
// opens what comes back.
func (u *testUser) redeemJSON(t *testing.T, token string) (issuedFile, *x509.Certificate) {
	t.Helper()
	reply := submitIssue(t, token, "", "application/json")
	require.Equal(t, http.StatusOK, reply.status, "POST /issue (JSON) for %s: %s", u.name(), reply)
	return u.openIssueAnswer(t, reply)
}

// openIssueAnswer checks and opens a JSON answer that carries a PKCS#12.
func (u *testUser) openIssueAnswer(t *testing.T, reply pluginReply) (issuedFile, *x509.Certificate) {
	t.Helper()
	require.Contains(t, reply.header.Get("Content-Type"), "application/json")
	var answer issueAnswer
	require.NoError(t, json.Unmarshal([]byte(reply.body), &answer), "issue answer: %s", reply.body)
	require.NotEmpty(t, answer.Serial)
	require.NotEmpty(t, answer.Passphrase)
	require.Equal(t, u.name()+".p12", answer.Filename)
	notAfter, err := time.Parse(time.RFC3339, answer.NotAfter)
	require.NoError(t, err, "not_after must be RFC 3339: %q", answer.NotAfter)
	data, err := base64.StdEncoding.DecodeString(answer.PKCS12)
	require.NoError(t, err, "pkcs12 must be standard base64")

	_, leaf, _, err := pkcs12.DecodeChain(data, answer.Passphrase)
	require.NoError(t, err, "the PKCS#12 must open with the passphrase it came with")
	require.Equal(t, leaf.SerialNumber.Text(16), answer.Serial,
		"serial must be the leaf's serial in lowercase hex without colons")
	require.WithinDuration(t, leaf.NotAfter, notAfter, time.Second, "not_after must be the leaf's NotAfter")
	return issuedFile{serial: answer.Serial, filename: answer.Filename, passphrase: answer.Passphrase, pkcs12: data}, leaf
}

// fetchCAChain returns the certificates of GET /ca.pem in order (issuing CA
// first, root last) and the PEM text.
func fetchCAChain(t *testing.T) []*x509.Certificate {
	t.Helper()
	reply := pluginRequest(t, http.MethodGet, "/ca.pem", nil, "", "")
	require.Equal(t, http.StatusOK, reply.status, "GET /ca.pem: %s", reply)
	chain := pemCertificates(t, reply.body)
	require.GreaterOrEqual(t, len(chain), 2, "ca.pem must hold the issuing CA and the root:\n%s", reply.body)
	return chain
}

// pemCertificates parses every CERTIFICATE block in text, skipping the rest
// (OpenSSL prints bag attributes and keys between them).
func pemCertificates(t *testing.T, text string) []*x509.Certificate {
	t.Helper()
	var certs []*x509.Certificate
	rest := []byte(text)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return certs
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		require.NoError(t, err)
		certs = append(certs, cert)
	}
}

func encodePEM(certs ...*x509.Certificate) []byte {
	var out bytes.Buffer
	for _, cert := range certs {
		_ = pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	}
	return out.Bytes()
}

// runTool runs an external program in dir and returns its combined output,
// failing the test with that output if it fails.
func runTool(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s %s:\n%s", name, strings.Join(args, " "), out)
	return string(out)
}

// tableRowWith returns the line of a Markdown message that mentions serial.
func tableRowWith(message, serial string) string {
	for _, line := range strings.Split(message, "\n") {
		if strings.Contains(line, serial) {
			return line
		}
	}
	return ""
}

// requireIdentityURI checks that a certificate names its owner's account by
// id, and nothing else by URI: mattermost://<site host>/users/<user id>.
func requireIdentityURI(t *testing.T, leaf *x509.Certificate, userID string) {
	t.Helper()
	site, err := url.Parse(bed.mm.URL)
	require.NoError(t, err)
	require.Len(t, leaf.URIs, 1, "exactly one URI SAN: the owner's account")
	require.Equal(t, "mattermost://"+site.Host+"/users/"+userID, leaf.URIs[0].String())
}

// opensslCSR makes an OpenSSL P-256 key (key.pem in dir, a smart card's in
// life) and a CSR for it naming cn, and returns the CSR as PEM.
func opensslCSR(t *testing.T, dir, cn string) []byte {
	t.Helper()
	runTool(t, dir, "openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "key.pem")
	runTool(t, dir, "openssl", "req", "-new", "-key", "key.pem", "-subj", "/CN="+cn, "-out", "request.csr")
	csrPEM, err := os.ReadFile(filepath.Join(dir, "request.csr"))
	require.NoError(t, err)
	return csrPEM
}
