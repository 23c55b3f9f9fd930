//go:build e2e

package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"

	"github.com/clientcerts/mattermost-plugin-certs/e2e/testbed"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

// The portal, as a person outside chat meets it: a local account signed in
// with its password, then a session cookie.
const (
	portalPath          = "/plugins/" + pluginID + "/portal"
	portalSessionCookie = "certs_portal_session"
	portalSignInCookie  = "certs_portal_signin"
	// portalPassword is every load local account's password: at least 12
	// characters, and none of the accounts' names.
	portalPassword = "Load-portal-passw0rd!"
)

// csrfInPage finds a form's CSRF token on a portal page.
var csrfInPage = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// servedSerial finds the serials in the table of valid certificates.
var servedSerial = regexp.MustCompile(`<code>([^<]+)</code>`)

// portalResponse is one answer of the portal, read whole.
type portalResponse struct {
	status int
	header http.Header
	body   []byte
}

// portalDo sends one request to the portal with the cookies given (name to
// value), without following a redirect, as the portal answers a form with
// 303 and the next page is for the browser.
func (s *server) portalDo(ctx context.Context, method, path string, cookies map[string]string, form url.Values, accept string) (*portalResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, s.url+portalPath+path, body)
	if err != nil {
		return nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	for name, value := range cookies {
		req.AddCookie(&http.Cookie{Name: name, Value: value})
	}
	resp, err := s.portal.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, portalPath+path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, portalPath+path, err)
	}
	return &portalResponse{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// want turns an answer of another status into a statusError.
func (r *portalResponse) want(what string, status int) error {
	if r.status != status {
		return &statusError{what: what, status: r.status, header: r.header, body: string(r.body)}
	}
	return nil
}

func cookieOf(header http.Header, name string) string {
	for _, c := range (&http.Response{Header: header}).Cookies() {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// createLocalAccount makes a local account as an admin does, and sets its
// password through its link as its owner does.
func (t *target) createLocalAccount(ctx context.Context, username string) error {
	return testbed.AddLocalAccount(ctx, t.srv.http, t.srv.url, t.admin.AuthToken, username, username+"@example.com", portalPassword)
}

// signInForm opens the sign-in page: its form cookie and the token its
// form repeats.
func (s *server) signInForm(ctx context.Context) (cookie, csrf string, err error) {
	answer, err := s.portalDo(ctx, http.MethodGet, "/signin", nil, nil, "")
	if err != nil {
		return "", "", err
	}
	if err := answer.want("GET /portal/signin", http.StatusOK); err != nil {
		return "", "", err
	}
	cookie = cookieOf(answer.header, portalSignInCookie)
	m := csrfInPage.FindSubmatch(answer.body)
	if cookie == "" || m == nil {
		return "", "", fmt.Errorf("the sign-in page has no form cookie or no form token")
	}
	return cookie, html.UnescapeString(string(m[1])), nil
}

// signInAttempt posts the sign-in form once.
func (s *server) signInAttempt(ctx context.Context, formCookie, csrf, username, password string) (*portalResponse, error) {
	return s.portalDo(ctx, http.MethodPost, "/signin", map[string]string{portalSignInCookie: formCookie},
		url.Values{"username": {username}, "password": {password}, "csrf": {csrf}}, "")
}

// portalSignIn signs a local account in and reads its session's CSRF token
// from the home page.
func (s *server) portalSignIn(ctx context.Context, username string) (*account, error) {
	formCookie, csrf, err := s.signInForm(ctx)
	if err != nil {
		return nil, err
	}
	answer, err := s.signInAttempt(ctx, formCookie, csrf, username, portalPassword)
	if err != nil {
		return nil, err
	}
	if err := answer.want("signing in as "+username, http.StatusSeeOther); err != nil {
		return nil, err
	}
	a := &account{name: username, portal: true, session: cookieOf(answer.header, portalSessionCookie)}
	if a.session == "" {
		return nil, fmt.Errorf("signing in as %s set no session cookie", username)
	}
	home, err := s.portalDo(ctx, http.MethodGet, "/", a.portalCookies(), nil, "")
	if err != nil {
		return nil, err
	}
	if err := home.want("GET /portal/ as "+username, http.StatusOK); err != nil {
		return nil, err
	}
	m := csrfInPage.FindSubmatch(home.body)
	if m == nil {
		return nil, fmt.Errorf("the home page of %s has no form token", username)
	}
	a.csrf = html.UnescapeString(string(m[1]))
	return a, nil
}

func (a *account) portalCookies() map[string]string {
	return map[string]string{portalSessionCookie: a.session}
}

// linkViaPortal presses New certificate on the portal's home page: the
// portal answers with the link's page.
func (s *server) linkViaPortal(ctx context.Context, a *account, profile string) (string, error) {
	answer, err := s.portalDo(ctx, http.MethodPost, "/certificates/new", a.portalCookies(),
		url.Values{"profile": {profile}, "key": {"server"}, "csrf": {a.csrf}}, "")
	if err != nil {
		return "", err
	}
	if err := answer.want("POST /portal/certificates/new", http.StatusSeeOther); err != nil {
		return "", err
	}
	return tokenOf(answer.header.Get("Location"))
}

// redeemPortal presses Create on the portal's enrollment page, as a script
// does: the same JSON as chat's.
func (s *server) redeemPortal(ctx context.Context, a *account, token string) (*certificate, error) {
	answer, err := s.portalDo(ctx, http.MethodPost, "/issue", a.portalCookies(), url.Values{"token": {token}}, "application/json")
	if err != nil {
		return nil, err
	}
	if err := answer.want("POST /portal/issue", http.StatusOK); err != nil {
		return nil, err
	}
	var got struct {
		Serial     string `json:"serial"`
		Passphrase string `json:"passphrase"`
		PKCS12     string `json:"pkcs12"`
	}
	if err := json.Unmarshal(answer.body, &got); err != nil {
		return nil, fmt.Errorf("POST /portal/issue: %w", err)
	}
	p12, err := base64.StdEncoding.DecodeString(got.PKCS12)
	if err != nil {
		return nil, fmt.Errorf("the PKCS#12 of %s is not base64: %w", got.Serial, err)
	}
	return &certificate{account: a, serial: got.Serial, passphrase: got.Passphrase, pkcs12: p12}, nil
}

// portalSerials is every serial the portal's home page lists as valid for a.
func (s *server) portalSerials(ctx context.Context, a *account) (map[string]bool, error) {
	home, err := s.portalDo(ctx, http.MethodGet, "/", a.portalCookies(), nil, "")
	if err != nil {
		return nil, err
	}
	if err := home.want("GET /portal/ as "+a.name, http.StatusOK); err != nil {
		return nil, err
	}
	page := string(home.body)
	start := strings.Index(page, `id="valid-certificates"`)
	if start < 0 {
		return map[string]bool{}, nil
	}
	page = page[start:]
	if end := strings.Index(page, "</table>"); end >= 0 {
		page = page[:end]
	}
	serials := map[string]bool{}
	for _, m := range servedSerial.FindAllStringSubmatch(page, -1) {
		serials[pki.NormalizeSerial(html.UnescapeString(m[1]))] = true
	}
	return serials, nil
}

// localAccounts are the load's local accounts, made once: -users of them,
// their passwords set; signed in when signIn is set (the portal flow), not
// for the sign-in flood, which needs only that they exist.
func (l *load) localAccounts(ctx context.Context, signIn bool) ([]*account, error) {
	l.localOnce.Do(func() {
		run := make([]byte, 3)
		if _, err := rand.Read(run); err != nil {
			l.localErr = err
			return
		}
		prefix := "portal" + hex.EncodeToString(run) + "u"
		n := l.o.users
		fmt.Printf("Portal: %d local accounts, their passwords set\n", n)
		names := make([]string, n)
		errs := make([]error, n)
		// Each password is a bcrypt: a few at a time.
		runAll(n, 4, func(i int) {
			names[i] = fmt.Sprintf("%s%d", prefix, i+1)
			errs[i] = l.t.createLocalAccount(ctx, names[i])
		})
		for _, err := range errs {
			if err != nil {
				l.localErr = err
				return
			}
		}
		l.local = make([]*account, n)
		for i, name := range names {
			l.local[i] = &account{name: name, portal: true}
		}
	})
	if l.localErr != nil || !signIn || l.localSignedIn {
		return l.local, l.localErr
	}
	fmt.Printf("Portal: signing %d local accounts in\n", len(l.local))
	var mu sync.Mutex
	runAll(len(l.local), 4, func(i int) {
		a, err := l.t.srv.portalSignIn(ctx, l.local[i].name)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			if l.localErr == nil {
				l.localErr = err
			}
			return
		}
		l.local[i] = a
	})
	l.localSignedIn = l.localErr == nil
	return l.local, l.localErr
}
