//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/require"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/clientcerts/mattermost-plugin-certs/e2e/testbed"
)

// TestPortalLocalAccountInTheBrowser is a person outside chat: a system
// admin adds a local account in chat, its owner sets a password through the
// link, signs in to the portal in Chromium, creates a certificate (the
// PKCS#12 file opens with the passphrase shown), revokes it, and signs out.
func TestPortalLocalAccountInTheBrowser(t *testing.T) {
	requireChromium(t)
	boss := newPortalBoss(t, "optional")

	name := "partner" + strings.ToLower(model.NewId()[:8])
	reply := boss.runCommand(t, "/cert admin local add "+name+" "+name+"@partner.example").Message
	require.Contains(t, reply, "Local account `"+name+"` added.")
	link := regexp.MustCompile(`http://\S+/plugins/certs/portal/password\?token=\S+`).FindString(reply)
	require.NotEmpty(t, link, reply)

	dir := t.TempDir()
	chromium := startBrowser(t)
	tab := openTab(t, chromium.Ctx, name+"'s browser", false)
	password := "a long passphrase for " + name[:3]

	// The set-password link.
	require.Equal(t, http.StatusOK, tab.open(link))
	tab.requireNoProblems("set-password page", 0)
	require.Equal(t, http.StatusOK, tab.load("setting the password",
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.SendKeys(chromedp.CSS("#confirm"), password),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`))))
	require.Equal(t, "Your password is set", tab.text("h1"))

	// Sign in: a page of the portal leads to the sign-in form and back.
	portal := bed.mm.URL + "/plugins/" + pluginID + "/portal/"
	require.Equal(t, http.StatusOK, tab.open(portal))
	require.Equal(t, "Client certificates: sign in", tab.text("h1"))
	require.Equal(t, http.StatusUnauthorized, tab.load("a wrong password",
		chromedp.SendKeys(chromedp.CSS("#username"), name),
		chromedp.SendKeys(chromedp.CSS("#password"), "not the password"),
		chromedp.Click(chromedp.CSS(`#local-signin button[type="submit"]`))))
	require.Contains(t, tab.text("#error"), "The username or the password is wrong.")
	tab.requireNoProblems("a wrong password", http.StatusUnauthorized)
	require.Equal(t, http.StatusOK, tab.load("signing in",
		chromedp.SetValue(chromedp.CSS("#username"), name),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS(`#local-signin button[type="submit"]`))))
	tab.requireNoProblems("home page", 0)
	require.Equal(t, name, tab.text("#signed-in-as"))
	session := tab.cookiesFor(portal)["certs_portal_session"]
	require.NotNil(t, session)
	require.True(t, session.HTTPOnly)
	require.Equal(t, "Lax", string(session.SameSite))
	require.Nil(t, tab.cookies()["certs_portal_session"], "the session cookie goes to the portal's path only")
	require.Equal(t, "/plugins/"+pluginID+"/portal", session.Path)

	// A new certificate, its key made by the server.
	require.Equal(t, http.StatusOK, tab.load("choosing a profile",
		chromedp.Click(chromedp.CSS(`#new-certificate button[type="submit"]`))))
	tab.requireNoProblems("confirm page", 0)
	require.Equal(t, http.StatusOK, tab.load("creating the certificate",
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`))))
	require.Equal(t, "Your certificate is ready", tab.text("h1"))
	passphrase := tab.text("#passphrase")
	downloads := filepath.Join(dir, "downloads")
	require.NoError(t, os.MkdirAll(downloads, 0o700))
	p12Path := tab.download(downloads, "#download")
	p12, err := os.ReadFile(p12Path)
	require.NoError(t, err)
	_, cert, _, err := pkcs12.DecodeChain(p12, passphrase)
	require.NoError(t, err, "the PKCS#12 file opens with the passphrase shown")
	require.Equal(t, name, cert.Subject.CommonName)
	require.Equal(t, []string{name + "@partner.example"}, cert.EmailAddresses)
	require.Len(t, cert.URIs, 1)
	require.Contains(t, cert.URIs[0].String(), "/local/")
	dump := runTool(t, downloads, "openssl", "pkcs12", "-in", p12Path, "-passin", "pass:"+passphrase, "-nodes")
	require.Contains(t, dump, "PRIVATE KEY-----", "OpenSSL opens the file")

	// My certificates lists it; revoke it with a reason.
	require.Equal(t, http.StatusOK, tab.open(portal))
	serial := tab.text("#valid-certificates code")
	require.Equal(t, 0, cert.SerialNumber.Cmp(mustHexInt(t, serial)), "the page lists the certificate")
	require.Equal(t, http.StatusOK, tab.open(portal+"certificates/"+serial+"/revoke"))
	require.Equal(t, http.StatusOK, tab.load("revoking",
		chromedp.SetValue(chromedp.CSS("#reason"), "keyCompromise"),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`))))
	require.Equal(t, "Certificate revoked", tab.text("h1"))
	require.Equal(t, http.StatusOK, tab.open(portal))
	require.Contains(t, tab.text("#no-certificates"), "no valid certificate")

	// Sign out: the session is gone on the server too.
	require.Equal(t, http.StatusOK, tab.load("signing out", chromedp.Click(chromedp.CSS("#sign-out"))))
	require.Contains(t, tab.text("#signed-out"), "signed out")
	req, err := http.NewRequest(http.MethodGet, portal, nil)
	require.NoError(t, err)
	req.AddCookie(&http.Cookie{Name: session.Name, Value: session.Value})
	client := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "the old session cookie opens nothing")
}

