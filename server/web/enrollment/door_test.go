package enrollment_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/pluginapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/clientcerts/mattermost-plugin-certs/server/admission"
	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/config"
	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/sealbox"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"
	"github.com/clientcerts/mattermost-plugin-certs/server/web/enrollment"
)

// The door is mounted here as another front door (the portal) would mount
// it: principals of a kind of their own ("test"), known to a directory of
// their own, signed in by a session cookie of their own; the core is built
// as the core's tests build it, on the KV store layout and the built-in
// CA. Nothing here is Mattermost's.

const testKind = "test"

// directory knows the test kind's accounts; none is an administrator.
type directory struct {
	accounts map[records.Principal]*enroll.Requester
}

func (d *directory) Lookup(p records.Principal) (*enroll.Requester, error) {
	if r, ok := d.accounts[p]; ok {
		return r, nil
	}
	return nil, errors.New("no such account")
}
func (d *directory) Admits(r *enroll.Requester, a profile.Access) bool {
	return a.Everyone() || d.IsAdmin(r)
}
func (d *directory) Approvers(string, []string) []records.Principal { return nil }
func (d *directory) IsAdmin(*enroll.Requester) bool                 { return false }
func (d *directory) add(r *enroll.Requester)                        { d.accounts[r.Principal] = r }

// byName finds an account by its id, which is its name here.
func (d *directory) byName(name string) (*enroll.Requester, error) {
	return d.Lookup(records.NewPrincipal(testKind, name))
}

func newDirectory() *directory {
	return &directory{accounts: map[records.Principal]*enroll.Requester{}}
}

type quietLog struct{}

func (quietLog) LogInfo(string, ...any)  {}
func (quietLog) LogWarn(string, ...any)  {}
func (quietLog) LogError(string, ...any) {}

// sessionCookie is the other front door's session: the cookie holds the
// principal it signed in.
const sessionCookie = "portal_session"

// portalSession is the other front door's authenticator.
func portalSession(r *http.Request) (records.Principal, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return "", &web.Error{Status: http.StatusUnauthorized, Message: "not signed in to the portal"}
	}
	return records.Principal(c.Value), nil
}

// renewalAudit is what AuditRenewal was told.
type renewalAudit struct {
	mu      sync.Mutex
	serials []string
}

func (a *renewalAudit) record(owner *enroll.Requester, serial string, _ *enroll.Start, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.serials = append(a.serials, string(owner.Principal)+" "+serial+" "+map[bool]string{true: "ok", false: "refused"}[err == nil])
}

type door struct {
	t      *testing.T
	router http.Handler
	dir    *directory
	audit  *renewalAudit
}

func newDoor(t *testing.T) *door {
	t.Helper()
	now := time.Now()
	clock := func() time.Time { return now }
	catalog, err := profile.Parse(`{"profiles": [{"name": "vpn"}]}`, profile.Defaults{ValidityDays: 365, KeyType: pki.KeyECDSAP256})
	require.NoError(t, err)
	h, err := pki.GenerateHierarchy("Test", now)
	require.NoError(t, err)
	minter, err := linktoken.NewMinter(strings.Repeat("s", 43), clock)
	require.NoError(t, err)
	sealKey, err := sealbox.NewKey(strings.Repeat("e", 43))
	require.NoError(t, err)
	dir := newDirectory()
	for _, id := range []string{"dave", "erin"} {
		dir.add(&enroll.Requester{Principal: records.NewPrincipal(testKind, id), Username: id, Email: id + "@test.example", EmailVerified: true, Active: true})
	}
	core := enroll.New(enroll.Settings{
		Catalog:      catalog,
		Connectors:   map[string]connector.Connector{"builtin": connector.NewBuiltin("builtin", h.CA(), clock)},
		Minter:       minter,
		PKCS12Format: pki.PKCS12Compatible,
		SealKey:      sealKey,
		LinkLifetime: 10 * time.Minute, IdentityHost: "portal.example.com",
	}, enroll.Ports{
		Inventory:   store.New(&pluginapi.MemoryStore{}, store.WithClock(clock)),
		Directories: map[string]enroll.Directory{testKind: dir},
		Log:         quietLog{}, Clock: clock, RSAKeys: admission.NewQueue(1, 60),
	})
	current := &app.Current{}
	current.Store(&app.Snapshot{Config: &config.Configuration{EmailDelivery: config.EmailDeliveryOff}, Catalog: catalog, Core: core})
	current.SetSite(&app.Site{URL: "https://portal.example.com", PluginID: "certs"})

	audit := &renewalAudit{}
	r := web.NewRouter(quietLog{})
	api := r.PathPrefix("/api/v1").Subrouter()
	(&enrollment.Routes{
		Callers:        &web.Callers{Current: current, Lookup: dir.Lookup},
		Auth:           portalSession,
		Current:        current,
		Log:            quietLog{},
		Now:            clock,
		LookupUsername: dir.byName,
		AuditRenewal:   audit.record,
	}).Mount(r, api)
	return &door{t: t, router: r, dir: dir, audit: audit}
}

