//go:build e2e

package e2e

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/clientcerts/mattermost-plugin-certs/server/openid/dextest"
)

// The portal's single sign-on through a real Dex: its password database
// (pat, no groups) and its mock connector (Kilgore Trout, group "authors").
var pat = dextest.User{Email: "pat@partner.example", Username: "pat", UserID: "pat-1", Password: "pat's long password"}

const (
	dexClientID     = "certs-portal"
	dexClientSecret = "portal-client-secret-for-e2e"
)

// startDexForPortal starts Dex for the portal of the test server and points
// the plugin's settings at it, with change applied on top.
func startDexForPortal(t *testing.T, change func(map[string]any)) *dextest.Dex {
	t.Helper()
	if os.Getenv(dextest.BinaryEnv) == "" {
		t.Skip("no Dex: run through `make e2e`, which builds it")
	}
	callback := bed.mm.URL + "/plugins/" + pluginID + "/portal/oidc/callback"
	dex := dextest.Start(t, dextest.Options{
		Clients: []dextest.Client{{ID: dexClientID, Secret: dexClientSecret, RedirectURIs: []string{callback}}},
		Users:   []dextest.User{pat},
		Mock:    true,
	})
	require.NoError(t, withPluginSettings(t, func(s map[string]any) {
		s["oidcissuer"] = dex.Issuer
		s["oidcclientid"] = dexClientID
		s["oidcclientsecret"] = dexClientSecret
		s["oidcscopes"] = "groups"
		s["oidcusernameclaim"] = "name"
		s["connectorsandprofiles"] = `{"profiles": [{"name": "vpn"}, {"name": "sso", "access": {"portal": true}}, {"name": "authors", "access": {"oidc_groups": ["authors"]}}]}`
		if change != nil {
			change(s)
		}
	}))
	return dex
}

// ssoClient is a browser without a page: it starts a sign-in at the portal
// and follows the portal's redirects by hand.
type ssoClient struct {
	t      *testing.T
	client *http.Client
}

func newSSOClient(t *testing.T) *ssoClient {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &ssoClient{t: t, client: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *ssoClient) get(target string) (*http.Response, string) {
	c.t.Helper()
	resp, err := c.client.Get(target)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp, b.String()
}

// start begins a sign-in at the portal: the provider's URL it sends to.
func (c *ssoClient) start() string {
	c.t.Helper()
	resp, body := c.get(bed.mm.URL + "/plugins/" + pluginID + "/portal/oidc/start")
	require.Equal(c.t, http.StatusSeeOther, resp.StatusCode, body)
	return resp.Header.Get("Location")
}

// signIn signs in at Dex and returns the callback it sends back to.
func (c *ssoClient) signIn(dex *dextest.Dex, as dextest.Login) *url.URL {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	callback, err := dex.SignIn(ctx, c.start(), as)
	require.NoError(c.t, err)
	return callback
}

func TestPortalSingleSignOnRefusals(t *testing.T) {
	dex := startDexForPortal(t, nil)
	patLogin := dextest.Login{Email: pat.Email, Password: pat.Password}

	// A sign-in, and the same callback replayed.
	c := newSSOClient(t)
	callback := c.signIn(dex, patLogin)
	resp, body := c.get(callback.String())
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, body)
	require.Equal(t, "/plugins/"+pluginID+"/portal/", resp.Header.Get("Location"))
	resp, body = c.get(bed.mm.URL + "/plugins/" + pluginID + "/portal/")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, `<strong id="signed-in-as">pat</strong> (single sign-on)`)
	require.Contains(t, body, `value="sso"`)
	require.NotContains(t, body, `value="authors"`, "pat is in no group")
	require.NotContains(t, body, `value="vpn"`, "a profile that says nothing of the portal")
	resp, body = c.get(callback.String())
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "a replayed callback")
	require.Contains(t, body, "already finished")

	// A callback in another browser than the one that started it.
	c = newSSOClient(t)
	callback = c.signIn(dex, patLogin)
	resp, body = newSSOClient(t).get(callback.String())
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, body, "another browser")

	// A state nobody started.
	forged := *callback
	q := forged.Query()
	q.Set("state", "forged-state")
	forged.RawQuery = q.Encode()
	resp, _ = c.get(forged.String())
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)

	// The IdP says no (the person declined).
	c = newSSOClient(t)
	auth, err := url.Parse(c.start())
	require.NoError(t, err)
	declined := bed.mm.URL + "/plugins/" + pluginID + "/portal/oidc/callback?error=access_denied&state=" + url.QueryEscape(auth.Query().Get("state"))
	resp, body = c.get(declined)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, body, "did not sign you in")

	// The mock connector's person is in "authors": that profile is theirs.
	c = newSSOClient(t)
	callback = c.signIn(dex, dextest.Login{Connector: dextest.MockConnector})
	resp, _ = c.get(callback.String())
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	_, body = c.get(bed.mm.URL + "/plugins/" + pluginID + "/portal/")
	require.Contains(t, body, `value="authors"`)
}

