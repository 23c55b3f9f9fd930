package connector_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

var testNow = time.Date(2031, time.March, 4, 5, 6, 7, 0, time.UTC)

var sharedHierarchy = sync.OnceValues(func() (*pki.Hierarchy, error) {
	return pki.GenerateHierarchy("Example Corp", testNow)
})

func hierarchy(t *testing.T) *pki.Hierarchy {
	t.Helper()
	h, err := sharedHierarchy()
	require.NoError(t, err)
	return h
}

func newBuiltin(t *testing.T) (*connector.Builtin, *pki.Hierarchy) {
	t.Helper()
	h := hierarchy(t)
	return connector.NewBuiltin("internal", h.CA(), func() time.Time { return testNow }), h
}

func newKey(t *testing.T, kt pki.KeyType) crypto.Signer {
	t.Helper()
	k, err := pki.GenerateKey(kt)
	require.NoError(t, err)
	return k
}

// hostileCSR asks for everything a user should not get: another name, other
// emails, DNS and IP and URI names, and CA:TRUE.
func hostileCSR(t *testing.T, key crypto.Signer) *x509.CertificateRequest {
	t.Helper()
	basicConstraints, err := asn1.Marshal(struct {
		IsCA bool `asn1:"optional"`
	}{IsCA: true})
	require.NoError(t, err)
	der, err := x509.CreateCertificateRequest(nil, &x509.CertificateRequest{
		Subject:        pkix.Name{CommonName: "admin", Organization: []string{"Evil Corp"}},
		EmailAddresses: []string{"admin@example.com", "ceo@example.com"},
		DNSNames:       []string{"chat.example.com"},
		IPAddresses:    []net.IP{net.ParseIP("10.0.0.1")},
		URIs:           []*url.URL{{Scheme: "spiffe", Host: "example.com", Path: "/admin"}},
		ExtraExtensions: []pkix.Extension{{
			Id:       asn1.ObjectIdentifier{2, 5, 29, 19}, // basicConstraints
			Critical: true,
			Value:    basicConstraints,
		}},
	}, key)
	require.NoError(t, err)
	csr, err := x509.ParseCertificateRequest(der)
	require.NoError(t, err)
	require.NoError(t, csr.CheckSignature())
	return csr
}

// aliceURI names alice's account by its id.
var aliceURI = &url.URL{Scheme: "mattermost", Host: "chat.example.com", Path: "/users/aliceid"}