// do sends a request signed in as who ("" for nobody), with a Mattermost
// session header for somebody else: the door must not read it.
func (d *door) do(method, target, body, who string, headers ...string) *httptest.ResponseRecorder {
	d.t.Helper()
	var r *http.Request
	if body != "" {
		r = httptest.NewRequest(method, target, strings.NewReader(body))
	} else {
		r = httptest.NewRequest(method, target, nil)
	}
	r.Header.Set(web.MattermostUserHeader, "mallorymattermostuserid0000")
	if who != "" {
		r.AddCookie(&http.Cookie{Name: sessionCookie, Value: string(records.NewPrincipal(testKind, who))})
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	d.router.ServeHTTP(w, r)
	return w
}

func decode[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &v), w.Body.String())
	return v
}

// keys are the names of a JSON object's fields.
func keys(t *testing.T, w *httptest.ResponseRecorder) map[string]bool {
	t.Helper()
	fields := decode[map[string]json.RawMessage](t, w)
	out := map[string]bool{}
	for k := range fields {
		out[k] = true
	}
	return out
}

func set(names ...string) map[string]bool {
	out := map[string]bool{}
	for _, n := range names {
		out[n] = true
	}
	return out
}

func tokenOf(t *testing.T, link enrollment.LinkView) string {
	t.Helper()
	u, err := url.Parse(link.URL)
	require.NoError(t, err)
	return u.Query().Get("token")
}

func csrPEM(t *testing.T) (string, crypto.Signer) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "dave"}}, key)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})), key
}

