//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/require"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/clientcerts/mattermost-plugin-certs/e2e/testbed"
)

// browserStepTimeout bounds every browser step: a navigation, a click and
// the page it loads, a download, waiting for an event.
const browserStepTimeout = 20 * time.Second

// requireChromium skips the browser tests where Chromium is not installed,
// except under CI, which must install it (build/install-deps.sh).
func requireChromium(t *testing.T) {
	t.Helper()
	requireBed(t)
	if why := testbed.ChromiumMissing(); why != "" {
		if ci := os.Getenv("CI"); ci != "" {
			t.Fatalf("CI=%s, but %s: build/install-deps.sh must install it", ci, why)
		}
		t.Skip("browser tests skipped: " + why)
	}
}

// startBrowser starts a headless Chromium with a fresh profile in the
// test's temporary directory and stops it (every process) when the test ends.
func startBrowser(t *testing.T) *testbed.Chromium {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "chromium")
	chromium, err := testbed.StartChromium(dir, 1024, 768)
	require.NoError(t, err)
	t.Logf("Chromium pid %d, profile %s", chromium.PID(), chromium.UserDataDir)
	t.Cleanup(func() {
		if t.Failed() {
			if out, err := os.ReadFile(chromium.LogPath); err == nil && len(out) > 0 {
				t.Logf("Chromium output (%s):\n%s", chromium.LogPath, lastLines(string(out), 30))
			}
		}
		require.NoError(t, chromium.Stop(), "every browser process must be gone at the end of the test")
	})
	return chromium
}

// browserTab is one tab and what the page reported while the test drove it.
type browserTab struct {
	t    *testing.T
	name string // for messages: "alice's browser"
	ctx  context.Context

	mu       sync.Mutex
	problems []string            // exceptions, console errors/warnings, browser log warnings/errors (CSP among them)
	requests map[string]*sentReq // by request id
	sent     []*sentReq          // every request since the tab opened, in order (see sentRequests)
}

// sentReq is a request as the browser sent it on the wire.
type sentReq struct {
	id          string
	method, url string
	headers     map[string]string
	body        []byte
	hasPostData bool     // the request has a body, which the event may leave out (see sentRequests)
	cookies     []string // names of the cookies sent with it
	extraInfo   bool     // the raw request (cookies) has been reported
}

// openTab opens a tab under parent (a new browser context, so a separate
// cookie jar, when isolated) and records what its pages report.
func openTab(t *testing.T, parent context.Context, name string, isolated bool) *browserTab {
	t.Helper()
	tab := &browserTab{t: t, name: name, requests: map[string]*sentReq{}}
	var opts []chromedp.ContextOption
	if isolated {
		opts = append(opts, chromedp.WithNewBrowserContext())
	}
	ctx, cancel := chromedp.NewContext(parent, opts...)
	t.Cleanup(cancel)
	tab.ctx = ctx
	// The first action creates the tab; it must not hang.
	watchdog := time.AfterFunc(browserStepTimeout, cancel)
	require.NoError(t, chromedp.Listen(ctx, tab.record), "%s: opening a tab", name)
	require.True(t, watchdog.Stop(), "%s: opening a tab took more than %s", name, browserStepTimeout)
	return tab
}

// record runs on the goroutine that reads the tab's events: no commands here.
func (b *browserTab) record(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			text += " " + d.Exception.Description
		}
		b.problems = append(b.problems, fmt.Sprintf("uncaught exception at %s:%d: %s", d.URL, d.LineNumber+1, text))
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, arg := range ev.Args {
				if arg.Description != "" {
					args = append(args, arg.Description)
				} else {
					args = append(args, string(arg.Value))
				}
			}
			b.problems = append(b.problems, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
		}
	case *cdplog.EventEntryAdded:
		e := ev.Entry
		// The test server has no web client, so Mattermost answers the
		// browser's own favicon request with an error: not the plugin's.
		if strings.HasSuffix(e.URL, "/favicon.ico") && e.Source == cdplog.EntrySourceNetwork {
			return
		}
		if e.Level == cdplog.EntryLevelError || e.Level == cdplog.EntryLevelWarning {
			b.problems = append(b.problems, fmt.Sprintf("browser log (%s, %s) %s: %s", e.Source, e.Level, e.URL, e.Text))
		}
	case *network.EventRequestWillBeSent:
		req := b.request(string(ev.RequestID))
		req.method, req.url = ev.Request.Method, ev.Request.URL
		req.body = nil
		for _, entry := range ev.Request.PostDataEntries {
			req.body = append(req.body, entry.Bytes...)
		}
		req.hasPostData = ev.Request.HasPostData
		req.headers = map[string]string{}
		for name, value := range ev.Request.Headers {
			req.headers[strings.ToLower(name)] = fmt.Sprint(value)
		}
		b.sent = append(b.sent, &sentReq{id: req.id, method: req.method, url: req.url, headers: req.headers, body: req.body, hasPostData: req.hasPostData})
	case *network.EventRequestWillBeSentExtraInfo:
		req := b.request(string(ev.RequestID))
		req.extraInfo = true
		req.cookies = nil
		for _, c := range ev.AssociatedCookies {
			if len(c.BlockedReasons) == 0 && c.Cookie != nil {
				req.cookies = append(req.cookies, c.Cookie.Name)
			}
		}
	}
}

