//go:build e2e

package main

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/clientcerts/mattermost-plugin-certs/e2e/testbed"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

const pluginID = "certs"

// requestTimeout bounds one HTTP request; an RSA-4096 key can take seconds
// when many wait for their turn.
const requestTimeout = 2 * time.Minute

// server is the Mattermost server under load, as users reach it.
type server struct {
	url  string
	http *http.Client
	// portal shares the connections but follows no redirect: the portal
	// answers a form with 303, and what comes next is for the browser.
	portal *http.Client
	botID  string
}

func newServer(baseURL string, concurrency int) *server {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	// Every worker keeps its connection, as a browser does.
	transport.MaxIdleConns = 4 * concurrency
	transport.MaxIdleConnsPerHost = 4 * concurrency
	return &server{
		url:  strings.TrimRight(baseURL, "/"),
		http: &http.Client{Transport: transport, Timeout: requestTimeout},
		portal: &http.Client{Transport: transport, Timeout: requestTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}
}

// account is one user of the load, signed in.
type account struct {
	name, id, token string
	// dmChannel is a direct channel with another account, for the
	// baseline post; townSquare is where commands run.
	dmChannel, townSquare string
	ws                    *testbed.WebSocket
	// portal marks a local account of the portal: it has no token, but a
	// session cookie and the session's CSRF token.
	portal        bool
	session, csrf string
}

// statusError is an answer other than the one expected.
type statusError struct {
	what   string
	status int
	header http.Header
	body   string
}

func (e *statusError) Error() string {
	body := e.body
	if len(body) > 200 {
		body = body[:200] + "…"
	}
	return fmt.Sprintf("%s: %d %s", e.what, e.status, strings.TrimSpace(body))
}

// busy reports an answer that turned the request away for a moment.
func busy(err error) bool {
	var se *statusError
	return errors.As(err, &se) && se.status == http.StatusServiceUnavailable && se.header.Get("Retry-After") != ""
}

// do sends one request as a and decodes a JSON answer of status want into
// out (when out is not nil).
func (s *server) do(ctx context.Context, a *account, method, path, contentType string, body []byte, want int, out any) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.url+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	if a != nil {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return &statusError{what: method + " " + path, status: resp.StatusCode, header: resp.Header, body: string(data)}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return nil
}

func (s *server) postJSON(ctx context.Context, a *account, path string, body any, want int, out any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	return s.do(ctx, a, http.MethodPost, path, "application/json", data, want, out)
}

func (s *server) postForm(ctx context.Context, a *account, path string, form url.Values, want int, out any) error {
	return s.do(ctx, a, http.MethodPost, path, "application/x-www-form-urlencoded", []byte(form.Encode()), want, out)
}

// linkKind is what a link is for: a server-made key, or a CSR upload.
type linkKind string

const (
	kindDownload linkKind = "download"
	kindCSR      linkKind = "csr"
)

// linkViaAPI asks the plugin's links API for a single-use link.
func (s *server) linkViaAPI(ctx context.Context, a *account, kind linkKind, profile string) (string, error) {
	var answer struct {
		URL string `json:"url"`
	}
	if err := s.postJSON(ctx, a, "/plugins/"+pluginID+"/api/v1/links", map[string]string{"kind": string(kind), "profile": profile}, http.StatusCreated, &answer); err != nil {
		return "", err
	}
	return tokenOf(answer.URL)
}

// linkInReply finds a link in the bot's reply to a command.
var linkInReply = regexp.MustCompile(`https?://[^\s()\[\]<>"'` + "`" + `]+/plugins/` + pluginID + `/(?:issue|csr)\?token=[A-Za-z0-9_.%-]+`)

// linkViaCommand runs `/cert download` (or `/cert csr`) as a user does and
// reads the link from the bot's ephemeral reply on the WebSocket.
func (s *server) linkViaCommand(ctx context.Context, a *account, kind linkKind, profile string) (string, error) {
	command := strings.TrimSpace("/cert " + string(kind) + " " + profile)
	a.ws.Reset()
	err := s.postJSON(ctx, a, "/api/v4/commands/execute", map[string]string{"channel_id": a.townSquare, "command": command}, http.StatusOK, nil)
	if err != nil {
		return "", err
	}
	reply, err := a.ws.WaitForEphemeral(requestTimeout, func(p *model.Post) bool { return p.UserId == s.botID })
	if err != nil {
		return "", fmt.Errorf("%s: %w", command, err)
	}
	link := linkInReply.FindString(reply.Message)
	if link == "" {
		return "", fmt.Errorf("%s: no link in the reply %q", command, reply.Message)
	}
	return tokenOf(link)
}

func tokenOf(link string) (string, error) {
	u, err := url.Parse(link)
	if err != nil {
		return "", err
	}
	token := u.Query().Get("token")
	if token == "" {
		return "", fmt.Errorf("no token in %q", link)
	}
	return token, nil
}

// certificate is what one enrollment gave, kept to be checked after the
// timed run so the checks do not compete with the server for the CPU.
type certificate struct {
	account    *account
	serial     string
	passphrase string
	pkcs12     []byte
	// For a CSR: the chain the plugin answered and the user's own key.
	certificatePEM string
	key            crypto.Signer
}

// redeem presses Create on the enrollment page, as a script does.
func (s *server) redeem(ctx context.Context, a *account, token string) (*certificate, error) {
	var answer struct {
		Serial     string `json:"serial"`
		Passphrase string `json:"passphrase"`
		PKCS12     string `json:"pkcs12"`
	}
	if err := s.postForm(ctx, a, "/plugins/"+pluginID+"/issue", url.Values{"token": {token}}, http.StatusOK, &answer); err != nil {
		return nil, err
	}
	p12, err := base64.StdEncoding.DecodeString(answer.PKCS12)
	if err != nil {
		return nil, fmt.Errorf("the PKCS#12 of %s is not base64: %w", answer.Serial, err)
	}
	return &certificate{account: a, serial: answer.Serial, passphrase: answer.Passphrase, pkcs12: p12}, nil
}

// uploadCSR posts the user's CSR on the upload page, as a script does.
func (s *server) uploadCSR(ctx context.Context, a *account, token string, key crypto.Signer, csrPEM string) (*certificate, error) {
	var answer struct {
		Serial         string `json:"serial"`
		CertificatePEM string `json:"certificate_pem"`
	}
	if err := s.postForm(ctx, a, "/plugins/"+pluginID+"/csr", url.Values{"token": {token}, "csr": {csrPEM}}, http.StatusCreated, &answer); err != nil {
		return nil, err
	}
	return &certificate{account: a, serial: answer.Serial, certificatePEM: answer.CertificatePEM, key: key}, nil
}

// userCSR is a key and CSR a user made on their own machine; made before
// the timed run, as it is the user's work, not the server's.
type userCSR struct {
	key crypto.Signer
	pem string
}

func newUserCSR(kt pki.KeyType, commonName string) (userCSR, error) {
	key, err := pki.GenerateKey(kt)
	if err != nil {
		return userCSR{}, err
	}
	csr, err := pki.NewCSR(key, commonName, nil, nil)
	if err != nil {
		return userCSR{}, err
	}
	return userCSR{key: key, pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr.Raw}))}, nil
}

