//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/e2e/testbed"
)

// axeScript is axe-core from the webapp's npm dependencies (pinned there).
var axeScript = filepath.Join("..", "webapp", "node_modules", "axe-core", "axe.min.js")

// requireHostPage skips a test of the webapp bundle in a browser where the
// host page (webapp/host, `npm run build:host`) or Chromium is missing,
// except under CI, which builds and installs both.
func requireHostPage(t *testing.T) {
	t.Helper()
	requireChromium(t)
	if bed.hostPage == "" {
		if ci := os.Getenv("CI"); ci != "" {
			t.Fatalf("CI=%s, but the host page was not built (make webapp builds webapp/host/dist)", ci)
		}
		t.Skip("no host page: run `npm run build:host` in webapp/ or set CERTS_HOST_PAGE")
	}
}

// openHostPage opens the host page the server serves at / in a new tab with
// its own cookie jar, signs in as user through its form and waits until the
// plugins' bundles have loaded.
func openHostPage(t *testing.T, chromium *testbed.Chromium, user *testUser) *browserTab {
	t.Helper()
	tab := openTab(t, chromium.Ctx, user.name()+"'s host page", true)
	require.Equal(t, http.StatusOK, tab.open(bed.mm.URL+"/"), "the site's root must serve the host page")
	tab.waitFor("the sign-in form", `!!document.querySelector("#login-id")`)
	ctx, cancel := tab.stepContext()
	defer cancel()
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#login-id"), user.name()),
		chromedp.SendKeys(chromedp.CSS("#password"), userPassword),
		chromedp.Click(chromedp.CSS(`form[aria-label="Sign in"] button[type="submit"]`)),
	), "%s: signing in", tab.name)
	tab.waitFor("the plugins to load", `document.querySelector(".workspace")?.dataset.pluginsLoaded === "true"`)
	tab.waitFor("the WebSocket", `document.querySelector(".top")?.textContent.includes("WebSocket connected")`)
	return tab
}

