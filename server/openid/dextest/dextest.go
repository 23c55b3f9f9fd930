// Package dextest runs a real Dex, an OpenID Connect provider, on
// 127.0.0.1 for tests that sign people in through it, and plays the
// browser through its login. Dex is built by `make dex` from its own small
// module (dexserver/, so its dependencies stay out of the plugin's go.mod)
// into a cache outside the repository; DEX_BIN names the binary.
package dextest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// BinaryEnv is the environment variable naming the dex binary.
const BinaryEnv = "DEX_BIN"

// Client is a static OAuth client of Dex.
type Client struct {
	ID, Secret   string
	RedirectURIs []string
}

// User is a static password user of Dex's password database (connector
// "local"): Dex vouches for the email as verified and sends Username as
// the "name" claim; it has no groups.
type User struct {
	Email, Username, UserID, Password string
}

// MockConnector is the id of Dex's mock connector, which Options.Mock
// adds: it signs in without a form, as MockUser.
const MockConnector = "mock"

// MockUser is who Dex's mock connector signs in.
var MockUser = User{Email: "kilgore@kilgore.trout", Username: "Kilgore Trout", UserID: "0-385-28089-0"}

// MockGroups are MockUser's groups, sent with the "groups" scope.
var MockGroups = []string{"authors"}

// Options shape the provider.
type Options struct {
	// Binary is the dex binary; empty means $DEX_BIN.
	Binary  string
	Clients []Client
	Users   []User
	// Mock adds the mock connector (MockConnector).
	Mock bool
}

// Dex is a running Dex.
type Dex struct {
	// Issuer is http://127.0.0.1:<port>/dex.
	Issuer string

	cmd      *exec.Cmd
	log      *bytes.Buffer
	logMu    *sync.Mutex
	exited   chan struct{}
	stopOnce sync.Once
}

// Start runs Dex with opts, its files in a temporary directory; it stops
// when the test ends.
func Start(tb testing.TB, opts Options) *Dex {
	tb.Helper()
	d, err := StartDex(tb.TempDir(), opts)
	if err != nil {
		tb.Fatalf("start dex: %v", err)
	}
	tb.Cleanup(d.Stop)
	return d
}

// StartDex runs Dex with its configuration in dir, which must exist, and
// returns once its discovery document answers. It is Start without a test;
// the caller calls Stop.
func StartDex(dir string, opts Options) (*Dex, error) {
	binary := opts.Binary
	if binary == "" {
		binary = os.Getenv(BinaryEnv)
	}
	if binary == "" {
		return nil, fmt.Errorf("no dex binary: build it with `make dex` and set %s (make dex-test does both)", BinaryEnv)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	issuer := "http://" + addr + "/dex"
	config, err := configJSON(issuer, addr, opts)
	if err != nil {
		return nil, err
	}
	configPath := filepath.Join(dir, "dex.json")
	if err := os.WriteFile(configPath, config, 0o600); err != nil {
		return nil, err
	}

	d := &Dex{Issuer: issuer, log: &bytes.Buffer{}, logMu: &sync.Mutex{}, exited: make(chan struct{})}
	// Dex reads a YAML file; JSON is YAML.
	d.cmd = exec.Command(binary, "serve", configPath)
	d.cmd.Stdout = lockedWriter{d.logMu, d.log}
	d.cmd.Stderr = lockedWriter{d.logMu, d.log}
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", binary, err)
	}
	go func() {
		_ = d.cmd.Wait()
		close(d.exited)
	}()
	if err := d.waitReady(30 * time.Second); err != nil {
		d.Stop()
		return nil, fmt.Errorf("%w; dex said:\n%s", err, d.Log())
	}
	return d, nil
}

// Stop ends Dex, by its own PID: asked first, killed if it lingers. Safe
// to call more than once.
func (d *Dex) Stop() {
	d.stopOnce.Do(func() {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.exited:
		case <-time.After(5 * time.Second):
			_ = d.cmd.Process.Kill()
			<-d.exited
		}
	})
}

// Log is what Dex has written so far, for a failing test's message.
func (d *Dex) Log() string {
	d.logMu.Lock()
	defer d.logMu.Unlock()
	return d.log.String()
}

func (d *Dex) waitReady(limit time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-d.exited:
			return errors.New("dex exited")
		default:
		}
		resp, err := client.Get(d.Issuer + "/.well-known/openid-configuration")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("dex did not answer within %s", limit)
}

// Subject is the subject Dex gives the user userID of connector in its ID
// tokens: the two, protobuf-encoded, in unpadded base64url.
func Subject(userID, connector string) string {
	field := func(number byte, value string) []byte {
		return append([]byte{number<<3 | 2, byte(len(value))}, value...)
	}
	return base64.RawURLEncoding.EncodeToString(append(field(1, userID), field(2, connector)...))
}