// aliceRequest asks for alice's certificate for the key of csr; a nil csr
// gives a request with no key.
func aliceRequest(csr *x509.CertificateRequest) connector.SignRequest {
	subject := connector.Subject{
		CommonName:   "alice",
		Organization: []string{"Example Corp"},
		Emails:       []string{"alice@example.com"},
		URIs:         []*url.URL{aliceURI},
	}
	profile := connector.Profile{
		Name:         "default",
		Validity:     90 * 24 * time.Hour,
		ExtKeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if csr == nil {
		return connector.SignRequest{Subject: subject, Profile: profile}
	}
	return connector.ForCSR(csr, subject, profile)
}

func TestBuiltinImplementsConnector(t *testing.T) {
	b, _ := newBuiltin(t)
	var c connector.Connector = b
	assert.Equal(t, "internal", c.Name())
	assert.Equal(t, connector.TypeBuiltin, c.Type())
	assert.Equal(t, "builtin", c.Type())
}

func TestBuiltinSignTakesNamesFromTheSubject(t *testing.T) {
	b, h := newBuiltin(t)
	key := newKey(t, pki.KeyECDSAP256)
	csr := hostileCSR(t, key)

	res, err := b.Sign(context.Background(), aliceRequest(csr))
	require.NoError(t, err)
	require.Equal(t, connector.StatusIssued, res.Status)
	cert := res.Certificate
	require.NotNil(t, cert)

	assert.Equal(t, "alice", cert.Subject.CommonName)
	assert.Equal(t, []string{"Example Corp"}, cert.Subject.Organization)
	assert.Equal(t, []string{"alice@example.com"}, cert.EmailAddresses)
	assert.Empty(t, cert.DNSNames)
	assert.Empty(t, cert.IPAddresses)
	require.Len(t, cert.URIs, 1, "only the account's own URI, none from the CSR")
	assert.Equal(t, aliceURI.String(), cert.URIs[0].String())
	assert.False(t, cert.IsCA)
	assert.NotContains(t, string(cert.RawSubject), "admin")

	// The key is the CSR's.
	assert.True(t, pki.PublicKeysEqual(cert.PublicKey, key.Public()))
	assert.Empty(t, res.RequestID)
	assert.Empty(t, res.Reason)

	_, err = cert.Verify(x509.VerifyOptions{
		Roots:         pool(h.Root),
		Intermediates: pool(h.Issuing),
		CurrentTime:   testNow,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	require.NoError(t, err)
}

func TestBuiltinSignValidityAndUsagesFromProfile(t *testing.T) {
	b, h := newBuiltin(t)
	csr, err := pki.NewCSR(newKey(t, pki.KeyECDSAP256), "alice", []string{"alice@example.com"}, nil)
	require.NoError(t, err)

	tests := []struct {
		name         string
		validity     time.Duration
		ekus         []x509.ExtKeyUsage
		wantNotAfter time.Time
		wantEKUs     []x509.ExtKeyUsage
	}{
		{"one day", 24 * time.Hour, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, testNow.Add(24 * time.Hour), []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
		{"one year, S/MIME too", 365 * 24 * time.Hour, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageEmailProtection}, testNow.Add(365 * 24 * time.Hour), []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageEmailProtection}},
		{"no EKUs means clientAuth", time.Hour, nil, testNow.Add(time.Hour), []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
		{"longer than the CA", 50 * 365 * 24 * time.Hour, nil, h.Issuing.NotAfter, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := aliceRequest(csr)
			req.Profile.Validity = tc.validity
			req.Profile.ExtKeyUsages = tc.ekus
			res, err := b.Sign(context.Background(), req)
			require.NoError(t, err)
			assert.Equal(t, testNow.Add(-time.Minute), res.Certificate.NotBefore, "now, less the clock skew allowance")
			assert.Equal(t, tc.wantNotAfter, res.Certificate.NotAfter)
			assert.Equal(t, tc.wantEKUs, res.Certificate.ExtKeyUsage)
		})
	}
}

func TestBuiltinSignResultChainIsTheCAChain(t *testing.T) {
	b, h := newBuiltin(t)
	csr, err := pki.NewCSR(newKey(t, pki.KeyECDSAP256), "alice", nil, nil)
	require.NoError(t, err)
	res, err := b.Sign(context.Background(), aliceRequest(csr))
	require.NoError(t, err)
	require.Len(t, res.Chain, 2)
	assert.Equal(t, h.Issuing.Raw, res.Chain[0].Raw, "issuing CA first")
	assert.Equal(t, h.Root.Raw, res.Chain[1].Raw, "root last")
	require.NoError(t, res.Certificate.CheckSignatureFrom(res.Chain[0]))

	chain, err := b.Chain(context.Background())
	require.NoError(t, err)
	require.Len(t, chain, 2)
	assert.Equal(t, h.Issuing.Raw, chain[0].Raw)
	assert.Equal(t, h.Root.Raw, chain[1].Raw)
}

func TestBuiltinSignRSAKey(t *testing.T) {
	b, _ := newBuiltin(t)
	csr, err := pki.NewCSR(newKey(t, pki.KeyRSA2048), "alice", nil, nil)
	require.NoError(t, err)
	res, err := b.Sign(context.Background(), aliceRequest(csr))
	require.NoError(t, err)
	assert.Equal(t, x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment, res.Certificate.KeyUsage)
}

// A key the plugin generated is certified without a CSR: the built-in CA
// never asks for one. A connector that wants one gets a CSR for the key,
// signed by it, with the subject's names.
func TestBuiltinSignsAGeneratedKeyWithoutACSR(t *testing.T) {
	b, _ := newBuiltin(t)
	key := newKey(t, pki.KeyECDSAP256)
	req := connector.ForGeneratedKey(key, aliceRequest(nil).Subject, aliceRequest(nil).Profile)
	assert.Nil(t, req.CSR, "no CSR is made up front")
	res, err := b.Sign(context.Background(), req)
	require.NoError(t, err)
	assert.True(t, pki.PublicKeysEqual(key.Public(), res.Certificate.PublicKey))
	assert.Equal(t, "alice", res.Certificate.Subject.CommonName)

	csr, err := req.CertificateRequest()
	require.NoError(t, err)
	require.NoError(t, csr.CheckSignature())
	assert.True(t, pki.PublicKeysEqual(key.Public(), csr.PublicKey))
	assert.Equal(t, "alice", csr.Subject.CommonName)
	assert.Equal(t, []string{"alice@example.com"}, csr.EmailAddresses)

	_, err = aliceRequest(nil).CertificateRequest()
	assert.Error(t, err, "a request with neither CSR nor key has no CSR")
}

func TestBuiltinSignRejects(t *testing.T) {
	b, _ := newBuiltin(t)
	key := newKey(t, pki.KeyECDSAP256)
	otherKey := newKey(t, pki.KeyECDSAP256)
	good, err := pki.NewCSR(key, "alice", nil, nil)
	require.NoError(t, err)

	// The signature bytes altered.
	badSignature := *good
	badSignature.Signature = bytes.Clone(good.Signature)
	badSignature.Signature[len(badSignature.Signature)-1] ^= 0x01

	// Someone else's public key with a signature that key did not make: no
	// proof of possession.
	otherPublicKey := *good
	otherPublicKey.PublicKey = otherKey.Public()

	// The signed content altered after signing.
	alteredTBS := *good
	alteredTBS.RawTBSCertificateRequest = bytes.Clone(good.RawTBSCertificateRequest)
	alteredTBS.RawTBSCertificateRequest[len(alteredTBS.RawTBSCertificateRequest)-1] ^= 0x01

	tests := []struct {
		name    string
		req     func() connector.SignRequest
		wantErr bool // the error wraps a cause
	}{
		{"no key", func() connector.SignRequest { return aliceRequest(nil) }, false},
		{"no common name", func() connector.SignRequest {
			r := aliceRequest(good)
			r.Subject.CommonName = ""
			return r
		}, true},
		{"no validity", func() connector.SignRequest {
			r := aliceRequest(good)
			r.Profile.Validity = 0
			return r
		}, true},
		{"negative validity", func() connector.SignRequest {
			r := aliceRequest(good)
			r.Profile.Validity = -time.Hour
			return r
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := b.Sign(context.Background(), tc.req())
			require.Error(t, err)
			assert.Nil(t, res)
			ce := connector.AsError(err)
			require.NotNil(t, ce, "error %T is not a *connector.Error", err)
			assert.Equal(t, connector.KindRejected, ce.Kind)
			assert.Equal(t, "internal", ce.Connector)
			assert.NotEmpty(t, ce.Message)
			assert.False(t, ce.Retryable())
			if tc.wantErr {
				assert.Error(t, ce.Err, "the cause is kept for the log")
			}
		})
	}
}

func TestBuiltinPoll(t *testing.T) {
	b, _ := newBuiltin(t)
	res, err := b.Poll(context.Background(), "request-1")
	require.Error(t, err)
	assert.Nil(t, res)
	ce := connector.AsError(err)
	require.NotNil(t, ce)
	assert.Equal(t, connector.KindUnsupported, ce.Kind)
	assert.Equal(t, "internal", ce.Connector)
	assert.False(t, ce.Retryable())
}

func TestBuiltinRevoke(t *testing.T) {
	b, _ := newBuiltin(t)
	require.NoError(t, b.Revoke(context.Background(), connector.RevokeRequest{Serial: "1a2b", ReasonCode: 1, Reason: "keyCompromise"}))
	require.NoError(t, b.Revoke(context.Background(), connector.RevokeRequest{}))
}

func TestNewBuiltinNilClockUsesWallClock(t *testing.T) {
	h, err := pki.GenerateHierarchy("", time.Now())
	require.NoError(t, err)
	b := connector.NewBuiltin("internal", h.CA(), nil)
	csr, err := pki.NewCSR(newKey(t, pki.KeyECDSAP256), "alice", nil, nil)
	require.NoError(t, err)
	res, err := b.Sign(context.Background(), aliceRequest(csr))
	require.NoError(t, err)
	// Valid now, by the wall clock.
	_, err = res.Certificate.Verify(x509.VerifyOptions{
		Roots:         pool(h.Root),
		Intermediates: pool(h.Issuing),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	require.NoError(t, err)
}

func pool(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

// A Builtin keeps its CA for as long as the plugin runs; when the CA expires
// meanwhile, Sign must fail (an admin must renew the CA) instead of issuing a
// certificate whose NotAfter (clamped to the CA's) precedes its NotBefore.
func TestBuiltinSignAfterCAExpiry(t *testing.T) {
	h := hierarchy(t)
	b := connector.NewBuiltin("internal", h.CA(), func() time.Time { return h.Issuing.NotAfter.Add(24 * time.Hour) })
	csr, err := pki.NewCSR(newKey(t, pki.KeyECDSAP256), "alice", nil, nil)
	require.NoError(t, err)
	res, err := b.Sign(context.Background(), aliceRequest(csr))
	if err == nil {
		t.Fatalf("issued a certificate valid from %s to %s by a CA that expired on %s; want a *connector.Error",
			res.Certificate.NotBefore, res.Certificate.NotAfter, h.Issuing.NotAfter)
	}
	assert.NotNil(t, connector.AsError(err))
}