func (b *browserTab) request(id string) *sentReq {
	req := b.requests[id]
	if req == nil {
		req = &sentReq{id: id}
		b.requests[id] = req
	}
	return req
}

// takeProblems returns what the pages reported since the last call and forgets it.
func (b *browserTab) takeProblems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	problems := b.problems
	b.problems = nil
	return problems
}

// requireNoProblems fails if a page reported an error or warning, except
// Chromium's note that the document itself had the expected error status.
func (b *browserTab) requireNoProblems(what string, expectedStatus int) {
	b.t.Helper()
	b.sync()
	var unexpected []string
	for _, p := range b.takeProblems() {
		if expectedStatus >= 400 && strings.Contains(p, fmt.Sprintf("the server responded with a status of %d", expectedStatus)) {
			continue
		}
		unexpected = append(unexpected, p)
	}
	require.Empty(b.t, unexpected, "%s: %s: the page reported errors (CSP violations, JS errors)", b.name, what)
}

// sync makes sure every event the page sent so far has been recorded: the
// tab reads events in order, and this command's answer comes after them.
func (b *browserTab) sync() {
	b.t.Helper()
	evalIn[int](b, "1")
}

func (b *browserTab) stepContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, browserStepTimeout)
}

// load runs steps that make the tab load a page (navigate, click, reload),
// waits for it, and returns the HTTP status of the document.
func (b *browserTab) load(what string, steps ...chromedp.Action[chromedp.Void]) int {
	b.t.Helper()
	ctx, cancel := b.stepContext()
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, steps...)
	require.NoError(b.t, err, "%s: %s", b.name, what)
	require.NotNil(b.t, resp, "%s: %s: no document response", b.name, what)
	return int(resp.Status)
}

// open navigates to pageURL and returns the document's HTTP status.
func (b *browserTab) open(pageURL string) int {
	b.t.Helper()
	return b.load("opening "+pageURL, chromedp.Navigate(pageURL))
}

// reload reloads the page as the user would (a POST result is posted again).
func (b *browserTab) reload() int {
	b.t.Helper()
	return b.load("reloading", chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
		_, err := cdp.Call(ctx, tgt, page.Reload, page.ReloadParams{})
		return err
	}))
}

// text is the visible text of the first element matching the CSS selector.
func (b *browserTab) text(selector string) string {
	b.t.Helper()
	ctx, cancel := b.stepContext()
	defer cancel()
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(selector)))
	require.NoError(b.t, err, "%s: reading %s", b.name, selector)
	return strings.TrimSpace(text)
}

// evalIn evaluates a JavaScript expression in the tab's page, awaiting a
// promise, and decodes the result as T.
func evalIn[T any](b *browserTab, expression string) T {
	b.t.Helper()
	ctx, cancel := b.stepContext()
	defer cancel()
	value, err := chromedp.Run(ctx, chromedp.Evaluate[T](expression, chromedp.EvalAwaitPromise))
	require.NoError(b.t, err, "%s: evaluating %s", b.name, expression)
	return value
}

// cookies returns the browser's cookies for the Mattermost site, by name.
func (b *browserTab) cookies() map[string]*network.Cookie {
	b.t.Helper()
	return b.cookiesFor(bed.mm.URL + "/")
}