func TestPortalSingleSignOnRules(t *testing.T) {
	patLogin := dextest.Login{Email: pat.Email, Password: pat.Password}
	t.Run("a required group pat is not in", func(t *testing.T) {
		dex := startDexForPortal(t, func(s map[string]any) { s["oidcrequiredgroup"] = "authors" })
		c := newSSOClient(t)
		resp, body := c.get(c.signIn(dex, patLogin).String())
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		require.Contains(t, body, "not in the group")
		c = newSSOClient(t)
		resp, _ = c.get(c.signIn(dex, dextest.Login{Connector: dextest.MockConnector}).String())
		require.Equal(t, http.StatusSeeOther, resp.StatusCode, "a member signs in")
	})
	t.Run("a domain not allowed", func(t *testing.T) {
		dex := startDexForPortal(t, func(s map[string]any) { s["oidcalloweddomains"] = "example.com" })
		c := newSSOClient(t)
		resp, body := c.get(c.signIn(dex, patLogin).String())
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		require.Contains(t, body, "not in a domain")
	})
	t.Run("the provider is down", func(t *testing.T) {
		dex := startDexForPortal(t, nil)
		c := newSSOClient(t)
		auth := c.start()
		_ = auth
		dex.Stop()
		// The provider's metadata is cached: the exchange is what fails.
		state, err := url.Parse(auth)
		require.NoError(t, err)
		callback := bed.mm.URL + "/plugins/" + pluginID + "/portal/oidc/callback?code=abc&state=" + url.QueryEscape(state.Query().Get("state"))
		resp, body := c.get(callback)
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, body)
		require.Contains(t, body, "could not be reached")
	})
}

// TestPortalSingleSignOnInTheBrowser signs pat in through Dex's own pages in
// Chromium, creates a certificate, opens it, revokes it and signs out.
func TestPortalSingleSignOnInTheBrowser(t *testing.T) {
	requireChromium(t)
	startDexForPortal(t, nil)
	chromium := startBrowser(t)
	tab := openTab(t, chromium.Ctx, "pat's browser", false)
	portal := bed.mm.URL + "/plugins/" + pluginID + "/portal/"

	require.Equal(t, http.StatusOK, tab.open(portal))
	require.Equal(t, http.StatusOK, tab.load("choosing single sign-on", chromedp.Click(chromedp.CSS("#oidc-signin"))))
	require.Equal(t, http.StatusOK, tab.load("choosing Dex's password login", chromedp.Click(chromedp.CSS(`a[href*="/auth/local"]`))))
	require.Equal(t, http.StatusOK, tab.load("signing in at Dex",
		chromedp.SendKeys(chromedp.CSS("#login"), pat.Email),
		chromedp.SendKeys(chromedp.CSS("#password"), pat.Password),
		chromedp.Click(chromedp.CSS("#submit-login"))))
	tab.requireNoProblems("back on the portal", 0)
	require.Equal(t, "pat", tab.text("#signed-in-as"))

	require.Equal(t, http.StatusOK, tab.load("choosing a profile", chromedp.Click(chromedp.CSS(`#new-certificate button[type="submit"]`))))
	require.Equal(t, http.StatusOK, tab.load("creating the certificate", chromedp.Click(chromedp.CSS(`form button[type="submit"]`))))
	require.Equal(t, "Your certificate is ready", tab.text("h1"))
	passphrase := tab.text("#passphrase")
	downloads := filepath.Join(t.TempDir(), "downloads")
	require.NoError(t, os.MkdirAll(downloads, 0o700))
	p12Path := tab.download(downloads, "#download")
	p12, err := os.ReadFile(p12Path)
	require.NoError(t, err)
	_, cert, _, err := pkcs12.DecodeChain(p12, passphrase)
	require.NoError(t, err)
	require.Equal(t, "pat", cert.Subject.CommonName)
	require.Equal(t, []string{pat.Email}, cert.EmailAddresses)
	require.Len(t, cert.URIs, 1)
	require.Contains(t, cert.URIs[0].String(), "/oidc/")
	dump := runTool(t, downloads, "openssl", "pkcs12", "-in", p12Path, "-passin", "pass:"+passphrase, "-nodes")
	require.Contains(t, dump, "PRIVATE KEY-----")
	nssDB := "sql:" + filepath.Join(downloads, "nssdb")
	require.NoError(t, os.Mkdir(filepath.Join(downloads, "nssdb"), 0o700))
	runTool(t, downloads, "certutil", "-N", "--empty-password", "-d", nssDB)
	require.Contains(t, runTool(t, downloads, "pk12util", "-i", p12Path, "-d", nssDB, "-W", passphrase), "PKCS12 IMPORT SUCCESSFUL")

	require.Equal(t, http.StatusOK, tab.open(portal))
	serial := tab.text("#valid-certificates code")
	require.Equal(t, http.StatusOK, tab.open(portal+"certificates/"+serial+"/revoke"))
	require.Equal(t, http.StatusOK, tab.load("revoking", chromedp.Click(chromedp.CSS(`form button[type="submit"]`))))
	require.Equal(t, "Certificate revoked", tab.text("h1"))
	require.Equal(t, http.StatusOK, tab.open(portal))
	require.Equal(t, http.StatusOK, tab.load("signing out", chromedp.Click(chromedp.CSS("#sign-out"))))
	require.Contains(t, tab.text("#signed-out"), "signed out")
}
