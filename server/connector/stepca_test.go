package connector_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.step.sm/crypto/jose"

	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

// The fake step-ca below speaks the parts of the step-ca API the connector
// uses, checks the tokens as step-ca does, and lets each test replace a
// route. The real step-ca is exercised in the stepcatest module.

const (
	stepCAFakeProvisioner = "mattermost"
	stepCAFakePassword    = "correct horse battery staple"
)

var stepCAClock = time.Date(2031, time.March, 4, 5, 6, 7, 0, time.UTC)

type stepCAPKI struct {
	root, inter       *x509.Certificate
	rootKey, interKey *ecdsa.PrivateKey
}

func stepCANewPKI(t *testing.T, name string) *stepCAPKI {
	t.Helper()
	p := &stepCAPKI{rootKey: stepCAKey(t), interKey: stepCAKey(t)}
	p.root = stepCACert(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: name + " Root"},
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, nil, &p.rootKey.PublicKey, p.rootKey)
	p.inter = stepCACert(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: name + " Intermediate"},
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, p.root, &p.interKey.PublicKey, p.rootKey)
	return p
}

func (p *stepCAPKI) fingerprint() string {
	sum := sha256.Sum256(p.root.Raw)
	return hex.EncodeToString(sum[:])
}

func (p *stepCAPKI) serverCert(t *testing.T) tls.Certificate {
	t.Helper()
	key := stepCAKey(t)
	leaf := stepCACert(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:    []string{"localhost"},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, p.inter, &key.PublicKey, p.interKey)
	return tls.Certificate{Certificate: [][]byte{leaf.Raw, p.inter.Raw}, PrivateKey: key}
}

func stepCAKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return k
}

func stepCACert(t *testing.T, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
	t.Helper()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	require.NoError(t, err)
	tmpl.SerialNumber = serial
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	require.NoError(t, err)
	c, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return c
}

func stepCAPEM(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

// stepCAProvisionerKey is a JWK provisioner key pair, the private half
// encrypted with password. A low PBES2 count keeps the tests fast; step-ca's
// own keys use 600000 (about 160 ms to decrypt).
func stepCAProvisionerKey(t *testing.T, password string) (pub *jose.JSONWebKey, encrypted string) {
	t.Helper()
	priv := &jose.JSONWebKey{Key: stepCAKey(t), KeyID: "test-kid", Algorithm: "ES256", Use: "sig"}
	plain, err := json.Marshal(priv)
	require.NoError(t, err)
	enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{
		Algorithm:  jose.PBES2_HS256_A128KW,
		Key:        []byte(password),
		PBES2Count: 1000,
	}, (&jose.EncrypterOptions{}).WithContentType("jwk+json"))
	require.NoError(t, err)
	obj, err := enc.Encrypt(plain)
	require.NoError(t, err)
	encrypted, err = obj.CompactSerialize()
	require.NoError(t, err)
	p := priv.Public()
	return &p, encrypted
}

// stepCAToken is what the fake step-ca read from a verified token.
type stepCAToken struct {
	jose.Claims
	KID  string   `json:"-"`
	SANs []string `json:"sans"`
	SHA  string   `json:"sha"`
	CNF  *struct {
		Fingerprint string `json:"x5rt#S256"`
	} `json:"cnf"`
}

type stepCAFake struct {
	t   *testing.T
	pki *stepCAPKI
	srv *httptest.Server

	pub       *jose.JSONWebKey
	encrypted string

	rootFetches, provisionerFetches, intermediateFetches, signs, revokes atomic.Int32

	mu           sync.Mutex
	routes       map[string]http.HandlerFunc
	provisioners [][]any // pages
	signTokens   []stepCAToken
	signBodies   []map[string]any
	revokeTokens []stepCAToken
	revokeBodies []map[string]any
}

func newStepCAFake(t *testing.T) *stepCAFake {
	t.Helper()
	f := &stepCAFake{t: t, pki: stepCANewPKI(t, "Fake step-ca"), routes: map[string]http.HandlerFunc{}}
	f.pub, f.encrypted = stepCAProvisionerKey(t, stepCAFakePassword)
	f.provisioners = [][]any{{
		map[string]any{"type": "ACME", "name": "acme"},
		f.jwkProvisioner(stepCAFakeProvisioner),
	}}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.srv.TLS = &tls.Config{Certificates: []tls.Certificate{f.pki.serverCert(t)}, MinVersion: tls.VersionTLS12}
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	return f
}

func (f *stepCAFake) jwkProvisioner(name string) map[string]any {
	return map[string]any{"type": "JWK", "name": name, "key": f.pub, "encryptedKey": f.encrypted}
}

func (f *stepCAFake) route(key string, h http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[key] = h
}

func (f *stepCAFake) config() connector.StepCAConfig {
	return connector.StepCAConfig{
		Name:                "corp-ca",
		URL:                 f.srv.URL,
		RootFingerprint:     f.pki.fingerprint(),
		Provisioner:         stepCAFakeProvisioner,
		ProvisionerPassword: stepCAFakePassword,
		Timeout:             5 * time.Second,
	}
}

func (f *stepCAFake) connector(mod ...func(*connector.StepCAConfig)) *connector.StepCA {
	f.t.Helper()
	cfg := f.config()
	for _, m := range mod {
		m(&cfg)
	}
	c, err := connector.NewStepCA(cfg, func() time.Time { return stepCAClock })
	require.NoError(f.t, err)
	return c
}

func stepCAJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func stepCAFail(w http.ResponseWriter, status int, msg string) {
	stepCAJSON(w, status, map[string]any{"status": status, "message": msg})
}

func (f *stepCAFake) serve(w http.ResponseWriter, r *http.Request) {
	key := r.Method + " " + r.URL.Path
	if strings.HasPrefix(r.URL.Path, "/root/") {
		key = "GET /root/"
	}
	f.mu.Lock()
	h := f.routes[key]
	f.mu.Unlock()
	if h != nil {
		h(w, r)
		return
	}
	switch key {
	case "GET /root/":
		f.rootFetches.Add(1)
		if strings.TrimPrefix(r.URL.Path, "/root/") != f.pki.fingerprint() {
			stepCAFail(w, http.StatusNotFound, "root certificate with fingerprint was not found")
			return
		}
		stepCAJSON(w, http.StatusOK, map[string]any{"ca": stepCAPEM(f.pki.root)})
	case "GET /1.0/provisioners":
		f.provisionerFetches.Add(1)
		f.mu.Lock()
		pages := f.provisioners
		f.mu.Unlock()
		i := 0
		if c := r.URL.Query().Get("cursor"); c != "" {
			i, _ = strconv.Atoi(c)
		}
		next := ""
		if i+1 < len(pages) {
			next = strconv.Itoa(i + 1)
		}
		stepCAJSON(w, http.StatusOK, map[string]any{"provisioners": pages[i], "nextCursor": next})
	case "GET /1.0/intermediates":
		f.intermediateFetches.Add(1)
		stepCAJSON(w, http.StatusCreated, map[string]any{"crts": []string{stepCAPEM(f.pki.inter)}})
	case "POST /1.0/sign":
		f.signs.Add(1)
		f.sign(w, r)
	case "POST /1.0/revoke":
		f.revokes.Add(1)
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			stepCAFail(w, http.StatusBadRequest, "error reading request body")
			return
		}
		ott, _ := body["ott"].(string)
		tok, err := f.verify(ott, "/1.0/revoke")
		if err != nil {
			stepCAFail(w, http.StatusUnauthorized, "The request lacked necessary authorization to be completed.")
			return
		}
		f.mu.Lock()
		f.revokeTokens = append(f.revokeTokens, *tok)
		f.revokeBodies = append(f.revokeBodies, body)
		f.mu.Unlock()
		stepCAJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	default:
		stepCAFail(w, http.StatusNotFound, "not found")
	}
}

// verify checks a token the way step-ca's JWK provisioner does.
func (f *stepCAFake) verify(ott, path string) (*stepCAToken, error) {
	jwt, err := jose.ParseSigned(ott)
	if err != nil {
		return nil, err
	}
	var tok stepCAToken
	if err := jwt.Claims(f.pub, &tok); err != nil {
		return nil, err
	}
	if len(jwt.Headers) != 1 || jwt.Headers[0].KeyID != f.pub.KeyID {
		return nil, errors.New("wrong kid")
	}
	tok.KID = jwt.Headers[0].KeyID
	if err := tok.ValidateWithLeeway(jose.Expected{Issuer: stepCAFakeProvisioner, Time: stepCAClock}, time.Minute); err != nil {
		return nil, err
	}
	if len(tok.Audience) != 1 || tok.Audience[0] != f.srv.URL+path {
		return nil, fmt.Errorf("audience %v", tok.Audience)
	}
	if tok.Subject == "" {
		return nil, errors.New("empty subject")
	}
	return &tok, nil
}

func (f *stepCAFake) sign(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		stepCAFail(w, http.StatusBadRequest, "error reading request body")
		return
	}
	ott, _ := body["ott"].(string)
	tok, err := f.verify(ott, "/1.0/sign")
	if err != nil {
		stepCAFail(w, http.StatusUnauthorized, "The request lacked necessary authorization to be completed.")
		return
	}
	csrPEM, _ := body["csr"].(string)
	block, _ := pem.Decode([]byte(csrPEM))
	if block == nil {
		stepCAFail(w, http.StatusBadRequest, "missing csr")
		return
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil || csr.CheckSignature() != nil {
		stepCAFail(w, http.StatusBadRequest, "invalid csr")
		return
	}
	sum := sha256.Sum256(csr.Raw)
	if tok.CNF == nil || tok.CNF.Fingerprint != base64.RawURLEncoding.EncodeToString(sum[:]) {
		stepCAFail(w, http.StatusForbidden, "certificate request fingerprint does not match")
		return
	}
	if len(csr.EmailAddresses) > 0 && strings.Join(csr.EmailAddresses, ",") != strings.Join(stepCAEmails(tok.SANs), ",") {
		stepCAFail(w, http.StatusForbidden, "certificate request does not contain the valid email addresses")
		return
	}
	validity := 24 * time.Hour
	if v, _ := body["notAfter"].(string); v != "" {
		if validity, err = time.ParseDuration(v); err != nil {
			stepCAFail(w, http.StatusBadRequest, "bad notAfter")
			return
		}
	}
	f.mu.Lock()
	f.signTokens = append(f.signTokens, *tok)
	f.signBodies = append(f.signBodies, body)
	f.mu.Unlock()
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber:   serial,
		Subject:        pkix.Name{CommonName: tok.Subject},
		EmailAddresses: stepCAEmails(tok.SANs),
		NotBefore:      time.Now().Add(-time.Minute),
		NotAfter:       time.Now().Add(validity),
		KeyUsage:       x509.KeyUsageDigitalSignature,
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}, f.pki.inter, csr.PublicKey, f.pki.interKey)
	if err != nil {
		stepCAFail(w, http.StatusInternalServerError, err.Error())
		return
	}
	leaf, _ := x509.ParseCertificate(der)
	stepCAJSON(w, http.StatusCreated, map[string]any{
		"crt":       stepCAPEM(leaf),
		"ca":        stepCAPEM(f.pki.inter),
		"certChain": []string{stepCAPEM(leaf), stepCAPEM(f.pki.inter)},
	})
}

