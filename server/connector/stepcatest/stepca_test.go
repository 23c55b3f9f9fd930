package stepcatest_test

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/connector/stepcatest"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

func config(a *stepcatest.Authority) connector.StepCAConfig {
	return connector.StepCAConfig{
		Name:                "corp-step-ca",
		URL:                 a.URL,
		RootFingerprint:     a.Fingerprint,
		Provisioner:         a.Provisioner,
		ProvisionerPassword: a.Password,
	}
}

func newConnector(t testing.TB, cfg connector.StepCAConfig) *connector.StepCA {
	t.Helper()
	c, err := connector.NewStepCA(cfg, nil)
	require.NoError(t, err)
	return c
}

func request(t testing.TB, validity time.Duration) (connector.SignRequest, *x509.CertificateRequest) {
	t.Helper()
	key, err := pki.GenerateKey(pki.KeyECDSAP256)
	require.NoError(t, err)
	csr, err := pki.NewCSR(key, "alice", []string{"alice@example.com"}, nil)
	require.NoError(t, err)
	return connector.ForCSR(csr,
		connector.Subject{CommonName: "alice", Organization: []string{"Example Corp"}, Emails: []string{"alice@example.com"}},
		connector.Profile{Name: "default", Validity: validity, ExtKeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
	), csr
}

func pool(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

func requireKind(t *testing.T, err error, kind connector.Kind, msg ...string) *connector.Error {
	t.Helper()
	require.Error(t, err)
	ce := connector.AsError(err)
	require.NotNil(t, ce, "not a connector error: %v", err)
	require.Equal(t, kind, ce.Kind, "error: %v", err)
	for _, m := range msg {
		assert.Contains(t, ce.Message, m)
	}
	return ce
}

func TestSignWithRealStepCA(t *testing.T) {
	a := stepcatest.Start(t, stepcatest.Options{})
	c := newConnector(t, config(a))
	req, csr := request(t, 720*time.Hour)

	start := time.Now()
	res, err := c.Sign(context.Background(), req)
	require.NoError(t, err)
	require.Equal(t, connector.StatusIssued, res.Status)
	leaf := res.Certificate

	assert.Equal(t, "alice", leaf.Subject.CommonName)
	assert.Equal(t, []string{"alice@example.com"}, leaf.EmailAddresses)
	assert.Empty(t, leaf.DNSNames)
	assert.True(t, pki.PublicKeysEqual(leaf.PublicKey, csr.PublicKey))
	assert.Contains(t, leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	assert.WithinDuration(t, start.Add(720*time.Hour), leaf.NotAfter, 2*time.Minute)
	assert.Equal(t, leaf.NotAfter.Sub(leaf.NotBefore), 720*time.Hour+time.Minute, "step-ca backdates NotBefore by a minute")

	// The chain in the result: issuing CA first, the root last.
	require.Len(t, res.Chain, 2)
	assert.True(t, res.Chain[0].Equal(a.Intermediate))
	assert.True(t, res.Chain[1].Equal(a.Root))

	_, err = leaf.Verify(x509.VerifyOptions{
		Roots:         pool(a.Root),
		Intermediates: pool(res.Chain[:1]...),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	require.NoError(t, err)

	// Chain() (from /1.0/intermediates) verifies the leaf too.
	chain, err := c.Chain(context.Background())
	require.NoError(t, err)
	require.Len(t, chain, 2)
	assert.True(t, chain[0].Equal(a.Intermediate))
	assert.True(t, chain[1].Equal(a.Root))
	_, err = leaf.Verify(x509.VerifyOptions{
		Roots:         pool(chain[len(chain)-1]),
		Intermediates: pool(chain[:len(chain)-1]...),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	require.NoError(t, err)

	// The provisioner default applies when the profile leaves validity to the CA.
	req.Profile.Validity = 0
	res, err = c.Sign(context.Background(), req)
	require.NoError(t, err)
	assert.Equal(t, 24*time.Hour+time.Minute, res.Certificate.NotAfter.Sub(res.Certificate.NotBefore))
	assert.EqualValues(t, 1, c.KeyDecryptions())
}

func TestRevokeShowsInTheCRL(t *testing.T) {
	a := stepcatest.Start(t, stepcatest.Options{})
	c := newConnector(t, config(a))
	ctx := context.Background()

	var serials []string
	for range 2 {
		req, _ := request(t, 24*time.Hour)
		res, err := c.Sign(ctx, req)
		require.NoError(t, err)
		serials = append(serials, pki.FormatSerial(res.Certificate.SerialNumber))
	}
	revoked := serials[0]
	require.NoError(t, c.Revoke(ctx, connector.RevokeRequest{Serial: revoked, ReasonCode: 1, Reason: "key compromise"}))
	// Revoking again is not an error: the certificate is revoked.
	require.NoError(t, c.Revoke(ctx, connector.RevokeRequest{Serial: strings.ToUpper(revoked), ReasonCode: 1}))

	crl, err := a.CRL(ctx)
	require.NoError(t, err)
	listed := map[string]int{}
	for _, e := range crl.RevokedCertificateEntries {
		listed[pki.FormatSerial(e.SerialNumber)] = e.ReasonCode
	}
	require.Contains(t, listed, revoked)
	assert.Equal(t, 1, listed[revoked])
	assert.NotContains(t, listed, serials[1])

	err = c.Revoke(ctx, connector.RevokeRequest{Serial: "not-a-serial"})
	requireKind(t, err, connector.KindRejected, "not a certificate serial number")
}

// After the provisioner's key is rotated at the CA, a revocation signed
// with the key the connector holds is refused (401); the connector forgets
// that key, and told again, the revocation passes with the new one. A
// refusal is therefore no final answer: the plugin keeps such a
// revocation pending and tells the CA again.
func TestRevokeIsRefusedOnceAfterAProvisionerKeyRotation(t *testing.T) {
	a := stepcatest.Start(t, stepcatest.Options{})
	c := newConnector(t, config(a))
	ctx := context.Background()
	req, _ := request(t, 24*time.Hour)
	res, err := c.Sign(ctx, req)
	require.NoError(t, err)
	serial := pki.FormatSerial(res.Certificate.SerialNumber)

	require.NoError(t, a.RotateProvisionerKey())
	err = c.Revoke(ctx, connector.RevokeRequest{Serial: serial, ReasonCode: 1})
	requireKind(t, err, connector.KindRejected, "authorization")
	require.NoError(t, c.Revoke(ctx, connector.RevokeRequest{Serial: serial, ReasonCode: 1}), "told again, with the new key")

	crl, err := a.CRL(ctx)
	require.NoError(t, err)
	var listed []string
	for _, e := range crl.RevokedCertificateEntries {
		listed = append(listed, pki.FormatSerial(e.SerialNumber))
	}
	assert.Contains(t, listed, serial)
}

func TestMisconfiguredWithRealStepCA(t *testing.T) {
	a := stepcatest.Start(t, stepcatest.Options{})
	req, _ := request(t, 24*time.Hour)
	ctx := context.Background()

	t.Run("wrong password", func(t *testing.T) {
		cfg := config(a)
		cfg.ProvisionerPassword = "not-the-password"
		_, err := newConnector(t, cfg).Sign(ctx, req)
		requireKind(t, err, connector.KindMisconfigured, "provisioner password does not decrypt")
		assert.NotContains(t, err.Error(), "not-the-password")
		assert.NotContains(t, err.Error(), a.Password)
	})
	t.Run("wrong root fingerprint", func(t *testing.T) {
		cfg := config(a)
		cfg.RootFingerprint = strings.Repeat("0f", 32)
		_, err := newConnector(t, cfg).Sign(ctx, req)
		requireKind(t, err, connector.KindMisconfigured, "fingerprint")
	})
	t.Run("root of another step-ca", func(t *testing.T) {
		other := stepcatest.Start(t, stepcatest.Options{})
		cfg := config(a)
		cfg.RootFingerprint = other.Fingerprint
		_, err := newConnector(t, cfg).Sign(ctx, req)
		requireKind(t, err, connector.KindMisconfigured, "fingerprint")
	})
	t.Run("unknown provisioner", func(t *testing.T) {
		cfg := config(a)
		cfg.Provisioner = "nobody"
		_, err := newConnector(t, cfg).Sign(ctx, req)
		requireKind(t, err, connector.KindMisconfigured, `no JWK provisioner named "nobody"`)
	})
	t.Run("ACME provisioner", func(t *testing.T) {
		cfg := config(a)
		cfg.Provisioner = "acme"
		_, err := newConnector(t, cfg).Sign(ctx, req)
		requireKind(t, err, connector.KindMisconfigured, "needs a JWK provisioner")
	})
}

func TestRejectedWithRealStepCA(t *testing.T) {
	a := stepcatest.Start(t, stepcatest.Options{MaxTLSDuration: 2160 * time.Hour})
	c := newConnector(t, config(a))
	ctx := context.Background()

	t.Run("validity above the provisioner maximum", func(t *testing.T) {
		req, _ := request(t, 2400*time.Hour)
		_, err := c.Sign(ctx, req)
		ce := requireKind(t, err, connector.KindRejected, "requested duration of 2400h", "more than the authorized maximum")
		assert.False(t, ce.Retryable())
		assert.NotContains(t, strings.ToLower(ce.Message), "the certificate authority refused the request")
	})
	t.Run("CSR names other than the subject", func(t *testing.T) {
		req, _ := request(t, 24*time.Hour)
		key, err := pki.GenerateKey(pki.KeyECDSAP256)
		require.NoError(t, err)
		der, err := x509.CreateCertificateRequest(nil, &x509.CertificateRequest{
			Subject:        pkix.Name{CommonName: "alice"},
			EmailAddresses: []string{"ceo@example.com"},
		}, key)
		require.NoError(t, err)
		req.CSR, err = x509.ParseCertificateRequest(der)
		require.NoError(t, err)
		_, err = c.Sign(ctx, req)
		ce := requireKind(t, err, connector.KindRejected)
		assert.NotEmpty(t, ce.Message)
		assert.NotContains(t, strings.ToLower(ce.Message), "refused the request", "the CA's reason alone; the caller says it refused")
	})
	// The connector still works after refusals.
	req, _ := request(t, 24*time.Hour)
	_, err := c.Sign(ctx, req)
	require.NoError(t, err)
	assert.EqualValues(t, 1, c.KeyDecryptions())
}

func TestUnavailableWithRealStepCA(t *testing.T) {
	a := stepcatest.Start(t, stepcatest.Options{})
	ctx := context.Background()
	req, _ := request(t, 24*time.Hour)

	warm := newConnector(t, config(a))
	_, err := warm.Sign(ctx, req)
	require.NoError(t, err)

	a.Stop()

	_, err = warm.Sign(ctx, req)
	ce := requireKind(t, err, connector.KindUnavailable, "could not be reached")
	assert.True(t, ce.Retryable())
	_, err = newConnector(t, config(a)).Sign(ctx, req)
	requireKind(t, err, connector.KindUnavailable, "could not be reached")
	err = warm.Revoke(ctx, connector.RevokeRequest{Serial: "1f"})
	requireKind(t, err, connector.KindUnavailable)

	// The chain stays available from the cache while the CA is down.
	chain, err := warm.Chain(ctx)
	require.NoError(t, err)
	require.Len(t, chain, 2)
	assert.True(t, chain[1].Equal(a.Root))

	// A closed port.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	cfg := config(a)
	cfg.URL = "https://" + addr
	_, err = newConnector(t, cfg).Sign(ctx, req)
	requireKind(t, err, connector.KindUnavailable)
}

func TestConcurrentSignsDecryptTheKeyOnce(t *testing.T) {
	a := stepcatest.Start(t, stepcatest.Options{})
	c := newConnector(t, config(a))

	const n = 25
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		serials = map[string]bool{}
		errs    []error
	)
	for range n {
		wg.Go(func() {
			req, _ := request(t, 24*time.Hour)
			res, err := c.Sign(context.Background(), req)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			serials[res.Certificate.SerialNumber.String()] = true
		})
	}
	wg.Wait()
	require.Empty(t, errs)
	assert.Len(t, serials, n)
	assert.EqualValues(t, 1, c.KeyDecryptions())
}

// BenchmarkStepCASign is one P-256 issuance (a prepared CSR: token, HTTPS
// round trip, step-ca's checks, signing and its database write) through a
// real in-process step-ca, for comparison with the built-in CA
// (pki.BenchmarkSignLeaf).
func BenchmarkStepCASign(b *testing.B) {
	a := stepcatest.Start(b, stepcatest.Options{})
	c := newConnector(b, config(a))
	req, _ := request(b, 24*time.Hour)
	ctx := context.Background()
	if _, err := c.Sign(ctx, req); err != nil { // trust and key
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := c.Sign(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