// Everything a person does through the door works for a principal of
// another kind, signed in by another authenticator: links, the page a
// link opens, the JSON answers, their certificates, requests and
// profiles, a CSR, a renewal, a revocation.
func TestTheDoorServesAnotherKindThroughItsAuthenticator(t *testing.T) {
	d := newDoor(t)

	w := d.do(http.MethodPost, "/api/v1/links", `{"profile": "vpn"}`, "")
	assert.Equal(t, http.StatusUnauthorized, w.Code, "the Mattermost header is no session here")

	w = d.do(http.MethodPost, "/api/v1/links", `{"profile": "vpn"}`, "dave")
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	assert.Equal(t, set("url", "kind", "expires_at", "profile"), keys(t, w))
	link := decode[enrollment.LinkView](t, w)
	assert.True(t, strings.HasPrefix(link.URL, "https://portal.example.com/plugins/certs/issue?token="), link.URL)
	assert.Equal(t, "download", link.Kind)
	token := tokenOf(t, link)

	// The page a link opens serves whoever holds it, unless a session
	// says it is somebody else.
	page := d.do(http.MethodGet, "/issue?token="+url.QueryEscape(token), "", "")
	require.Equal(t, http.StatusOK, page.Code, page.Body.String())
	assert.Contains(t, page.Body.String(), "Create a client certificate for dave")
	page = d.do(http.MethodGet, "/issue?token="+url.QueryEscape(token), "", "erin")
	assert.Equal(t, http.StatusForbidden, page.Code)
	assert.Contains(t, html.UnescapeString(page.Body.String()), "belongs to another user")
	page = d.do(http.MethodGet, "/issue?token="+url.QueryEscape(token), "", "dave")
	assert.Equal(t, http.StatusOK, page.Code)

	form := url.Values{"token": {token}}.Encode()
	w = d.do(http.MethodPost, "/issue", form, "dave", "Content-Type", "application/x-www-form-urlencoded", "Accept", "application/json")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, set("serial", "subject", "not_after", "certificate_pem", "certificate_der", "filename", "passphrase", "pkcs12"), keys(t, w))
	issued := decode[enrollment.IssuanceView](t, w)
	_, leaf, _, err := pkcs12.DecodeChain(issued.PKCS12, issued.Passphrase)
	require.NoError(t, err)
	assert.Equal(t, "dave", leaf.Subject.CommonName)
	assert.Equal(t, leaf.Raw, issued.CertificateDER)
	assert.Equal(t, pki.FormatSerial(leaf.SerialNumber), issued.Serial)
	assert.Equal(t, leaf.Subject.String(), issued.Subject)

	list := decode[[]web.CertificateView](t, d.do(http.MethodGet, "/api/v1/certificates", "", "dave"))
	require.Len(t, list, 1)
	assert.Equal(t, issued.Serial, list[0].Serial)
	assert.Empty(t, decode[[]web.CertificateView](t, d.do(http.MethodGet, "/api/v1/certificates", "", "erin")))

	profiles := decode[[]enrollment.ProfileView](t, d.do(http.MethodGet, "/api/v1/profiles", "", "dave"))
	require.Len(t, profiles, 1)
	assert.Equal(t, "vpn", profiles[0].Name)
	assert.Empty(t, decode[[]enrollment.RequestView](t, d.do(http.MethodGet, "/api/v1/requests", "", "dave")))

	csr, key := csrPEM(t)
	body, err := json.Marshal(map[string]string{"profile": "vpn", "csr": csr})
	require.NoError(t, err)
	w = d.do(http.MethodPost, "/api/v1/csr", string(body), "dave", "Content-Type", "application/json")
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	assert.Equal(t, set("serial", "subject", "not_after", "certificate_pem", "certificate_der", "attested"), keys(t, w))
	signed := decode[enrollment.IssuanceView](t, w)
	require.NotNil(t, signed.Attested)
	assert.False(t, *signed.Attested)
	cert, err := x509.ParseCertificate(signed.CertificateDER)
	require.NoError(t, err)
	assert.True(t, pki.PublicKeysEqual(cert.PublicKey, key.Public()))

	w = d.do(http.MethodPost, "/api/v1/certificates/"+issued.Serial+"/renew", "", "erin")
	assert.Equal(t, http.StatusNotFound, w.Code, "not erin's")
	w = d.do(http.MethodPost, "/api/v1/certificates/"+issued.Serial+"/renew", "", "dave")
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	assert.Equal(t, set("url", "kind", "expires_at", "profile", "renews"), keys(t, w))
	renewal := decode[enrollment.LinkView](t, w)
	assert.Equal(t, issued.Serial, renewal.Renews)
	assert.Equal(t, []string{"test:erin " + issued.Serial + " refused", "test:dave " + issued.Serial + " ok"}, d.audit.serials)

	w = d.do(http.MethodPost, "/api/v1/certificates/"+signed.Serial+"/revoke", `{"reason": "superseded"}`, "dave")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	revoked := decode[enrollment.RevocationView](t, w)
	assert.Equal(t, "revoked", revoked.State)
	assert.Equal(t, "ca", revoked.Reach)
}

// The registration page has no link: the door's session says whose
// certificate it registers, and no session is the page's own 401.
func TestTheImportPageIsTheAuthenticatorsPrincipals(t *testing.T) {
	d := newDoor(t)
	w := d.do(http.MethodGet, "/import", "", "")
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.Contains(t, w.Body.String(), "Sign in")
	w = d.do(http.MethodGet, "/import", "", "dave")
	require.Equal(t, http.StatusOK, w.Code)
	assert.Contains(t, w.Body.String(), "dave")
	assert.NotContains(t, w.Body.String(), "System admins", "dave is no administrator")

	w = d.do(http.MethodPost, "/api/v1/certificates/import", `{"certificate": "x", "owner": "erin"}`, "dave", "Content-Type", "application/json")
	assert.Equal(t, http.StatusForbidden, w.Code, "only administrators register for others")
}

// The door knows who calls only through the authenticator it is mounted
// with: no file of it reads the Mattermost session itself.
func TestTheDoorNeverReadsTheMattermostSession(t *testing.T) {
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		require.NoError(t, err)
		for _, word := range []string{"MattermostUserHeader", "MattermostSession", "Mattermost-User-Id", "MattermostUserID", "records.MattermostUser"} {
			assert.NotContains(t, string(src), word, name)
		}
	}
}