func stepCAEmails(sans []string) []string {
	var out []string
	for _, s := range sans {
		if strings.Contains(s, "@") {
			out = append(out, s)
		}
	}
	return out
}

func stepCARequest(t *testing.T) (connector.SignRequest, crypto.Signer) {
	t.Helper()
	key, err := pki.GenerateKey(pki.KeyECDSAP256)
	require.NoError(t, err)
	csr, err := pki.NewCSR(key, "alice", []string{"alice@example.com"}, nil)
	require.NoError(t, err)
	return connector.ForCSR(csr,
		connector.Subject{CommonName: "alice", Organization: []string{"Example Corp"}, Emails: []string{"alice@example.com"}},
		connector.Profile{Name: "default", Validity: 365 * 24 * time.Hour, ExtKeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
	), key
}

// stepCAErr asserts err is a connector error of kind whose message contains
// each of want.
func stepCAErr(t *testing.T, err error, kind connector.Kind, want ...string) *connector.Error {
	t.Helper()
	require.Error(t, err)
	ce := connector.AsError(err)
	require.NotNil(t, ce, "not a connector error: %v", err)
	assert.Equal(t, kind, ce.Kind, "error: %v", err)
	assert.Equal(t, "corp-ca", ce.Connector)
	for _, w := range want {
		assert.Contains(t, ce.Message, w)
	}
	assert.NotContains(t, err.Error(), stepCAFakePassword)
	return ce
}

func TestStepCAConfigValidate(t *testing.T) {
	good := connector.StepCAConfig{
		Name:                "corp",
		URL:                 "https://ca.example.com:9000",
		RootFingerprint:     strings.Repeat("ab", 32),
		Provisioner:         "mattermost",
		ProvisionerPassword: "secret",
	}
	require.NoError(t, good.Validate())

	tests := []struct {
		name  string
		mod   func(*connector.StepCAConfig)
		field string
		want  string
	}{
		{"no URL", func(c *connector.StepCAConfig) { c.URL = " " }, "URL", "step-ca URL is required"},
		{"http URL", func(c *connector.StepCAConfig) { c.URL = "http://ca.example.com" }, "URL", "must start with https://"},
		{"no scheme", func(c *connector.StepCAConfig) { c.URL = "ca.example.com:9000" }, "URL", "step-ca URL"},
		{"no host", func(c *connector.StepCAConfig) { c.URL = "https://" }, "URL", "has no host name"},
		{"path", func(c *connector.StepCAConfig) { c.URL = "https://ca.example.com/1.0" }, "URL", "without a path"},
		{"query", func(c *connector.StepCAConfig) { c.URL = "https://ca.example.com?x=1" }, "URL", "without a path or query"},
		{"credentials", func(c *connector.StepCAConfig) { c.URL = "https://u:p@ca.example.com" }, "URL", "user name or password"},
		{"bad port", func(c *connector.StepCAConfig) { c.URL = "https://ca.example.com:99999" }, "URL", "invalid port"},
		{"no fingerprint", func(c *connector.StepCAConfig) { c.RootFingerprint = "" }, "RootFingerprint", "step-ca root fingerprint is required"},
		{"short fingerprint", func(c *connector.StepCAConfig) { c.RootFingerprint = "abcd" }, "RootFingerprint", "64 hexadecimal characters"},
		{"non-hex fingerprint", func(c *connector.StepCAConfig) { c.RootFingerprint = strings.Repeat("zz", 32) }, "RootFingerprint", "only hexadecimal"},
		{"no provisioner", func(c *connector.StepCAConfig) { c.Provisioner = "" }, "Provisioner", "step-ca provisioner is required"},
		{"no password", func(c *connector.StepCAConfig) { c.ProvisionerPassword = "" }, "ProvisionerPassword", "provisioner password is required"},
		{"negative timeout", func(c *connector.StepCAConfig) { c.Timeout = -time.Second }, "Timeout", "must not be negative"},
		{"huge timeout", func(c *connector.StepCAConfig) { c.Timeout = time.Hour }, "Timeout", "at most 5m0s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.mod(&c)
			err := c.Validate()
			require.Error(t, err)
			var ce *connector.StepCAConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tc.field, ce.Field)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "secret")
			_, err = connector.NewStepCA(c, nil)
			require.Error(t, err)
		})
	}

	// Fingerprints as other tools print them are accepted.
	c := good
	c.RootFingerprint = strings.ToUpper(strings.TrimSuffix(strings.Repeat("ab:", 32), ":"))
	require.NoError(t, c.Validate())
	c = good
	c.URL = "https://ca.example.com/"
	require.NoError(t, c.Validate())
}