func mustHexInt(t *testing.T, hex string) *big.Int {
	t.Helper()
	n, ok := new(big.Int).SetString(hex, 16)
	require.True(t, ok, "%q is not a hex serial", hex)
	return n
}

// addLocalAccount has a system admin add a local account in chat, and its
// owner set its password through the link (over HTTP: the browser test
// above walks the page). It answers the portal's base URL on base.
func addLocalAccount(t *testing.T, boss *testUser, name, password, base string) {
	t.Helper()
	reply := boss.runCommand(t, "/cert admin local add "+name+" "+name+"@partner.example").Message
	link := regexp.MustCompile(`token=(\S+)`).FindStringSubmatch(reply)
	require.NotNil(t, link, reply)
	form := url.Values{"token": {link[1]}, "password": {password}, "confirm": {password}}
	resp, err := http.PostForm(base+"/plugins/"+pluginID+"/portal/password", form)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// newPortalBoss is a system admin of this test, with the portal's local
// accounts on and a profile for them.
func newPortalBoss(t *testing.T, secondFactor string) *testUser {
	t.Helper()
	require.NoError(t, withPluginSettings(t, func(s map[string]any) {
		s["portallocalaccounts"] = true
		s["portalsecondfactor"] = secondFactor
		s["connectorsandprofiles"] = `{"profiles": [{"name": "vpn"}, {"name": "partners", "description": "For partners", "access": {"local_accounts": true}}]}`
	}))
	boss := newTestUser(t, "portalboss")
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	_, err := bed.admin.Client.UpdateUserRoles(ctx, boss.User.Id, model.SystemUserRoleId+" "+model.SystemAdminRoleId)
	require.NoError(t, err)
	return boss
}

// signInLocal fills the portal's sign-in form on base.
func (b *browserTab) signInLocal(base, name, password string) int {
	b.t.Helper()
	require.Equal(b.t, http.StatusOK, b.open(base+"/plugins/"+pluginID+"/portal/signin"))
	return b.load("signing in as "+name,
		chromedp.SendKeys(chromedp.CSS("#username"), name),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS(`#local-signin button[type="submit"]`)))
}

