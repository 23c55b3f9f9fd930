package main

import (
	"crypto/x509"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/config"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/local"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"
	"github.com/clientcerts/mattermost-plugin-certs/server/web/enrollment"
)

// portalCatalog offers "portal" to local accounts (and every Mattermost
// user), and "vpn" to Mattermost users only (it says nothing of the
// portal).
const portalCatalog = `{"profiles": [{"name": "vpn"}, {"name": "portal", "access": {"local_accounts": true}}]}`

// browser is a person's browser on the portal: it keeps the cookies the
// plugin sets, and sends them back.
type browser struct {
	env     *testEnv
	cookies map[string]*http.Cookie
	// mattermostUser, when set, is the Mattermost user the server vouches
	// for on a GET (its CSRF check drops it on a form post).
	mattermostUser string
}

func (env *testEnv) browser() *browser {
	return &browser{env: env, cookies: map[string]*http.Cookie{}}
}

func (b *browser) do(method, target string, form url.Values) *httptest.ResponseRecorder {
	b.env.t.Helper()
	body := ""
	if form != nil {
		body = form.Encode()
	}
	r := b.env.newRequest(method, target, body, "")
	if method == http.MethodPost {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else if b.mattermostUser != "" {
		r.Header.Set(web.MattermostUserHeader, b.env.user(b.mattermostUser).Id)
	}
	for _, c := range b.cookies {
		r.AddCookie(c)
	}
	w := b.env.serve(r)
	for _, c := range w.Result().Cookies() {
		if c.MaxAge < 0 || c.Value == "" {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	return w
}

// pluginPath is a location the plugin redirects to, as its router sees it.
func pluginPath(location string) string { return strings.TrimPrefix(location, "/plugins/certs") }

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrfOf is the form token a page carries.
func csrfOf(t testing.TB, w *httptest.ResponseRecorder) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(w.Body.String())
	require.NotNil(t, m, w.Body.String())
	return html.UnescapeString(m[1])
}

func newPortalEnv(t *testing.T) *testEnv {
	env := newTestEnv(t)
	cfg := *env.p.getConfiguration()
	cfg.PortalLocalAccounts = true
	cfg.ConnectorsAndProfiles = portalCatalog
	env.configure(&cfg)
	env.p.portalNotifier.Mail = func(to, subject, body string) error {
		env.postMu.Lock()
		defer env.postMu.Unlock()
		env.portalMails = append(env.portalMails, to+"|"+subject+"|"+body)
		return nil
	}
	return env
}

// addLocal makes a local account whose password is set, as its owner would.
func (env *testEnv) addLocal(username, password string) records.Principal {
	env.t.Helper()
	account, token, err := env.p.accounts.Add(username, username+"@partner.example", "mm:admin")
	require.NoError(env.t, err)
	_, err = env.p.accounts.SetPassword(token, password)
	require.NoError(env.t, err)
	return local.PrincipalOf(account)
}

// issueForLocal issues a "portal" certificate to a local account, through
// its link.
func (env *testEnv) issueForLocal(p records.Principal) enrollment.IssuanceView {
	env.t.Helper()
	owner, err := env.p.lookup(p)
	require.NoError(env.t, err)
	s, err := env.p.current.Get()
	require.NoError(env.t, err)
	start, err := s.Core.StartEnrollment(owner, enroll.StartRequest{Profile: "portal", Key: enroll.KeyFromServer})
	require.NoError(env.t, err)
	return env.issueJSON(start.Link.Token)
}

// signIn signs b in as a local account and lands on the home page.
func (b *browser) signIn(username, password string) *httptest.ResponseRecorder {
	t := b.env.t
	t.Helper()
	page := b.do(http.MethodGet, "/portal/signin", nil)
	require.Equal(t, http.StatusOK, page.Code, page.Body.String())
	w := b.do(http.MethodPost, "/portal/signin", url.Values{"username": {username}, "password": {password}, "csrf": {csrfOf(t, page)}})
	require.Equal(t, http.StatusSeeOther, w.Code, w.Body.String())
	home := b.do(http.MethodGet, pluginPath(w.Header().Get("Location")), nil)
	require.Equal(t, http.StatusOK, home.Code, home.Body.String())
	return home
}

func TestALocalAccountSetsItsPasswordSignsInAndGetsACertificate(t *testing.T) {
	env := newPortalEnv(t)
	account, token, err := env.p.accounts.Add("dave", "dave@partner.example", "mm:admin")
	require.NoError(t, err)
	b := env.browser()

	// The set-password link: refusals keep it usable.
	w := b.do(http.MethodGet, "/portal/password?token="+url.QueryEscape(token), nil)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Contains(t, w.Body.String(), "<strong>dave</strong>")
	w = b.do(http.MethodPost, "/portal/password", url.Values{"token": {token}, "password": {"correct horse battery"}, "confirm": {"correct horse"}})
	assert.Equal(t, http.StatusBadRequest, w.Code)
	assert.Contains(t, w.Body.String(), "The two passwords differ.")
	w = b.do(http.MethodPost, "/portal/password", url.Values{"token": {token}, "password": {"short"}, "confirm": {"short"}})
	assert.Contains(t, w.Body.String(), "at least 12 characters")
	w = b.do(http.MethodPost, "/portal/password", url.Values{"token": {token}, "password": {"correct horse battery"}, "confirm": {"correct horse battery"}})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Contains(t, w.Body.String(), "Your password is set")
	w = b.do(http.MethodGet, "/portal/password?token="+url.QueryEscape(token), nil)
	assert.Equal(t, http.StatusGone, w.Code, "the link works once")

	// Without a session, a page leads to sign-in and back.
	w = b.do(http.MethodGet, "/portal/", nil)
	require.Equal(t, http.StatusSeeOther, w.Code)
	assert.Equal(t, "/plugins/certs/portal/signin", w.Header().Get("Location"))

	home := b.signIn("dave", "correct horse battery")
	assert.Contains(t, home.Body.String(), `<strong id="signed-in-as">dave</strong> (local account)`)
	assert.Contains(t, home.Body.String(), `value="portal"`)
	assert.NotContains(t, home.Body.String(), `value="vpn"`, "a profile that says nothing of the portal is not offered")
	assert.Contains(t, home.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'")
	csrf := csrfOf(t, home)

	// A change needs the session's token; the profile's rules are checked
	// on the request, not only when the page was drawn.
	w = b.do(http.MethodPost, "/portal/certificates/new", url.Values{"profile": {"portal"}})
	assert.Equal(t, http.StatusForbidden, w.Code)
	w = b.do(http.MethodPost, "/portal/certificates/new", url.Values{"profile": {"vpn"}, "csrf": {csrf}})
	assert.Equal(t, http.StatusForbidden, w.Code, w.Body.String())
	w = b.do(http.MethodPost, "/portal/certificates/new", url.Values{"profile": {"portal"}, "key": {"server"}, "csrf": {csrf}})
	require.Equal(t, http.StatusSeeOther, w.Code, w.Body.String())
	link := pluginPath(w.Header().Get("Location"))
	require.True(t, strings.HasPrefix(link, "/portal/issue?token="), link)

	// The link page of the portal makes the key and the PKCS#12 file.
	w = b.do(http.MethodGet, link, nil)
	require.Equal(t, http.StatusOK, w.Code, env.loggedErrors())
	linkToken, _ := url.ParseQuery(strings.SplitN(link, "?", 2)[1])
	w = b.do(http.MethodPost, "/portal/issue", url.Values{"token": {linkToken.Get("token")}})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Contains(t, w.Body.String(), `href="/plugins/certs/portal/"`, "the page sends its reader back to the portal")
	assert.NotContains(t, w.Body.String(), "/cert revoke")

	certs, err := env.p.inventory.ListCertificates(local.PrincipalOf(account))
	require.NoError(t, err)
	require.Len(t, certs, 1)
	cert, err := x509.ParseCertificate(certs[0].DER)
	require.NoError(t, err)
	assert.Equal(t, "dave", cert.Subject.CommonName)
	assert.Equal(t, []string{"dave@partner.example"}, cert.EmailAddresses)
	require.Len(t, cert.URIs, 1)
	assert.Equal(t, "mattermost://chat.example.com/local/"+account.ID, cert.URIs[0].String(), "a URI names the principal")

	// My certificates: download, revoke with a confirmation and a reason.
	home = b.do(http.MethodGet, "/portal/", nil)
	assert.Contains(t, home.Body.String(), certs[0].Serial)
	w = b.do(http.MethodGet, "/portal/certificates/"+certs[0].Serial+"/pem", nil)
	require.Equal(t, http.StatusOK, w.Code)
	assert.Contains(t, w.Body.String(), "BEGIN CERTIFICATE")
	w = b.do(http.MethodGet, "/portal/certificates/"+certs[0].Serial+"/revoke", nil)
	require.Equal(t, http.StatusOK, w.Code)
	assert.Contains(t, w.Body.String(), "keyCompromise")
	w = b.do(http.MethodPost, "/portal/certificates/"+certs[0].Serial+"/revoke", url.Values{"reason": {"superseded"}, "csrf": {csrf}})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Contains(t, w.Body.String(), "is revoked (superseded)")
	revoked, err := env.p.inventory.GetCertificate(certs[0].Serial)
	require.NoError(t, err)
	assert.Equal(t, string(records.CertRevoked), revoked.StateAt(env.now()))

	// Sign-out ends the session on the server.
	stolen := *b.cookies["certs_portal_session"]
	w = b.do(http.MethodPost, "/portal/signout", url.Values{"csrf": {csrf}})
	require.Equal(t, http.StatusSeeOther, w.Code)
	b.cookies[stolen.Name] = &stolen
	w = b.do(http.MethodGet, "/portal/", nil)
	assert.Equal(t, http.StatusSeeOther, w.Code, "the old cookie opens nothing")
}

func TestAWrongPasswordReadsTheSameForEveryNameAndIsThrottled(t *testing.T) {
	env := newPortalEnv(t)
	env.addLocal("dave", "correct horse battery")
	b := env.browser()
	page := b.do(http.MethodGet, "/portal/signin", nil)
	csrf := csrfOf(t, page)

	w := b.do(http.MethodPost, "/portal/signin", url.Values{"username": {"dave"}, "password": {"correct horse battery"}})
	assert.Equal(t, http.StatusForbidden, w.Code, "a sign-in form without its token")

	wrong := b.do(http.MethodPost, "/portal/signin", url.Values{"username": {"dave"}, "password": {"nope nope nope"}, "csrf": {csrf}})
	unknown := b.do(http.MethodPost, "/portal/signin", url.Values{"username": {"nobody"}, "password": {"nope nope nope"}, "csrf": {csrf}})
	assert.Equal(t, http.StatusUnauthorized, wrong.Code)
	assert.Equal(t, http.StatusUnauthorized, unknown.Code)
	assert.Contains(t, wrong.Body.String(), "The username or the password is wrong.")
	assert.Contains(t, unknown.Body.String(), "The username or the password is wrong.")
	assert.Nil(t, b.cookies["certs_portal_session"])

	var last *httptest.ResponseRecorder
	for range 10 {
		last = b.do(http.MethodPost, "/portal/signin", url.Values{"username": {"dave"}, "password": {"nope nope nope"}, "csrf": {csrf}})
	}
	assert.Equal(t, http.StatusTooManyRequests, last.Code, last.Body.String())
	assert.NotEmpty(t, last.Header().Get("Retry-After"))
	w = b.do(http.MethodPost, "/portal/signin", url.Values{"username": {"dave"}, "password": {"correct horse battery"}, "csrf": {csrf}})
	assert.Equal(t, http.StatusTooManyRequests, w.Code, "the throttle answers before the password is checked")
}

func TestAMattermostUserOpensThePortalAsThemselves(t *testing.T) {
	env := newPortalEnv(t)
	b := env.browser()
	b.mattermostUser = "alice"
	home := b.do(http.MethodGet, "/portal/", nil)
	require.Equal(t, http.StatusOK, home.Code, home.Body.String())
	assert.Contains(t, home.Body.String(), `<strong id="signed-in-as">alice</strong> (Mattermost account)`)
	assert.Contains(t, home.Body.String(), `value="vpn"`)
	w := b.do(http.MethodPost, "/portal/certificates/new", url.Values{"profile": {"vpn"}, "csrf": {csrfOf(t, home)}})
	require.Equal(t, http.StatusSeeOther, w.Code, "a form post rides on the portal session: "+w.Body.String())

	// Signed out of Mattermost: signed out here too.
	b.mattermostUser = ""
	w = b.do(http.MethodGet, "/portal/", nil)
	assert.Equal(t, http.StatusSeeOther, w.Code)
}

func TestRemovingOrResettingALocalAccountEndsItsSessions(t *testing.T) {
	env := newPortalEnv(t)
	dave := env.addLocal("dave", "correct horse battery")
	b := env.browser()
	b.signIn("dave", "correct horse battery")
	_, _, err := env.p.accounts.Reset("dave")
	require.NoError(t, err)
	assert.Equal(t, http.StatusSeeOther, b.do(http.MethodGet, "/portal/", nil).Code, "a reset ends the sessions begun before it")

	erin := env.addLocal("erin", "correct horse battery")
	b = env.browser()
	b.signIn("erin", "correct horse battery")
	_, err = env.p.accounts.Remove("erin", "mm:admin")
	require.NoError(t, err)
	assert.Equal(t, http.StatusSeeOther, b.do(http.MethodGet, "/portal/", nil).Code)
	owner, err := env.p.lookup(erin)
	require.NoError(t, err)
	assert.False(t, owner.Active)
	assert.NotEqual(t, dave, erin)

	// Local accounts turned off: nobody signs in with one.
	cfg := *env.p.getConfiguration()
	cfg.PortalLocalAccounts = false
	env.configure(&cfg)
	page := b.do(http.MethodGet, "/portal/signin", nil)
	assert.NotContains(t, page.Body.String(), `id="local-signin"`)
}

func TestTheReturnAddressIsOnlyAPathOfThePortal(t *testing.T) {
	env := newPortalEnv(t)
	b := env.browser()
	for raw, want := range map[string]string{
		"/plugins/certs/portal/certificates/x/revoke": "/plugins/certs/portal/certificates/x/revoke",
		"https://evil.example/":                       "/plugins/certs/portal/",
		"//evil.example/plugins/certs/portal/":        "/plugins/certs/portal/",
		"/plugins/certs/portal/../../../api/v4/users": "/plugins/certs/portal/",
		"/api/v4/users":                               "/plugins/certs/portal/",
		"/plugins/certs/portal\\@evil.example":        "/plugins/certs/portal/",
	} {
		page := b.do(http.MethodGet, "/portal/signin?return="+url.QueryEscape(raw), nil)
		assert.Contains(t, page.Body.String(), `name="return" value="`+want+`"`, raw)
	}
}

func TestPortalPeopleAreToldByEmail(t *testing.T) {
	env := newPortalEnv(t)
	env.issueForLocal(env.addLocal("dave", "correct horse battery"))
	mails := env.portalMails
	require.Len(t, mails, 1)
	assert.True(t, strings.HasPrefix(mails[0], "dave@partner.example|Client certificates: a certificate was issued in your name|"), mails[0])
	assert.Contains(t, mails[0], "https://chat.example.com/plugins/certs/portal/")
}

var totpSecretOnPage = regexp.MustCompile(`<code id="totp-secret">([A-Z2-7]+)</code>`)

func (env *testEnv) totpCode(t *testing.T, secret string) string {
	t.Helper()
	code, err := totp.GenerateCode(secret, env.now())
	require.NoError(t, err)
	return code
}

func TestALocalAccountSetsUpAnAuthenticatorAppAndGivesItsCodeOnce(t *testing.T) {
	env := newPortalEnv(t)
	env.addLocal("dave", "correct horse battery")
	b := env.browser()
	home := b.signIn("dave", "correct horse battery")
	assert.Contains(t, home.Body.String(), `id="second-factor"`)

	page := b.do(http.MethodGet, "/portal/second-factor", nil)
	require.Equal(t, http.StatusOK, page.Code, page.Body.String())
	m := totpSecretOnPage.FindStringSubmatch(page.Body.String())
	require.NotNil(t, m, page.Body.String())
	secret := m[1]
	assert.Contains(t, page.Body.String(), `src="data:image/png;base64,`)
	csrf := csrfOf(t, page)
	w := b.do(http.MethodPost, "/portal/second-factor/totp", url.Values{"code": {"000000"}, "csrf": {csrf}})
	assert.Equal(t, http.StatusBadRequest, w.Code)
	assert.Contains(t, w.Body.String(), "This code is not right.")
	w = b.do(http.MethodPost, "/portal/second-factor/totp", url.Values{"code": {env.totpCode(t, secret)}, "csrf": {csrf}})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Contains(t, w.Body.String(), "Your authenticator app is set up.")

	// The next sign-in asks for a code before anything opens.
	env.advance(time.Minute)
	b = env.browser()
	signIn := b.do(http.MethodGet, "/portal/signin", nil)
	w = b.do(http.MethodPost, "/portal/signin", url.Values{"username": {"dave"}, "password": {"correct horse battery"}, "csrf": {csrfOf(t, signIn)}})
	require.Equal(t, http.StatusSeeOther, w.Code)
	verify := pluginPath(w.Header().Get("Location"))
	assert.True(t, strings.HasPrefix(verify, "/portal/signin/second-factor"), verify)
	w = b.do(http.MethodGet, "/portal/", nil)
	require.Equal(t, http.StatusSeeOther, w.Code, "nothing opens before the second factor")
	assert.Equal(t, "/plugins/certs/portal/signin/second-factor", w.Header().Get("Location"))
	page = b.do(http.MethodGet, verify, nil)
	require.Equal(t, http.StatusOK, page.Code, page.Body.String())
	csrf = csrfOf(t, page)
	w = b.do(http.MethodPost, "/portal/certificates/new", url.Values{"profile": {"portal"}, "csrf": {csrf}})
	assert.Equal(t, http.StatusUnauthorized, w.Code, "a change before the second factor")

	w = b.do(http.MethodPost, "/portal/signin/second-factor", url.Values{"code": {"000000"}, "csrf": {csrf}})
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.Contains(t, w.Body.String(), "This code is not right.")
	code := env.totpCode(t, secret)
	w = b.do(http.MethodPost, "/portal/signin/second-factor", url.Values{"code": {code}, "csrf": {csrf}})
	require.Equal(t, http.StatusSeeOther, w.Code, w.Body.String())
	assert.Equal(t, http.StatusOK, b.do(http.MethodGet, "/portal/", nil).Code)

	// The same code a second time (another browser): refused.
	other := env.browser()
	signIn = other.do(http.MethodGet, "/portal/signin", nil)
	w = other.do(http.MethodPost, "/portal/signin", url.Values{"username": {"dave"}, "password": {"correct horse battery"}, "csrf": {csrfOf(t, signIn)}})
	require.Equal(t, http.StatusSeeOther, w.Code)
	page = other.do(http.MethodGet, pluginPath(w.Header().Get("Location")), nil)
	w = other.do(http.MethodPost, "/portal/signin/second-factor", url.Values{"code": {code}, "csrf": {csrfOf(t, page)}})
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.Contains(t, w.Body.String(), "This code was already used.")
}

func TestWhereASecondFactorIsRequiredALocalAccountSetsOneUpFirst(t *testing.T) {
	env := newPortalEnv(t)
	cfg := *env.p.getConfiguration()
	cfg.PortalSecondFactor = config.SecondFactorRequired
	env.configure(&cfg)
	env.addLocal("erin", "correct horse battery")
	b := env.browser()
	signIn := b.do(http.MethodGet, "/portal/signin", nil)
	w := b.do(http.MethodPost, "/portal/signin", url.Values{"username": {"erin"}, "password": {"correct horse battery"}, "csrf": {csrfOf(t, signIn)}})
	require.Equal(t, http.StatusSeeOther, w.Code)
	assert.True(t, strings.HasPrefix(w.Header().Get("Location"), "/plugins/certs/portal/second-factor"), w.Header().Get("Location"))
	w = b.do(http.MethodGet, "/portal/", nil)
	assert.Equal(t, "/plugins/certs/portal/second-factor", w.Header().Get("Location"), "nothing opens before a factor is set up")
	page := b.do(http.MethodGet, "/portal/second-factor", nil)
	require.Equal(t, http.StatusOK, page.Code)
	assert.Contains(t, page.Body.String(), `id="setting-up"`)
	secret := totpSecretOnPage.FindStringSubmatch(page.Body.String())[1]
	w = b.do(http.MethodPost, "/portal/second-factor/totp", url.Values{"code": {env.totpCode(t, secret)}, "csrf": {csrfOf(t, page)}})
	require.Equal(t, http.StatusSeeOther, w.Code, w.Body.String())
	home := b.do(http.MethodGet, "/portal/", nil)
	require.Equal(t, http.StatusOK, home.Code)

	// The only factor cannot be removed where one is required.
	w = b.do(http.MethodPost, "/portal/second-factor/totp/remove", url.Values{"csrf": {csrfOf(t, home)}})
	assert.Equal(t, http.StatusConflict, w.Code)
	assert.Contains(t, w.Body.String(), "add another one before you remove this one")
}

func TestAPortalPersonsRequestIsDecidedInMattermostAndCollectedOnThePortal(t *testing.T) {
	env := newPortalEnv(t)
	cfg := *env.p.getConfiguration()
	cfg.ConnectorsAndProfiles = `{"profiles": [{"name": "partners", "requires_approval": true, "access": {"local_accounts": true}}]}`
	env.configure(&cfg)
	env.addLocal("dave", "correct horse battery")
	b := env.browser()
	home := b.signIn("dave", "correct horse battery")
	w := b.do(http.MethodPost, "/portal/certificates/new", url.Values{"profile": {"partners"}, "key": {"server"}, "csrf": {csrfOf(t, home)}})
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	assert.Contains(t, w.Body.String(), "waits for an approver")
	id := regexp.MustCompile(`request (r-[0-9a-f]+) for`).FindStringSubmatch(w.Body.String())
	require.NotNil(t, id, w.Body.String())

	// The system admin gets the same buttons as for a chat user's request,
	// naming dave without an @.
	post := env.approvalPostFor("carol", id[1])
	text := post.Attachments()[0].Text
	assert.Contains(t, text, "`dave` (local account, not in Mattermost)")
	assert.NotContains(t, text, "@dave")
	env.click("carol", post, "approve")

	// dave is told by email, with a link to the portal's page; the request
	// can be collected from the home page too.
	mails := env.portalMails
	require.NotEmpty(t, mails)
	last := mails[len(mails)-1]
	assert.Contains(t, last, "was approved")
	assert.Contains(t, last, "https://chat.example.com/plugins/certs/portal/issue?token=")
	home = b.do(http.MethodGet, "/portal/", nil)
	require.Contains(t, home.Body.String(), "approved: ready to collect")
	w = b.do(http.MethodPost, "/portal/requests/"+id[1]+"/collect", url.Values{"csrf": {csrfOf(t, home)}})
	require.Equal(t, http.StatusSeeOther, w.Code, w.Body.String())
	assert.True(t, strings.HasPrefix(w.Header().Get("Location"), "/plugins/certs/portal/issue?token="))
}

func TestRemovingALocalAccountRevokesItsCertificatesAsTheDeactivationSettingSays(t *testing.T) {
	env := newPortalEnv(t)
	issued := env.issueForLocal(env.addLocal("dave", "correct horse battery"))

	reply := env.run("carol", "/cert admin local remove dave")
	assert.Contains(t, reply, "removed")
	cert, err := env.p.inventory.GetCertificate(issued.Serial)
	require.NoError(t, err)
	assert.Equal(t, string(records.CertRevoked), cert.StateAt(env.now()))
	assert.Equal(t, records.ReasonAffiliationChanged, cert.RevocationReason)
	assert.Equal(t, 1, env.noticesTo("carol", "the local account `dave` was removed"))
	list := env.run("carol", "/cert admin list")
	assert.Contains(t, list, "`dave` (local)", "the owner's kind is shown, never an @mention")
}

// Knowing the password buys no fresh guesses at the second factor: the
// account's failed codes stay counted across password sign-ins.
func TestWrongCodesAreThrottledAcrossSignIns(t *testing.T) {
	env := newPortalEnv(t)
	env.addLocal("dave", "correct horse battery")
	b := env.browser()
	b.signIn("dave", "correct horse battery")
	page := b.do(http.MethodGet, "/portal/second-factor", nil)
	secret := totpSecretOnPage.FindStringSubmatch(page.Body.String())[1]
	w := b.do(http.MethodPost, "/portal/second-factor/totp", url.Values{"code": {env.totpCode(t, secret)}, "csrf": {csrfOf(t, page)}})
	require.Equal(t, http.StatusOK, w.Code)

	wrongCodes := 0
	for range 12 {
		b = env.browser()
		signIn := b.do(http.MethodGet, "/portal/signin", nil)
		w = b.do(http.MethodPost, "/portal/signin", url.Values{"username": {"dave"}, "password": {"correct horse battery"}, "csrf": {csrfOf(t, signIn)}})
		if w.Code == http.StatusTooManyRequests {
			break
		}
		require.Equal(t, http.StatusSeeOther, w.Code, w.Body.String())
		verify := b.do(http.MethodGet, pluginPath(w.Header().Get("Location")), nil)
		w = b.do(http.MethodPost, "/portal/signin/second-factor", url.Values{"code": {"000000"}, "csrf": {csrfOf(t, verify)}})
		if w.Code == http.StatusTooManyRequests {
			break
		}
		require.Equal(t, http.StatusUnauthorized, w.Code, w.Body.String())
		wrongCodes++
	}
	assert.LessOrEqual(t, wrongCodes, 5, "the free attempts, then the throttle answers")
	assert.Positive(t, wrongCodes)
}

// An office behind one address signs many people in at once: each
// attempt is counted until it succeeds, and none is turned away.
func TestManyPeopleBehindOneAddressSignInAtOnce(t *testing.T) {
	env := newPortalEnv(t)
	names := make([]string, 12)
	for i := range names {
		names[i] = "person" + strconv.Itoa(i)
		env.addLocal(names[i], "correct horse battery")
	}
	var wg sync.WaitGroup
	codes := make([]int, len(names))
	for i, name := range names {
		wg.Go(func() {
			b := env.browser()
			page := b.do(http.MethodGet, "/portal/signin", nil)
			w := b.do(http.MethodPost, "/portal/signin", url.Values{"username": {name}, "password": {"correct horse battery"}, "csrf": {csrfOf(t, page)}})
			codes[i] = w.Code
		})
	}
	wg.Wait()
	for i, code := range codes {
		assert.Equal(t, http.StatusSeeOther, code, names[i])
	}
}