func TestStepCANewMakesNoRequest(t *testing.T) {
	// A server that counts the connections made to it. The server registers
	// a connection before it reads from it, so any request NewStepCA made
	// and waited for is counted by the time NewStepCA returns.
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "unexpected request", http.StatusTeapot)
	}))
	srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	cfg := connector.StepCAConfig{
		URL:                 srv.URL,
		RootFingerprint:     strings.Repeat("00", 32),
		Provisioner:         "p",
		ProvisionerPassword: "pw",
	}
	c, err := connector.NewStepCA(cfg, nil)
	require.NoError(t, err)
	assert.Zero(t, conns.Load(), "NewStepCA connected to the CA")

	// The count works: the first call that needs the CA connects.
	_, err = c.Chain(context.Background())
	require.Error(t, err)
	assert.NotZero(t, conns.Load())

	var conn connector.Connector = c
	assert.Equal(t, "step-ca", conn.Name())
	assert.Equal(t, connector.TypeStepCA, conn.Type())
	assert.Equal(t, "stepca", conn.Type())
	assert.Zero(t, c.KeyDecryptions())
}

func TestStepCASign(t *testing.T) {
	f := newStepCAFake(t)
	c := f.connector()
	req, key := stepCARequest(t)

	res, err := c.Sign(context.Background(), req)
	require.NoError(t, err)
	require.Equal(t, connector.StatusIssued, res.Status)
	assert.Equal(t, "alice", res.Certificate.Subject.CommonName)
	assert.Equal(t, []string{"alice@example.com"}, res.Certificate.EmailAddresses)
	assert.True(t, pki.PublicKeysEqual(res.Certificate.PublicKey, key.Public()))
	require.Len(t, res.Chain, 2)
	assert.True(t, res.Chain[0].Equal(f.pki.inter), "issuing CA first")
	assert.True(t, res.Chain[1].Equal(f.pki.root), "pinned root last")

	require.Len(t, f.signTokens, 1)
	tok := f.signTokens[0]
	assert.Equal(t, stepCAFakeProvisioner, tok.Issuer)
	assert.Equal(t, "alice", tok.Subject)
	assert.Equal(t, []string{f.srv.URL + "/1.0/sign"}, []string(tok.Audience))
	assert.Equal(t, []string{"alice@example.com"}, tok.SANs)
	assert.Equal(t, f.pki.fingerprint(), tok.SHA)
	assert.Equal(t, f.pub.KeyID, tok.KID)
	assert.Equal(t, stepCAClock.Unix(), tok.IssuedAt.Time().Unix())
	assert.Equal(t, stepCAClock.Unix(), tok.NotBefore.Time().Unix())
	assert.Equal(t, stepCAClock.Add(5*time.Minute).Unix(), tok.Expiry.Time().Unix())
	assert.Regexp(t, "^[0-9a-f]{64}$", tok.ID)
	assert.Equal(t, "8760h", f.signBodies[0]["notAfter"])

	// A second issuance reuses trust and key, with a new token id.
	_, err = c.Sign(context.Background(), req)
	require.NoError(t, err)
	require.Len(t, f.signTokens, 2)
	assert.NotEqual(t, f.signTokens[0].ID, f.signTokens[1].ID)
	assert.EqualValues(t, 1, f.rootFetches.Load())
	assert.EqualValues(t, 1, f.provisionerFetches.Load())
	assert.EqualValues(t, 1, c.KeyDecryptions())
}

func TestStepCASignAddsTheCommonNameWhenTheCSRCarriesIt(t *testing.T) {
	f := newStepCAFake(t)
	c := f.connector()
	req, key := stepCARequest(t)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:        pkix.Name{CommonName: "alice"},
		DNSNames:       []string{"alice"},
		EmailAddresses: []string{"alice@example.com"},
	}, key)
	require.NoError(t, err)
	req.CSR, err = x509.ParseCertificateRequest(der)
	require.NoError(t, err)
	req.Profile.Validity = 90*time.Minute + 30*time.Second

	_, err = c.Sign(context.Background(), req)
	require.NoError(t, err)
	assert.Equal(t, []string{"alice@example.com", "alice"}, f.signTokens[0].SANs)
	assert.Equal(t, "1h30m30s", f.signBodies[0]["notAfter"])
}

func TestStepCASignRefusesBadRequestsLocally(t *testing.T) {
	f := newStepCAFake(t)
	c := f.connector()
	req, _ := stepCARequest(t)

	noCSR := req
	noCSR.CSR = nil
	_, err := c.Sign(context.Background(), noCSR)
	stepCAErr(t, err, connector.KindRejected, "no certificate signing request")

	noCN := req
	noCN.Subject.CommonName = ""
	_, err = c.Sign(context.Background(), noCN)
	stepCAErr(t, err, connector.KindRejected, "common name")

	assert.Zero(t, f.rootFetches.Load())
}

func TestStepCAProvisionerOnALaterPage(t *testing.T) {
	f := newStepCAFake(t)
	f.provisioners = [][]any{
		{map[string]any{"type": "ACME", "name": "acme"}},
		{map[string]any{"type": "OIDC", "name": "google"}},
		{f.jwkProvisioner(stepCAFakeProvisioner)},
	}
	req, _ := stepCARequest(t)
	_, err := f.connector().Sign(context.Background(), req)
	require.NoError(t, err)
	assert.EqualValues(t, 3, f.provisionerFetches.Load())
}