// check proves a certificate is what the user needs: the PKCS#12 opens with
// its passphrase and holds the key, a leaf for this user and the CA chain;
// a CSR's certificate is for the user's key, with its chain.
func (c *certificate) check() error {
	if c.pkcs12 != nil {
		key, leaf, chain, err := pkcs12.DecodeChain(c.pkcs12, c.passphrase)
		if err != nil {
			return fmt.Errorf("%s: the PKCS#12 does not open with its passphrase: %w", c.serial, err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok || !pki.PublicKeysEqual(signer.Public(), leaf.PublicKey) {
			return fmt.Errorf("%s: the key in the PKCS#12 is not the certificate's", c.serial)
		}
		if len(chain) == 0 {
			return fmt.Errorf("%s: the PKCS#12 has no CA chain", c.serial)
		}
		if leaf.Subject.CommonName != c.account.name {
			return fmt.Errorf("%s: issued to %q, not %q", c.serial, leaf.Subject.CommonName, c.account.name)
		}
		return nil
	}
	certs, err := pki.ParseCertificatesPEM([]byte(c.certificatePEM))
	if err != nil {
		return fmt.Errorf("%s: %w", c.serial, err)
	}
	if len(certs) < 2 {
		return fmt.Errorf("%s: the answer has no CA chain", c.serial)
	}
	if !pki.PublicKeysEqual(c.key.Public(), certs[0].PublicKey) {
		return fmt.Errorf("%s: the certificate is not for the CSR's key", c.serial)
	}
	if certs[0].Subject.CommonName != c.account.name {
		return fmt.Errorf("%s: issued to %q, not %q", c.serial, certs[0].Subject.CommonName, c.account.name)
	}
	return nil
}

// listedSerials is every serial the plugin lists for a.
func (s *server) listedSerials(ctx context.Context, a *account) (map[string]bool, error) {
	if a.portal {
		return s.portalSerials(ctx, a)
	}
	var listed []struct {
		Serial string `json:"serial"`
	}
	if err := s.do(ctx, a, http.MethodGet, "/plugins/"+pluginID+"/api/v1/certificates", "", nil, http.StatusOK, &listed); err != nil {
		return nil, err
	}
	serials := make(map[string]bool, len(listed))
	for _, c := range listed {
		serials[pki.NormalizeSerial(c.Serial)] = true
	}
	return serials, nil
}

// noopPluginRequest is a plugin request that does almost nothing: the
// platform's own cost of reaching the plugin.
func (s *server) noopPluginRequest(ctx context.Context, a *account) error {
	return s.do(ctx, a, http.MethodGet, "/plugins/"+pluginID+"/api/v1/profiles", "", nil, http.StatusOK, nil)
}

// directPost is a user's post in a direct channel: the platform's own cost
// of the DM the plugin sends for every certificate.
func (s *server) directPost(ctx context.Context, a *account) error {
	return s.postJSON(ctx, a, "/api/v4/posts", map[string]string{"channel_id": a.dmChannel, "message": "load test: a direct message"}, http.StatusCreated, nil)
}

func (s *server) ping(ctx context.Context) error {
	return s.do(ctx, nil, http.MethodGet, "/api/v4/system/ping", "", nil, http.StatusOK, nil)
}