// Login is how SignIn signs in: with Dex's password form (connector
// "local", the default) or with the mock connector, which has no form.
type Login struct {
	Connector       string
	Email, Password string
}

// ErrNoCallback is a sign-in that never sent the browser back to the
// redirect URL: a wrong password, an unknown user.
var ErrNoCallback = errors.New("dex did not send the browser back to the redirect URL")

// SignIn plays the browser from authURL, the provider URL a Begin gave,
// through Dex's login to the redirect back: it returns that callback URL
// (with the code and state) without following it.
func (d *Dex) SignIn(ctx context.Context, authURL string, as Login) (*url.URL, error) {
	start, err := url.Parse(authURL)
	if err != nil {
		return nil, err
	}
	redirectURI := start.Query().Get("redirect_uri")
	if redirectURI == "" {
		return nil, errors.New("the authorization URL has no redirect_uri")
	}
	if as.Connector == "" {
		as.Connector = "local"
	}
	q := start.Query()
	q.Set("connector_id", as.Connector)
	start.RawQuery = q.Encode()

	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	var callback *url.URL
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), redirectURI) {
			callback = req.URL
			return http.ErrUseLastResponse
		}
		if len(via) > 10 {
			return errors.New("too many redirects")
		}
		return nil
	}}

	page, pageURL, err := get(ctx, browser, start.String())
	if callback != nil || err != nil {
		return callback, err
	}
	if as.Email == "" {
		return nil, fmt.Errorf("%w: it shows a page at %s", ErrNoCallback, pageURL)
	}
	action, err := formAction(page, pageURL)
	if err != nil {
		return nil, err
	}
	form := url.Values{"login": {as.Email}, "password": {as.Password}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, action, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := browser.Do(req)
	if err != nil {
		return nil, err
	}
	_ = resp.Body.Close()
	if callback == nil {
		return nil, fmt.Errorf("%w: the login form answered %s", ErrNoCallback, resp.Status)
	}
	return callback, nil
}

func get(ctx context.Context, client *http.Client, target string) ([]byte, *url.URL, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return body, resp.Request.URL, err
}

var formActionRE = regexp.MustCompile(`<form[^>]*\saction="([^"]*)"`)

// formAction is where Dex's password form posts, resolved from the page.
func formAction(page []byte, pageURL *url.URL) (string, error) {
	m := formActionRE.FindSubmatch(page)
	if m == nil || !bytes.Contains(page, []byte(`name="password"`)) {
		return "", fmt.Errorf("no password form at %s", pageURL)
	}
	action, err := url.Parse(html.UnescapeString(string(m[1])))
	if err != nil {
		return "", err
	}
	return pageURL.ResolveReference(action).String(), nil
}

// configJSON is Dex's configuration: memory storage, no approval screen,
// the static clients and passwords, and the mock connector if asked.
func configJSON(issuer, addr string, opts Options) ([]byte, error) {
	type staticPassword struct {
		Email    string `json:"email"`
		Hash     string `json:"hash"`
		Username string `json:"username"`
		UserID   string `json:"userID"`
	}
	type staticClient struct {
		ID           string   `json:"id"`
		Secret       string   `json:"secret"`
		Name         string   `json:"name"`
		RedirectURIs []string `json:"redirectURIs"`
	}
	type connector struct {
		Type string `json:"type"`
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	config := map[string]any{
		"issuer":           issuer,
		"storage":          map[string]any{"type": "memory"},
		"web":              map[string]any{"http": addr},
		"oauth2":           map[string]any{"skipApprovalScreen": true},
		"logger":           map[string]any{"level": "warn"},
		"enablePasswordDB": true,
	}
	clients := []staticClient{}
	for _, c := range opts.Clients {
		clients = append(clients, staticClient{ID: c.ID, Secret: c.Secret, Name: c.ID, RedirectURIs: c.RedirectURIs})
	}
	config["staticClients"] = clients
	passwords := []staticPassword{}
	for _, u := range opts.Users {
		// Dex refuses hashes cheaper than bcrypt's default cost.
		hash, err := bcrypt.GenerateFromPassword([]byte(u.Password), bcrypt.DefaultCost)
		if err != nil {
			return nil, err
		}
		passwords = append(passwords, staticPassword{Email: u.Email, Hash: string(hash), Username: u.Username, UserID: u.UserID})
	}
	config["staticPasswords"] = passwords
	if opts.Mock {
		config["connectors"] = []connector{{Type: "mockCallback", ID: MockConnector, Name: "Mock"}}
	}
	return json.MarshalIndent(config, "", "  ")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