func TestStepCADecryptsTheKeyOnceForConcurrentSigns(t *testing.T) {
	f := newStepCAFake(t)
	c := f.connector()
	req, _ := stepCARequest(t)

	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, err := c.Sign(context.Background(), req)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.EqualValues(t, n, f.signs.Load())
	assert.EqualValues(t, 1, f.rootFetches.Load())
	assert.EqualValues(t, 1, f.provisionerFetches.Load())
	assert.EqualValues(t, 1, c.KeyDecryptions())
}

func TestStepCAMisconfigurations(t *testing.T) {
	req, _ := stepCARequest(t)

	t.Run("wrong password", func(t *testing.T) {
		f := newStepCAFake(t)
		c := f.connector(func(cfg *connector.StepCAConfig) { cfg.ProvisionerPassword = "wrong password" })
		_, err := c.Sign(context.Background(), req)
		stepCAErr(t, err, connector.KindMisconfigured, "provisioner password does not decrypt")
		assert.NotContains(t, err.Error(), "wrong password\"")
		assert.Zero(t, f.signs.Load())
	})
	t.Run("unknown provisioner", func(t *testing.T) {
		f := newStepCAFake(t)
		c := f.connector(func(cfg *connector.StepCAConfig) { cfg.Provisioner = "nobody" })
		_, err := c.Sign(context.Background(), req)
		stepCAErr(t, err, connector.KindMisconfigured, `no JWK provisioner named "nobody"`)
	})
	t.Run("not a JWK provisioner", func(t *testing.T) {
		f := newStepCAFake(t)
		c := f.connector(func(cfg *connector.StepCAConfig) { cfg.Provisioner = "acme" })
		_, err := c.Sign(context.Background(), req)
		stepCAErr(t, err, connector.KindMisconfigured, "of type ACME", "needs a JWK provisioner")
	})
	t.Run("fingerprint of another root", func(t *testing.T) {
		f := newStepCAFake(t)
		other := stepCANewPKI(t, "Other")
		c := f.connector(func(cfg *connector.StepCAConfig) { cfg.RootFingerprint = other.fingerprint() })
		_, err := c.Sign(context.Background(), req)
		stepCAErr(t, err, connector.KindMisconfigured, "no root certificate with the configured fingerprint")
	})
	t.Run("root does not hash to the fingerprint", func(t *testing.T) {
		f := newStepCAFake(t)
		other := stepCANewPKI(t, "Other")
		f.route("GET /root/", func(w http.ResponseWriter, _ *http.Request) {
			stepCAJSON(w, http.StatusOK, map[string]any{"ca": stepCAPEM(other.root)})
		})
		_, err := f.connector().Sign(context.Background(), req)
		stepCAErr(t, err, connector.KindMisconfigured, "does not match the configured fingerprint")
	})
	t.Run("TLS certificate from another root after pinning", func(t *testing.T) {
		// The server hands out the configured root on /root/<fp> (anyone can
		// copy a public root) but cannot prove it holds that CA's keys.
		f := newStepCAFake(t)
		impostor := stepCANewPKI(t, "Impostor")
		f.srv.Close()
		srv := httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{impostor.serverCert(t)}, MinVersion: tls.VersionTLS12}
		srv.StartTLS()
		t.Cleanup(srv.Close)
		c := f.connector(func(cfg *connector.StepCAConfig) { cfg.URL = srv.URL })
		_, err := c.Sign(context.Background(), req)
		stepCAErr(t, err, connector.KindMisconfigured, "does not chain to the root with the configured fingerprint")
		assert.EqualValues(t, 1, f.rootFetches.Load())
		assert.Zero(t, f.provisionerFetches.Load())
	})
	t.Run("plain HTTP", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		t.Cleanup(srv.Close)
		f := newStepCAFake(t)
		c := f.connector(func(cfg *connector.StepCAConfig) { cfg.URL = strings.Replace(srv.URL, "http://", "https://", 1) })
		_, err := c.Sign(context.Background(), req)
		stepCAErr(t, err, connector.KindMisconfigured, "does not answer with TLS")
	})
	t.Run("not a step-ca", func(t *testing.T) {
		f := newStepCAFake(t)
		f.route("POST /1.0/sign", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte("<html>hello</html>"))
		})
		_, err := f.connector().Sign(context.Background(), req)
		stepCAErr(t, err, connector.KindMisconfigured, "cannot be read")
	})
	t.Run("redirects are not followed", func(t *testing.T) {
		f := newStepCAFake(t)
		f.route("POST /1.0/sign", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://example.com/elsewhere", http.StatusTemporaryRedirect)
		})
		_, err := f.connector().Sign(context.Background(), req)
		stepCAErr(t, err, connector.KindMisconfigured, "unexpected answer", "307")
	})
	t.Run("certificate for another key", func(t *testing.T) {
		f := newStepCAFake(t)
		other, _ := stepCARequest(t)
		f.route("POST /1.0/sign", func(w http.ResponseWriter, r *http.Request) {
			var body map[string]any
			_ = json.NewDecoder(r.Body).Decode(&body)
			leaf := stepCACert(t, &x509.Certificate{Subject: pkix.Name{CommonName: "alice"}}, f.pki.inter, other.CSR.PublicKey, f.pki.interKey)
			stepCAJSON(w, http.StatusCreated, map[string]any{"crt": stepCAPEM(leaf), "certChain": []string{stepCAPEM(leaf), stepCAPEM(f.pki.inter)}})
		})
		_, err := f.connector().Sign(context.Background(), req)
		stepCAErr(t, err, connector.KindMisconfigured, "for another key")
	})
	t.Run("certificate without clientAuth", func(t *testing.T) {
		f := newStepCAFake(t)
		f.route("POST /1.0/sign", func(w http.ResponseWriter, r *http.Request) {
			leaf := stepCACert(t, &x509.Certificate{
				Subject:     pkix.Name{CommonName: "alice"},
				ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			}, f.pki.inter, req.CSR.PublicKey, f.pki.interKey)
			stepCAJSON(w, http.StatusCreated, map[string]any{"crt": stepCAPEM(leaf), "ca": stepCAPEM(f.pki.inter)})
		})
		_, err := f.connector().Sign(context.Background(), req)
		stepCAErr(t, err, connector.KindMisconfigured, "without the extended key usage clientAuth")
	})
	t.Run("certificate from another CA", func(t *testing.T) {
		f := newStepCAFake(t)
		other := stepCANewPKI(t, "Other")
		f.route("POST /1.0/sign", func(w http.ResponseWriter, r *http.Request) {
			leaf := stepCACert(t, &x509.Certificate{Subject: pkix.Name{CommonName: "alice"}}, other.inter, req.CSR.PublicKey, other.interKey)
			stepCAJSON(w, http.StatusCreated, map[string]any{"crt": stepCAPEM(leaf), "certChain": []string{stepCAPEM(leaf), stepCAPEM(other.inter)}})
		})
		_, err := f.connector().Sign(context.Background(), req)
		stepCAErr(t, err, connector.KindMisconfigured, "does not chain to the root")
	})
	t.Run("answer too large", func(t *testing.T) {
		f := newStepCAFake(t)
		f.route("POST /1.0/sign", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusCreated)
			chunk := []byte(strings.Repeat("x", 64<<10))
			for range 100 { // 6.4 MB
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		})
		_, err := f.connector().Sign(context.Background(), req)
		stepCAErr(t, err, connector.KindMisconfigured, "too large")
	})
}