// TestPortalSecondFactorsInTheBrowser: where a second factor is required,
// a local account sets up an authenticator app at its first sign-in (the
// QR code's secret read from the page), gives a code at the next, and adds
// a passkey that Chromium's virtual authenticator makes and then uses;
// then wrong passwords meet the throttle.
// Passkeys need a host name, not an IP address: this runs on a second
// server whose Site URL is http://localhost:<port>.
func TestPortalSecondFactorsInTheBrowser(t *testing.T) {
	requireChromium(t)
	boss := newPortalBoss(t, "required")
	port, err := testbed.FreePort()
	require.NoError(t, err)
	second := startSecondServerWith(t, port, "MM_SERVICESETTINGS_SITEURL="+fmt.Sprintf("http://localhost:%d", port))
	base := fmt.Sprintf("http://localhost:%d", port)
	_ = second

	name := "tfa" + strings.ToLower(model.NewId()[:8])
	password := "a long passphrase for " + name[:3]
	addLocalAccount(t, boss, name, password, base)

	chromium := startBrowser(t)
	tab := openTab(t, chromium.Ctx, name+"'s browser", false)

	// First sign-in: set up an authenticator app before anything opens.
	require.Equal(t, http.StatusOK, tab.signInLocal(base, name, password))
	tab.requireNoProblems("second factor set-up", 0)
	require.NotEmpty(t, tab.text("#setting-up"))
	secret := tab.text("#totp-secret")
	code, err := totp.GenerateCode(secret, time.Now())
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, tab.load("confirming the app",
		chromedp.SendKeys(chromedp.CSS("#totp-setup #code"), code),
		chromedp.Click(chromedp.CSS(`#totp-setup button[type="submit"]`))))
	require.Equal(t, name, tab.text("#signed-in-as"), "the session opens once the app is set up")

	// A passkey, made by the virtual authenticator.
	ctx, cancel := tab.stepContext()
	_, err = chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{})
	require.NoError(t, err, "WebAuthn.enable")
	_, err = chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
		Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportInternal,
		HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
	}})
	require.NoError(t, err, "WebAuthn.addVirtualAuthenticator")
	cancel()
	require.Equal(t, http.StatusOK, tab.open(base+"/plugins/"+pluginID+"/portal/second-factor"))
	require.Equal(t, http.StatusOK, tab.load("adding a passkey",
		chromedp.SendKeys(chromedp.CSS("#passkey-name"), "laptop"),
		chromedp.Click(chromedp.CSS("#add-passkey"))))
	tab.requireNoProblems("passkey added", 0)
	require.Contains(t, tab.text("#done"), "Your passkey is registered.", tab.text("body"))
	require.Contains(t, tab.text("#passkeys"), "laptop")

	// Sign out, and in again with the password and the passkey.
	require.Equal(t, http.StatusOK, tab.open(base+"/plugins/"+pluginID+"/portal/"))
	require.Equal(t, http.StatusOK, tab.load("signing out", chromedp.Click(chromedp.CSS("#sign-out"))))
	require.Equal(t, http.StatusOK, tab.signInLocal(base, name, password))
	require.Equal(t, "Second factor", tab.text("h1"))
	require.Equal(t, http.StatusOK, tab.load("using the passkey", chromedp.Click(chromedp.CSS("#use-passkey"))))
	tab.requireNoProblems("signed in with a passkey", 0)
	require.Equal(t, name, tab.text("#signed-in-as"))

	// And with a code from the app, which works once.
	require.Equal(t, http.StatusOK, tab.load("signing out", chromedp.Click(chromedp.CSS("#sign-out"))))
	require.Equal(t, http.StatusOK, tab.signInLocal(base, name, password))
	code = nextTOTP(t, secret, code)
	require.Equal(t, http.StatusOK, tab.load("giving a code",
		chromedp.SendKeys(chromedp.CSS("#totp-form #code"), code),
		chromedp.Click(chromedp.CSS(`#totp-form button[type="submit"]`))))
	require.Equal(t, name, tab.text("#signed-in-as"))
	require.Equal(t, http.StatusOK, tab.load("signing out", chromedp.Click(chromedp.CSS("#sign-out"))))
	require.Equal(t, http.StatusOK, tab.signInLocal(base, name, password))
	require.Equal(t, http.StatusUnauthorized, tab.load("giving the same code again",
		chromedp.SendKeys(chromedp.CSS("#totp-form #code"), code),
		chromedp.Click(chromedp.CSS(`#totp-form button[type="submit"]`))))
	require.Contains(t, tab.text("#error"), "already used")

	// Wrong passwords, one after another: after the free ones the throttle
	// answers, before any password is checked. (Last of the portal's tests:
	// every test's browser comes from this one address.)
	var status int
	for range 8 {
		if status = tab.signInLocal(base, "nobody"+name, "not the password at all"); status == http.StatusTooManyRequests {
			break
		}
		require.Equal(t, http.StatusUnauthorized, status)
	}
	require.Equal(t, http.StatusTooManyRequests, status)
	require.Contains(t, tab.text("#error"), "Too many failed sign-ins; wait")
}

// nextTOTP waits for the app to show a code other than used (a code is
// accepted once), and returns it.
func nextTOTP(t *testing.T, secret, used string) string {
	t.Helper()
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		code, err := totp.GenerateCode(secret, time.Now())
		require.NoError(t, err)
		if code != used {
			return code
		}
	}
	t.Fatal("the authenticator app's code did not change in 90 s")
	return ""
}