// waitFor polls a JavaScript expression in the page until it is true.
func (b *browserTab) waitFor(what, expression string) {
	b.t.Helper()
	deadline := time.Now().Add(browserStepTimeout)
	for {
		if evalIn[bool](b, fmt.Sprintf("(() => { try { return Boolean(%s); } catch { return false; } })()", expression)) {
			return
		}
		if time.Now().After(deadline) {
			body := evalIn[string](b, `document.body ? document.body.innerText : ""`)
			b.t.Fatalf("%s: waited %s for %s; the page shows:\n%s\nproblems: %v", b.name, browserStepTimeout, what, lastLines(body, 30), b.takeProblems())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// do runs browser actions (clicks, keys) as one step.
func (b *browserTab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := b.stepContext()
	defer cancel()
	require.NoError(b.t, chromedp.Do(ctx, actions...), "%s: %s", b.name, what)
}

// injectAxe loads axe-core into the page (once per document).
func injectAxe(t *testing.T, tab *browserTab) {
	t.Helper()
	if evalIn[bool](tab, `typeof window.axe === "object"`) {
		return
	}
	script, err := os.ReadFile(axeScript)
	require.NoError(t, err, "axe-core (npm ci in webapp/)")
	evalIn[chromedp.Void](tab, string(script)+"\n;undefined")
	require.True(t, evalIn[bool](tab, `typeof window.axe === "object"`), "axe-core did not load")
}

// accessibleName is the accessible name of the first element matching
// selector, as axe-core computes it ("" if there is none).
func accessibleName(t *testing.T, tab *browserTab, selector string) string {
	t.Helper()
	injectAxe(t, tab)
	// axe-core's functions read its own copy of the DOM tree, made by setup.
	return evalIn[string](tab, fmt.Sprintf(`(() => {
		const el = document.querySelector(%q);
		if (!el) { return ""; }
		axe.setup(document);
		try { return axe.commons.text.accessibleText(el); } finally { axe.teardown(); }
	})()`, selector))
}

// axeViolation is one rule axe-core found broken.
type axeViolation struct {
	ID      string `json:"id"`
	Impact  string `json:"impact"`
	Help    string `json:"help"`
	HelpURL string `json:"helpUrl"`
	Nodes   []struct {
		Target         []any  `json:"target"`
		FailureSummary string `json:"failureSummary"`
	} `json:"nodes"`
}

func (v axeViolation) String() string {
	var out strings.Builder
	fmt.Fprintf(&out, "%s (%s): %s <%s>", v.ID, v.Impact, v.Help, v.HelpURL)
	for _, node := range v.Nodes {
		fmt.Fprintf(&out, "\n    %v: %s", node.Target, strings.ReplaceAll(node.FailureSummary, "\n", "; "))
	}
	return out.String()
}

// runAxe checks the part of the page matching selector with axe-core (WCAG
// 2.x A and AA rules and best practices), logs every violation and fails on
// any serious or critical one. It returns them all.
func runAxe(t *testing.T, tab *browserTab, selector string) []axeViolation {
	t.Helper()
	injectAxe(t, tab)
	result := evalIn[string](tab, fmt.Sprintf(`axe.run({include: [%q]}, {resultTypes: ["violations"]}).then(r => JSON.stringify(r.violations))`, selector))
	var violations []axeViolation
	require.NoError(t, json.Unmarshal([]byte(result), &violations), "axe-core's answer: %s", result)
	var serious []string
	for _, v := range violations {
		t.Logf("axe-core on %s: %s", selector, v)
		if v.Impact == "serious" || v.Impact == "critical" {
			serious = append(serious, v.String())
		}
	}
	require.Empty(t, serious, "axe-core found serious or critical accessibility problems in %s", selector)
	return violations
}

// sentRequests returns every request the tab sent to a URL starting with
// urlPrefix, in order, with its body: a body Chromium left out of the event
// (large or streamed) is asked for with Network.getRequestPostData.
func (b *browserTab) sentRequests(urlPrefix string) []sentReq {
	b.t.Helper()
	b.sync()
	b.mu.Lock()
	var matched []*sentReq
	for _, req := range b.sent {
		if strings.HasPrefix(req.url, urlPrefix) {
			matched = append(matched, req)
		}
	}
	b.mu.Unlock()
	out := make([]sentReq, 0, len(matched))
	for _, req := range matched {
		if req.hasPostData && len(req.body) == 0 {
			ctx, cancel := b.stepContext()
			data, err := chromedp.Call(ctx, network.GetRequestPostData, network.GetRequestPostDataParams{RequestID: network.RequestID(req.id)})
			cancel()
			if err == nil {
				b.mu.Lock()
				req.body = []byte(data.PostData)
				b.mu.Unlock()
			}
		}
		b.mu.Lock()
		out = append(out, *req)
		b.mu.Unlock()
	}
	return out
}

// downloadCollector gathers the files a browser downloads into a directory.
type downloadCollector struct {
	t         *testing.T
	dir       string
	mu        sync.Mutex
	names     map[string]string // by download guid
	completed chan string       // paths, as each download completes
}

// collectDownloads lets the browser of tab download into dir and records
// every download that completes there, from now until the test ends.
func (b *browserTab) collectDownloads(dir string) *downloadCollector {
	b.t.Helper()
	require.NoError(b.t, os.MkdirAll(dir, 0o700))
	d := &downloadCollector{t: b.t, dir: dir, names: map[string]string{}, completed: make(chan string, 64)}
	ctx, cancel := b.stepContext()
	defer cancel()
	_, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior:         browser.SetDownloadBehaviorBehaviorAllow,
		DownloadPath:     dir,
		EventsEnabled:    new(true),
		BrowserContextID: chromedp.FromContext(b.ctx).BrowserContextID,
	})
	require.NoError(b.t, err, "Browser.setDownloadBehavior")
	require.NoError(b.t, chromedp.ListenBrowser(b.ctx, func(ev any) {
		d.mu.Lock()
		defer d.mu.Unlock()
		switch ev := ev.(type) {
		case *browser.EventDownloadWillBegin:
			d.names[ev.GUID] = ev.SuggestedFilename
		case *browser.EventDownloadProgress:
			if name, ok := d.names[ev.GUID]; ok && ev.State == browser.DownloadProgressStateCompleted {
				delete(d.names, ev.GUID)
				d.completed <- filepath.Join(d.dir, name)
			}
		}
	}))
	return d
}

// next waits for the next completed download and returns its path.
func (d *downloadCollector) next() string {
	d.t.Helper()
	select {
	case path := <-d.completed:
		_, err := os.Stat(path)
		require.NoError(d.t, err, "the completed download is not in %s", d.dir)
		return path
	case <-time.After(browserStepTimeout):
		d.t.Fatalf("no download completed within %s", browserStepTimeout)
		return ""
	}
}

// TestWebappBundleRunsInTheHostPage runs the plugin's webapp bundle as the
// Mattermost web app does, in the host page the server serves at /: a user
// signs in through its form (real session cookies), the bundle registers its
// channel header button and App Bar icon, the button opens a dialog that
// axe-core finds no serious problem in and Escape closes, and `/cert help`
// typed into the command box gets the bot's reply over the WebSocket.
func TestWebappBundleRunsInTheHostPage(t *testing.T) {
	requireHostPage(t)
	requireBot(t)
	chromium := startBrowser(t)
	user := newTestUser(t, "hostpage")
	tab := openHostPage(t, chromium, user)
	tab.requireNoProblems("signing in and loading the plugins", 0)

	// What the web app gives plugins, at Mattermost 11's versions (the
	// react-dom 18.2.0 package calls itself 18.2.0-next-9e3b772b8-20220608).
	require.Equal(t, "18.2.0 18.2.0 true true true ", evalIn[string](tab,
		`[React.version, ReactDOM.version.split("-")[0], typeof PropTypes.checkPropTypes === "function", typeof Redux.legacy_createStore === "function", typeof ReactRedux.Provider === "function", window.basename].join(" ")`))
	require.Equal(t, 1, evalIn[int](tab, `document.querySelectorAll('script[src*="/static/plugins/certs/"]').length`),
		"the plugin's bundle is loaded from /static/plugins/certs/")

	// The sign-in: the form's JSON body, then the real cookies; every API
	// call carries X-Requested-With, and each one after sign-in the CSRF token.
	logins := tab.sentRequests(bed.mm.URL + "/api/v4/users/login")
	require.Len(t, logins, 1)
	var credentials map[string]string
	require.NoError(t, json.Unmarshal(logins[0].body, &credentials), "login body %q", logins[0].body)
	require.Equal(t, user.name(), credentials["login_id"])
	require.Equal(t, userPassword, credentials["password"])
	cookies := tab.cookies()
	require.NotNil(t, cookies[model.SessionCookieToken], "no session cookie after signing in through the page")
	require.NotNil(t, cookies[model.SessionCookieCsrf])
	csrf := cookies[model.SessionCookieCsrf].Value
	api := tab.sentRequests(bed.mm.URL + "/api/v4/")
	require.NotEmpty(t, api)
	signedIn := false
	for _, req := range api {
		if strings.HasSuffix(req.url, "/api/v4/websocket") {
			continue
		}
		require.Equal(t, "XMLHttpRequest", req.headers["x-requested-with"], "%s %s", req.method, req.url)
		if signedIn {
			require.Equal(t, csrf, req.headers["x-csrf-token"], "%s %s must carry the CSRF token", req.method, req.url)
		}
		signedIn = signedIn || strings.HasSuffix(req.url, "/users/login")
	}
	require.True(t, signedIn)

	// The bundle registered a channel header button and an App Bar icon.
	const headerButton = `header[aria-label="Channel header"] .channel-header-buttons button`
	const appBarButton = `nav[aria-label="App Bar"] button`
	buttonName := accessibleName(t, tab, headerButton)
	require.NotEmpty(t, buttonName, "the plugin's channel header button has no accessible name")
	iconAlt := evalIn[string](tab, fmt.Sprintf(`document.querySelector(%q)?.getAttribute("alt") || ""`, appBarButton+" img"))
	require.NotEmpty(t, iconAlt, "the plugin's App Bar icon has no alt text")
	t.Logf("channel header button %q, App Bar icon %q", buttonName, iconAlt)

	// The button opens a dialog; axe-core checks it; Escape closes it.
	tab.do("clicking the channel header button", chromedp.Click(chromedp.CSS(headerButton)))
	tab.waitFor("a dialog", `!!document.querySelector('[role="dialog"]')`)
	dialogName := accessibleName(t, tab, `[role="dialog"]`)
	require.NotEmpty(t, dialogName, "the dialog has no accessible name")
	t.Logf("dialog %q", dialogName)
	runAxe(t, tab, `[role="dialog"]`)
	tab.do("pressing Escape", chromedp.KeyEvent(kb.Escape))
	tab.waitFor("the dialog to close", `!document.querySelector('[role="dialog"]')`)

	// The App Bar icon opens it too.
	tab.do("clicking the App Bar icon", chromedp.Click(chromedp.CSS(appBarButton)))
	tab.waitFor("a dialog from the App Bar", `!!document.querySelector('[role="dialog"]')`)
	tab.do("pressing Escape", chromedp.KeyEvent(kb.Escape))
	tab.waitFor("the dialog to close", `!document.querySelector('[role="dialog"]')`)

	// `/cert help` through the command box: the server runs it, the bot's
	// reply arrives on the WebSocket.
	require.NotEmpty(t, accessibleName(t, tab, "#command"), "the command box has no label")
	tab.do("typing /cert help", chromedp.SendKeys(chromedp.CSS("#command"), "/cert help\r"))
	tab.waitFor("the bot's reply", fmt.Sprintf(`[...document.querySelectorAll('[role="log"] li')].some(li => li.textContent.startsWith(%q) && li.textContent.includes("/cert download"))`, botUsername))
	executed := tab.sentRequests(bed.mm.URL + "/api/v4/commands/execute")
	require.Len(t, executed, 1)
	var command map[string]string
	require.NoError(t, json.Unmarshal(executed[0].body, &command), "command body %q", executed[0].body)
	require.Equal(t, "/cert help", command["command"])
	require.Equal(t, user.townSquareID, command["channel_id"])
	require.Equal(t, bed.team.Id, command["team_id"])
	tab.requireNoProblems("the dialog and the command", 0)

	// Collecting downloads works (for the tests that download from this page).
	downloads := tab.collectDownloads(filepath.Join(t.TempDir(), "downloads"))
	evalIn[chromedp.Void](tab, `(() => {
		const a = document.createElement("a");
		a.href = URL.createObjectURL(new Blob(["probe"], {type: "text/plain"}));
		a.download = "probe.txt";
		document.body.appendChild(a);
		a.click();
		a.remove();
	})()`)
	probe := downloads.next()
	require.Equal(t, "probe.txt", filepath.Base(probe))
	content, err := os.ReadFile(probe)
	require.NoError(t, err)
	require.Equal(t, "probe", string(content))

	// `/cert download` (README's "Try it in a browser"): the reply's link opens
	// the plugin's page for this user.
	tab.do("typing /cert download", chromedp.SendKeys(chromedp.CSS("#command"), "/cert download\r"))
	const replyLink = `[...document.querySelectorAll('[role="log"] li a')].find(a => a.textContent === "Get my certificate")`
	tab.waitFor("the link in the bot's reply", replyLink)
	require.Equal(t, "_blank", evalIn[string](tab, replyLink+".target"))
	link := evalIn[string](tab, replyLink+".href")
	require.True(t, strings.HasPrefix(link, bed.mm.URL+"/plugins/"+pluginID+"/"), "the reply's link %q", link)
	tab.requireNoProblems("/cert download", 0)
	require.Equal(t, http.StatusOK, tab.open(link), "the reply's link")
	require.Contains(t, tab.text("h1"), user.name(), "the link's page names the user")

	// Back on the page, the session is still there, without signing in again.
	require.Equal(t, http.StatusOK, tab.open(bed.mm.URL+"/"))
	tab.waitFor("the plugins to load again", `document.querySelector(".workspace")?.dataset.pluginsLoaded === "true"`)
	tab.requireNoProblems("reopening the page", 0)

	// Signing out ends the session: the page offers the sign-in form again.
	tab.do("signing out", chromedp.Click(chromedp.CSS(`#sign-out`)))
	tab.waitFor("the sign-in form after signing out", `!!document.querySelector("#login-id")`)
	require.Nil(t, tab.cookies()[model.SessionCookieToken], "the session cookie is gone after signing out")
	tab.requireNoProblems("signing out", 0)
}

// TestSettingsFormInTheHostPage: the plugin's Connectors and profiles
// setting as the System Console shows it (its custom setting component, in
// the host page), against the real server: the server's objection shows
// beside the field it names while the admin edits, and a save through the
// form is a save of the same JSON.
func TestSettingsFormInTheHostPage(t *testing.T) {
	requireHostPage(t)
	require.NoError(t, withPluginSettings(t, func(s map[string]any) {
		s["connectorsandprofiles"] = `{"profiles": [{"name": "default", "description": "Everyone"}, {"name": "vpn", "validity_days": 30}]}`
	}))
	waitForProfiles(t, bed.alice, "default", "vpn")
	chromium := startBrowser(t)
	tab := openHostPage(t, chromium, &testUser{Session: bed.admin})

	evalIn[bool](tab, `(() => { [...document.querySelectorAll("button")].find(b => b.textContent === "System Console").click(); return true })()`)
	const validity = `[...document.querySelectorAll("#system-console label")].filter(l => l.textContent === "Validity (days)").map(l => document.getElementById(l.htmlFor))[1]`
	tab.waitFor("the form's profiles", `!!`+validity)
	runAxe(t, tab, "#system-console")

	setValidity := func(value string) {
		evalIn[bool](tab, fmt.Sprintf(`(() => {
			const el = %s;
			Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set.call(el, %q);
			el.dispatchEvent(new Event("input", {bubbles: true}));
			return true;
		})()`, validity, value))
	}
	setValidity("5000")
	tab.waitFor("the server's objection beside the field", validity+`.getAttribute("aria-invalid") === "true"`)
	message := evalIn[string](tab, `[...`+validity+`.getAttribute("aria-describedby").split(" ")].map(id => document.getElementById(id)?.textContent || "").join(" ")`)
	require.Contains(t, message, "validity", "the message beside the field: %q", message)

	setValidity("90")
	tab.waitFor("the objection to go", validity+`.getAttribute("aria-invalid") !== "true"`)
	evalIn[bool](tab, `(() => { [...document.querySelectorAll("#system-console button")].find(b => b.textContent === "Save").click(); return true })()`)
	tab.waitFor("the save", `[...document.querySelectorAll("#system-console [role=status]")].some(s => s.textContent === "Saved.")`)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, _, err := bed.admin.Client.GetConfig(ctx)
	require.NoError(t, err)
	var catalog struct {
		Profiles []struct {
			Name         string `json:"name"`
			Description  string `json:"description"`
			ValidityDays int    `json:"validity_days"`
		} `json:"profiles"`
	}
	stored, _ := cfg.PluginSettings.Plugins[pluginID]["connectorsandprofiles"].(string)
	require.NoError(t, json.Unmarshal([]byte(stored), &catalog), "the stored setting %q", stored)
	require.Len(t, catalog.Profiles, 2)
	require.Equal(t, "Everyone", catalog.Profiles[0].Description, "what the form did not touch is kept")
	require.Equal(t, 90, catalog.Profiles[1].ValidityDays)
	tab.requireNoProblems("the settings form", 0)
}