func TestStepCARefusals(t *testing.T) {
	req, _ := stepCARequest(t)
	tests := []struct {
		name   string
		status int
		msg    string
		kind   connector.Kind
		want   []string
	}{
		{"duration above the maximum", http.StatusForbidden,
			"requested duration of 87600h1m0s is more than the authorized maximum certificate duration of 2160h1m0s",
			connector.KindRejected, []string{"more than the authorized maximum"}},
		{"names", http.StatusForbidden, "certificate request does not contain the valid email addresses",
			connector.KindRejected, []string{"valid email addresses"}},
		{"bad request", http.StatusBadRequest, "invalid csr\x07\nwith control characters",
			connector.KindRejected, []string{"invalid csr with control characters"}},
		{"server error", http.StatusInternalServerError, "boom", connector.KindUnavailable, []string{"unavailable (HTTP 500)"}},
		{"bad gateway", http.StatusBadGateway, "", connector.KindUnavailable, []string{"unavailable (HTTP 502)"}},
		{"rate limited", http.StatusTooManyRequests, "slow down", connector.KindUnavailable, []string{"HTTP 429"}},
		{"no such route", http.StatusNotFound, "not found", connector.KindMisconfigured, []string{"does not serve sign requests"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newStepCAFake(t)
			f.route("POST /1.0/sign", func(w http.ResponseWriter, _ *http.Request) {
				if tc.msg == "" {
					w.WriteHeader(tc.status)
					return
				}
				stepCAFail(w, tc.status, tc.msg)
			})
			_, err := f.connector().Sign(context.Background(), req)
			ce := stepCAErr(t, err, tc.kind, tc.want...)
			assert.NotContains(t, ce.Message, "\n")
			if tc.kind == connector.KindRejected {
				assert.NotContains(t, strings.ToLower(ce.Message), "refused the request", "the caller says that once")
			}
		})
	}
}

func TestStepCARefusalIsTheCAReasonAlone(t *testing.T) {
	req, _ := stepCARequest(t)
	for name, tc := range map[string]struct {
		status  int
		message string
		want    string
	}{
		"forbidden":    {http.StatusForbidden, "The request was forbidden by the certificate authority.", "The request was forbidden by the certificate authority"},
		"bad request":  {http.StatusBadRequest, "certificate request does not contain the valid DNS names", "certificate request does not contain the valid DNS names"},
		"no message":   {http.StatusForbidden, "", "Forbidden"},
		"unauthorized": {http.StatusUnauthorized, "The request lacked necessary authorization to be completed.", "The request lacked necessary authorization to be completed"},
	} {
		t.Run(name, func(t *testing.T) {
			f := newStepCAFake(t)
			f.route("POST /1.0/sign", func(w http.ResponseWriter, _ *http.Request) {
				if tc.message == "" {
					w.WriteHeader(tc.status)
					return
				}
				stepCAFail(w, tc.status, tc.message)
			})
			_, err := f.connector().Sign(context.Background(), req)
			ce := stepCAErr(t, err, connector.KindRejected)
			assert.Equal(t, tc.want, ce.Message, "only the CA's own reason, without a final stop")
			assert.NotContains(t, strings.ToLower(ce.Message), "the certificate authority refused the request")
		})
	}
}