// cookiesFor are the cookies the browser would send to pageURL, by name.
func (b *browserTab) cookiesFor(pageURL string) map[string]*network.Cookie {
	b.t.Helper()
	ctx, cancel := b.stepContext()
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{pageURL}})
	require.NoError(b.t, err)
	byName := map[string]*network.Cookie{}
	for _, c := range res.Cookies {
		byName[c.Name] = c
	}
	return byName
}

// signIn logs the browser in to Mattermost as user the way the web client
// does: a login request from a page of the site, so the server sets its own
// session cookies. It returns the MMCSRF cookie's value.
func (b *browserTab) signIn(user *testUser) string {
	b.t.Helper()
	require.Equal(b.t, http.StatusOK, b.open(bed.mm.URL+"/api/v4/system/ping"))
	credentials, err := json.Marshal(map[string]string{"login_id": user.name(), "password": user.Password})
	require.NoError(b.t, err)
	status := evalIn[int](b, fmt.Sprintf(`fetch("/api/v4/users/login", {
		method: "POST",
		headers: {"Content-Type": "application/json", "X-Requested-With": "XMLHttpRequest"},
		body: JSON.stringify(%s),
	}).then(r => r.status)`, credentials))
	require.Equal(b.t, http.StatusOK, status, "%s: login as %s", b.name, user.name())

	cookies := b.cookies()
	session, csrf := cookies[model.SessionCookieToken], cookies[model.SessionCookieCsrf]
	require.NotNil(b.t, session, "%s: no %s cookie after login (cookies: %v)", b.name, model.SessionCookieToken, slices.Collect(maps.Keys(cookies)))
	require.True(b.t, session.HTTPOnly, "the session cookie must be HttpOnly")
	require.NotNil(b.t, csrf, "%s: no %s cookie after login", b.name, model.SessionCookieCsrf)
	require.NotEmpty(b.t, csrf.Value)
	// The cookies are a working session: GET needs no CSRF token.
	me := evalIn[string](b, `fetch("/api/v4/users/me").then(r => r.json()).then(u => u.username)`)
	require.Equal(b.t, user.name(), me, "%s: the cookie session must be %s's", b.name, user.name())
	return csrf.Value
}

// onlyPost returns the one POST the tab sent to urlPrefix since the last
// call, once its raw request (with cookies) has been reported; it fails if
// there was none or more than one.
func (b *browserTab) onlyPost(urlPrefix string) sentReq {
	b.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b.mu.Lock()
		var posts []sentReq
		complete := true
		for _, req := range b.requests {
			if req.method == http.MethodPost && strings.HasPrefix(req.url, urlPrefix) {
				posts = append(posts, *req)
				complete = complete && req.extraInfo
			}
		}
		done := len(posts) > 0 && complete
		if done {
			b.requests = map[string]*sentReq{}
		}
		b.mu.Unlock()
		if done {
			require.Len(b.t, posts, 1, "%s: POSTs to %s", b.name, urlPrefix)
			return posts[0]
		}
		require.True(b.t, time.Now().Before(deadline), "%s: no POST to %s was reported", b.name, urlPrefix)
		time.Sleep(50 * time.Millisecond)
	}
}

// screenshot saves a PNG of the whole page into dir and, when E2E_SCREENSHOTS
// names a directory, a copy there.
func (b *browserTab) screenshot(dir, name string) {
	b.t.Helper()
	ctx, cancel := b.stepContext()
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(b.t, err, "%s: screenshot %s", b.name, name)
	require.True(b.t, bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")), "the screenshot %s is not a PNG", name)
	require.NoError(b.t, os.WriteFile(filepath.Join(dir, name), png, 0o600))
	if out := os.Getenv("E2E_SCREENSHOTS"); out != "" {
		require.NoError(b.t, os.MkdirAll(out, 0o755))
		require.NoError(b.t, os.WriteFile(filepath.Join(out, name), png, 0o644))
		b.t.Logf("screenshot %s", filepath.Join(out, name))
	}
}

// certificateCount is how many certificates the plugin has for the user.
func certificateCount(t *testing.T, user *testUser) int {
	t.Helper()
	reply := pluginRequest(t, http.MethodGet, "/api/v1/certificates", nil, user.Token(), "application/json")
	require.Equal(t, http.StatusOK, reply.status, "GET /api/v1/certificates as %s: %s", user.name(), reply)
	var certs []json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(reply.body), &certs), "certificates: %s", reply.body)
	return len(certs)
}