func TestStepCAUnauthorizedFetchesTheKeyAgain(t *testing.T) {
	f := newStepCAFake(t)
	c := f.connector()
	req, _ := stepCARequest(t)

	var once atomic.Bool
	f.route("POST /1.0/sign", func(w http.ResponseWriter, r *http.Request) {
		if once.CompareAndSwap(false, true) {
			stepCAFail(w, http.StatusUnauthorized, "The request lacked necessary authorization to be completed.")
			return
		}
		f.sign(w, r)
	})
	_, err := c.Sign(context.Background(), req)
	stepCAErr(t, err, connector.KindRejected, "lacked necessary authorization")
	_, err = c.Sign(context.Background(), req)
	require.NoError(t, err)
	assert.EqualValues(t, 2, f.provisionerFetches.Load())
	assert.EqualValues(t, 2, c.KeyDecryptions())
	assert.EqualValues(t, 1, f.rootFetches.Load(), "the pinned root is kept")
}

func TestStepCARetriesABootstrapThatFailed(t *testing.T) {
	f := newStepCAFake(t)
	f.provisioners = [][]any{{map[string]any{"type": "ACME", "name": "acme"}}}
	c := f.connector()
	req, _ := stepCARequest(t)

	_, err := c.Sign(context.Background(), req)
	stepCAErr(t, err, connector.KindMisconfigured, "no JWK provisioner")

	// The administrator adds the provisioner at the CA.
	f.mu.Lock()
	f.provisioners = [][]any{{f.jwkProvisioner(stepCAFakeProvisioner)}}
	f.mu.Unlock()
	_, err = c.Sign(context.Background(), req)
	require.NoError(t, err)
	assert.EqualValues(t, 1, f.rootFetches.Load())
	assert.EqualValues(t, 2, f.provisionerFetches.Load())
}

// stepCAStall is a route that never answers while the test runs: it blocks
// until the client goes away or the test ends, then drops the connection.
// (An answer written then could still reach a client closing its TLS
// connection, which would take it.) So a call to it can only end by the
// client giving up. Each request it gets is sent on the returned channel.
// Call it after newStepCAFake: cleanups run last-in first-out, so the route
// lets go before the server's Close waits for its handlers.
func stepCAStall(t *testing.T) (http.HandlerFunc, <-chan struct{}) {
	t.Helper()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	entered := make(chan struct{}, 16)
	return func(_ http.ResponseWriter, r *http.Request) {
		// Read the body, or the server cannot notice the client going away.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case entered <- struct{}{}:
		default:
		}
		select {
		case <-r.Context().Done():
		case <-release:
		}
		panic(http.ErrAbortHandler)
	}, entered
}

func TestStepCATimeouts(t *testing.T) {
	req, _ := stepCARequest(t)
	for _, route := range []string{"GET /root/", "GET /1.0/provisioners", "POST /1.0/sign"} {
		t.Run(route, func(t *testing.T) {
			t.Parallel()
			f := newStepCAFake(t)
			stall, entered := stepCAStall(t)
			f.route(route, stall)
			c := f.connector(func(cfg *connector.StepCAConfig) { cfg.Timeout = time.Second })
			// The route holds its answer until the test ends: Sign returns
			// only because the connector's timeout gave up on it.
			_, err := c.Sign(context.Background(), req)
			stepCAErr(t, err, connector.KindUnavailable, "did not answer within 1s")
			assert.Len(t, entered, 1, "the stalled route got the request")
		})
	}
}

func TestStepCAHonoursCancellation(t *testing.T) {
	req, _ := stepCARequest(t)
	for _, route := range []string{"GET /root/", "POST /1.0/sign"} {
		t.Run(route, func(t *testing.T) {
			f := newStepCAFake(t)
			stall, entered := stepCAStall(t)
			f.route(route, stall)
			// The connector's own timeout is far off: only the caller's
			// context can end these calls. (A bootstrap goes on for the next
			// caller when one gives up; the stalled route lets it go when the
			// test ends.)
			c := f.connector(func(cfg *connector.StepCAConfig) { cfg.Timeout = time.Minute })

			// Cancel once the request is waiting at the stalled route.
			ctx, stop := context.WithCancel(context.Background())
			defer stop()
			go func() {
				<-entered
				stop()
			}()
			_, err := c.Sign(ctx, req)
			stepCAErr(t, err, connector.KindUnavailable, "cancelled")
			assert.ErrorIs(t, err, context.Canceled)

			// Nothing but the caller's deadline can end this one either.
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			_, err = c.Sign(ctx, req)
			stepCAErr(t, err, connector.KindUnavailable, "did not answer in time")
			assert.ErrorIs(t, err, context.DeadlineExceeded)
		})
	}
}

func TestStepCAUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	f := newStepCAFake(t)
	c := f.connector(func(cfg *connector.StepCAConfig) { cfg.URL = "https://" + addr })
	req, _ := stepCARequest(t)
	_, err = c.Sign(context.Background(), req)
	stepCAErr(t, err, connector.KindUnavailable, "could not be reached")
	_, err = c.Chain(context.Background())
	stepCAErr(t, err, connector.KindUnavailable, "could not be reached")
	err = c.Revoke(context.Background(), connector.RevokeRequest{Serial: "0a1b"})
	stepCAErr(t, err, connector.KindUnavailable, "could not be reached")

	// Once the CA is back, the connector works: nothing of the failure is kept.
	c2 := f.connector()
	_, err = c2.Sign(context.Background(), req)
	require.NoError(t, err)
}

func TestStepCARevoke(t *testing.T) {
	f := newStepCAFake(t)
	c := f.connector()

	serial := new(big.Int).SetBytes([]byte{0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f, 0x60, 0x71, 0x82, 0x93, 0xa4, 0xb5, 0xc6, 0xd7, 0xe8, 0xf9})
	err := c.Revoke(context.Background(), connector.RevokeRequest{Serial: pki.FormatSerial(serial), ReasonCode: 1, Reason: "key compromise"})
	require.NoError(t, err)
	require.Len(t, f.revokeBodies, 1)
	body := f.revokeBodies[0]
	assert.Equal(t, serial.String(), body["serial"], "step-ca gets the decimal serial")
	assert.EqualValues(t, 1, body["reasonCode"])
	assert.Equal(t, "key compromise", body["reason"])
	assert.Equal(t, true, body["passive"])
	tok := f.revokeTokens[0]
	assert.Equal(t, serial.String(), tok.Subject)
	assert.Equal(t, []string{f.srv.URL + "/1.0/revoke"}, []string(tok.Audience))
	assert.Nil(t, tok.CNF)

	t.Run("already revoked counts as revoked", func(t *testing.T) {
		f.route("POST /1.0/revoke", func(w http.ResponseWriter, _ *http.Request) {
			stepCAFail(w, http.StatusBadRequest, "certificate with serial number '123' is already revoked")
		})
		require.NoError(t, c.Revoke(context.Background(), connector.RevokeRequest{Serial: "7b"}))
	})
	t.Run("no database", func(t *testing.T) {
		f.route("POST /1.0/revoke", func(w http.ResponseWriter, _ *http.Request) {
			stepCAFail(w, http.StatusNotImplemented, "The requested method is not implemented by the certificate authority.")
		})
		err := c.Revoke(context.Background(), connector.RevokeRequest{Serial: "7b"})
		stepCAErr(t, err, connector.KindMisconfigured, "cannot revoke certificates")
	})
	t.Run("refused", func(t *testing.T) {
		f.route("POST /1.0/revoke", func(w http.ResponseWriter, _ *http.Request) {
			stepCAFail(w, http.StatusForbidden, "request serial number \"1\" and token subject \"2\" do not match")
		})
		err := c.Revoke(context.Background(), connector.RevokeRequest{Serial: "7b"})
		stepCAErr(t, err, connector.KindRejected, "do not match")
	})
	for _, bad := range []string{"", "0", "xyz", strings.Repeat("f", 65)} {
		t.Run("serial "+bad, func(t *testing.T) {
			err := c.Revoke(context.Background(), connector.RevokeRequest{Serial: bad})
			stepCAErr(t, err, connector.KindRejected, "not a certificate serial number")
		})
	}
}

func TestStepCAChain(t *testing.T) {
	f := newStepCAFake(t)
	c := f.connector()

	chain, err := c.Chain(context.Background())
	require.NoError(t, err)
	require.Len(t, chain, 2)
	assert.True(t, chain[0].Equal(f.pki.inter))
	assert.True(t, chain[1].Equal(f.pki.root))
	chain[0] = nil // callers get their own slice

	chain, err = c.Chain(context.Background())
	require.NoError(t, err)
	require.Len(t, chain, 2)
	assert.True(t, chain[0].Equal(f.pki.inter))
	assert.EqualValues(t, 1, f.intermediateFetches.Load(), "cached")
	assert.Zero(t, f.provisionerFetches.Load(), "the chain needs no provisioner key")
}

func TestStepCAChainWithoutIntermediatesAPI(t *testing.T) {
	f := newStepCAFake(t)
	f.route("GET /1.0/intermediates", func(w http.ResponseWriter, _ *http.Request) {
		f.intermediateFetches.Add(1)
		stepCAFail(w, http.StatusNotImplemented, "error getting intermediates: method not implemented")
	})
	c := f.connector()

	chain, err := c.Chain(context.Background())
	require.NoError(t, err)
	require.Len(t, chain, 1, "the root alone until a certificate shows the issuer")
	assert.True(t, chain[0].Equal(f.pki.root))

	req, _ := stepCARequest(t)
	_, err = c.Sign(context.Background(), req)
	require.NoError(t, err)
	chain, err = c.Chain(context.Background())
	require.NoError(t, err)
	require.Len(t, chain, 2)
	assert.True(t, chain[0].Equal(f.pki.inter))
	assert.True(t, chain[1].Equal(f.pki.root))
	assert.EqualValues(t, 1, f.intermediateFetches.Load())
}

func TestStepCAPollIsUnsupported(t *testing.T) {
	f := newStepCAFake(t)
	_, err := f.connector().Poll(context.Background(), "anything")
	stepCAErr(t, err, connector.KindUnsupported, "no pending requests")
	assert.Zero(t, f.rootFetches.Load())
}