// TestBrowserEnrollment walks the enrollment pages in a real Chromium signed
// in to Mattermost: the confirm page (its inline script under the CSP fills
// the CSRF field from the MMCSRF cookie), the POST that Mattermost
// authenticates by cookie + CSRF, the download of the .p12 through the
// data: link, single use on reload and reopen, and another user's browser.
func TestBrowserEnrollment(t *testing.T) {
	requireChromium(t)
	alice, bob := bed.alice, bed.bob
	dir := t.TempDir()
	downloads := filepath.Join(dir, "downloads")
	require.NoError(t, os.MkdirAll(downloads, 0o700))

	chromium := startBrowser(t)
	aliceTab := openTab(t, chromium.Ctx, "alice's browser", false)
	aliceCSRF := aliceTab.signIn(alice)
	aliceTab.requireNoProblems("signing in", 0)

	// The detectors work: a CSP violation and an uncaught exception on one
	// of the plugin's pages are reported, so "no problems" below means none.
	// (A link without a token gives the 400 error page, under the same CSP.)
	require.Equal(t, http.StatusBadRequest, aliceTab.open(bed.mm.URL+"/plugins/"+pluginID+"/issue?token="))
	aliceTab.sync()
	aliceTab.takeProblems()
	evalIn[chromedp.Void](aliceTab, `(() => {
		const img = document.createElement("img");
		img.src = "http://127.0.0.1:9/csp-probe.png"; // the CSP allows data: images only
		document.body.appendChild(img);
		setTimeout(() => { throw new Error("exception probe"); }, 0);
	})()`)
	var seen []string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		aliceTab.sync()
		seen = append(seen, aliceTab.takeProblems()...)
		joined := strings.Join(seen, "\n")
		if strings.Contains(joined, "Content Security Policy") && strings.Contains(joined, "exception probe") {
			break
		}
		require.True(t, time.Now().Before(deadline), "the probe's CSP violation and exception were not both reported; got:\n%s", joined)
	}
	t.Logf("the browser reports, e.g.:\n%s", strings.Join(seen, "\n"))

	before := certificateCount(t, alice)
	link, _ := alice.linkViaAPI(t)

	// 2. The confirm page names alice, runs clean, and has the CSRF field filled.
	require.Equal(t, http.StatusOK, aliceTab.open(link), "alice opens her link")
	aliceTab.requireNoProblems("confirm page", 0)
	require.Contains(t, aliceTab.text("h1"), alice.name(), "the confirm page must name alice")
	require.Equal(t, "Create certificate", aliceTab.text(`form button[type="submit"]`))
	filled := evalIn[string](aliceTab, `document.getElementById("csrf").value`)
	require.Equal(t, aliceCSRF, filled, "the page's script must copy the MMCSRF cookie into the csrf field")
	aliceTab.screenshot(dir, "confirm.png")

	// 3. Create certificate: the POST carries the session cookie and the csrf field.
	require.Equal(t, http.StatusOK, aliceTab.load("clicking Create certificate",
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`))), "the POST must issue the certificate")
	post := aliceTab.onlyPost(bed.mm.URL + "/plugins/" + pluginID + "/issue")
	form, err := url.ParseQuery(string(post.body))
	require.NoError(t, err, "POST body %q", post.body)
	require.Equal(t, aliceCSRF, form.Get("csrf"), "the POST must carry the csrf field")
	require.NotEmpty(t, form.Get("token"))
	require.Contains(t, post.cookies, model.SessionCookieToken, "the POST must carry the session cookie")
	aliceTab.requireNoProblems("result page", 0)
	require.Equal(t, "Your certificate is ready", aliceTab.text("h1"))
	passphrase := aliceTab.text("#passphrase")
	require.NotEmpty(t, passphrase, "the result page must show the passphrase")
	aliceTab.screenshot(dir, "issued.png")
	require.Equal(t, before+1, certificateCount(t, alice), "one certificate issued")

	// 4. Download the file through the page's data: link.
	href := evalIn[string](aliceTab, `document.getElementById("download").href`)
	require.True(t, strings.HasPrefix(href, pkcs12DataURLPrefix), "the download link is not a PKCS#12 data URL: %.60s", href)
	fromPage, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(href, pkcs12DataURLPrefix))
	require.NoError(t, err)
	require.Equal(t, alice.name()+".p12", evalIn[string](aliceTab, `document.getElementById("download").getAttribute("download")`))
	p12Path := aliceTab.download(downloads, "#download")
	require.Equal(t, alice.name()+".p12", filepath.Base(p12Path), "the file keeps the page's name")
	downloaded, err := os.ReadFile(p12Path)
	require.NoError(t, err)
	require.Equal(t, fromPage, downloaded, "the downloaded file is the page's data URL")

	dump := runTool(t, downloads, "openssl", "pkcs12", "-in", p12Path, "-passin", "pass:"+passphrase, "-nodes")
	require.Contains(t, dump, "PRIVATE KEY-----", "no private key in the downloaded file")
	var leaf bool
	for _, cert := range pemCertificates(t, dump) {
		if !cert.IsCA && cert.Subject.CommonName == alice.name() {
			leaf = true
		}
	}
	require.True(t, leaf, "no leaf certificate for CN=%s in the downloaded file:\n%s", alice.name(), dump)
	key, cert, _, err := pkcs12.DecodeChain(downloaded, passphrase)
	require.NoError(t, err)
	signer, ok := key.(crypto.Signer)
	require.True(t, ok, "the file's key (%T) cannot sign", key)
	public, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	require.True(t, ok)
	require.True(t, public.Equal(cert.PublicKey), "the key in the file must belong to its certificate")
	aliceTab.requireNoProblems("download", 0)

	// 5. Single use: reloading posts the form again; opening the link again.
	require.Equal(t, http.StatusConflict, aliceTab.reload(), "reloading the result page must not issue again")
	repost := aliceTab.onlyPost(bed.mm.URL + "/plugins/" + pluginID + "/issue")
	require.Equal(t, string(post.body), string(repost.body), "the reload posts the same form again")
	require.Contains(t, aliceTab.text("main"), "already been used")
	aliceTab.requireNoProblems("reload", http.StatusConflict)
	aliceTab.screenshot(dir, "used.png")
	require.Equal(t, http.StatusConflict, aliceTab.open(link), "opening a used link")
	require.Contains(t, aliceTab.text("main"), "already been used")
	aliceTab.requireNoProblems("reopening", http.StatusConflict)
	require.Equal(t, before+1, certificateCount(t, alice), "no second certificate from one link")

	// 6. Bob's browser (its own cookie jar) on a fresh link of alice's.
	bobTab := openTab(t, chromium.Ctx, "bob's browser", true)
	bobCSRF := bobTab.signIn(bob)
	link2, _ := alice.linkViaAPI(t)
	require.Equal(t, http.StatusForbidden, bobTab.open(link2), "bob opens alice's link")
	require.Contains(t, bobTab.text("main"), "belongs to another user")
	bobTab.requireNoProblems("another user's link", http.StatusForbidden)
	bobTab.screenshot(dir, "other-user.png")
	// The POST is refused too when bob's browser sends the form the confirm
	// page would have sent (his cookie and his CSRF token): Mattermost
	// authenticates the cookie + csrf field, so the plugin sees bob.
	token2 := tokenOf(t, link2)
	require.Equal(t, http.StatusForbidden, bobTab.load("posting alice's link as bob", chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
		_, err := chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
			const f = document.createElement("form");
			f.method = "post";
			f.action = "/plugins/%s/issue";
			for (const [name, value] of [["token", %q], ["csrf", decodeURIComponent(document.cookie.match(/(?:^|;\s*)MMCSRF=([^;]*)/)[1])]]) {
				const input = document.createElement("input");
				input.type = "hidden"; input.name = name; input.value = value;
				f.appendChild(input);
			}
			document.body.appendChild(f);
			f.submit();
		})()`, pluginID, token2))(ctx, tgt)
		return err
	})), "bob's POST of alice's link must be refused")
	require.Contains(t, bobTab.text("main"), "belongs to another user")
	bobPost := bobTab.onlyPost(bed.mm.URL + "/plugins/" + pluginID + "/issue")
	require.Contains(t, bobPost.cookies, model.SessionCookieToken)
	bobForm, err := url.ParseQuery(string(bobPost.body))
	require.NoError(t, err)
	require.Equal(t, bobCSRF, bobForm.Get("csrf"))
	// The form-action 'self' CSP of the 403 page allows this same-origin post,
	// and the navigation reports the expected 403 only.
	bobTab.requireNoProblems("bob's POST", http.StatusForbidden)
	require.Equal(t, before+1, certificateCount(t, alice), "bob's attempts issue nothing")

	// Alice's link still works in her own browser.
	require.Equal(t, http.StatusOK, aliceTab.open(link2), "alice's link after bob tried it")
	require.Contains(t, aliceTab.text("h1"), alice.name())
	require.Equal(t, http.StatusOK, aliceTab.load("Create certificate after bob",
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`))))
	require.NotEmpty(t, aliceTab.text("#passphrase"))
	aliceTab.requireNoProblems("alice after bob", 0)
	require.Equal(t, before+2, certificateCount(t, alice))
}

// download clicks the link matched by selector with downloads going to dir,
// waits for the download to complete and returns the file's path.
func (b *browserTab) download(dir, selector string) string {
	b.t.Helper()
	ctx, cancel := b.stepContext()
	defer cancel()
	_, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior:      browser.SetDownloadBehaviorBehaviorAllow,
		DownloadPath:  dir,
		EventsEnabled: new(true),
	})
	require.NoError(b.t, err, "Browser.setDownloadBehavior")
	// Subscribe before the click, so no event is missed.
	begins := chromedp.BrowserEvents(ctx, browser.DownloadWillBegin)
	progress := chromedp.BrowserEvents(ctx, browser.DownloadProgress)
	require.NoError(b.t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(selector))), "%s: clicking %s", b.name, selector)

	var name, guid string
	for ev, err := range begins {
		require.NoError(b.t, err, "%s: waiting for the download to begin", b.name)
		name, guid = ev.SuggestedFilename, ev.GUID
		break
	}
	for ev, err := range progress {
		require.NoError(b.t, err, "%s: waiting for the download of %s", b.name, name)
		if ev.GUID != guid {
			continue
		}
		require.NotEqual(b.t, browser.DownloadProgressStateCanceled, ev.State, "%s: the download of %s was canceled", b.name, name)
		if ev.State == browser.DownloadProgressStateCompleted {
			break
		}
	}
	path := filepath.Join(dir, name)
	_, err = os.Stat(path)
	require.NoError(b.t, err, "the completed download is not in %s", dir)
	return path
}

// TestRevokeAutocomplete asks the real server for the suggestions of
// `/cert revoke ` as the web client does while the user types: Mattermost
// calls the plugin's dynamic-list route for the user, and the owner's live
// serials (only hers, not revoked ones) come back. The owner is a user of
// this test alone, so the list does not depend on other tests.
func TestRevokeAutocomplete(t *testing.T) {
	requireBed(t)
	owner := newTestUser(t, "autocomplete")
	bob := bed.bob
	kept, _ := owner.issueJSON(t)
	revoked, _ := owner.issueJSON(t)
	reply := pluginRequest(t, http.MethodPost, "/api/v1/certificates/"+revoked.serial+"/revoke", nil, owner.Token(), "application/json")
	require.Equal(t, http.StatusOK, reply.status, "revoking %s: %s", revoked.serial, reply)

	items := suggestionItems
	list := autocompleteSuggestions(t, owner, "/cert revoke ")
	require.Contains(t, items(list), kept.serial, "her live certificate must be suggested: %+v", list)
	require.NotContains(t, items(list), revoked.serial, "a revoked certificate must not be suggested")
	for _, s := range list {
		if s.Suggestion == kept.serial {
			require.Equal(t, "cert revoke "+kept.serial, s.Complete, "choosing it completes the command")
			require.Contains(t, s.Hint, owner.name(), "the hint names the certificate's subject")
		}
	}
	// Typing the start of the serial narrows the list to it.
	require.Equal(t, []string{kept.serial}, items(autocompleteSuggestions(t, owner, "/cert revoke "+kept.serial[:6])))
	// Another user gets none of hers.
	require.NotContains(t, items(autocompleteSuggestions(t, bob, "/cert revoke ")), kept.serial)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
