package pki_test

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

// testNow is the fixed "now" of the pki tests. Certificates encode times with
// one-second precision, so it has no fraction of a second.
var testNow = time.Date(2031, time.March, 4, 5, 6, 7, 0, time.UTC)

// Key generation and hierarchy creation are shared by the tests that only
// need "a" CA or "a" key: they are real, just made once.
var (
	sharedHierarchy = sync.OnceValues(func() (*pki.Hierarchy, error) {
		return pki.GenerateHierarchy("Example Corp", testNow)
	})
	sharedP256Key = sync.OnceValues(func() (crypto.Signer, error) { return pki.GenerateKey(pki.KeyECDSAP256) })
	sharedRSAKey  = sync.OnceValues(func() (crypto.Signer, error) { return pki.GenerateKey(pki.KeyRSA2048) })
)

func testHierarchy(tb testing.TB) *pki.Hierarchy {
	tb.Helper()
	h, err := sharedHierarchy()
	require.NoError(tb, err)
	return h
}

func p256Key(tb testing.TB) crypto.Signer {
	tb.Helper()
	k, err := sharedP256Key()
	require.NoError(tb, err)
	return k
}

func rsaKey(tb testing.TB) crypto.Signer {
	tb.Helper()
	k, err := sharedRSAKey()
	require.NoError(tb, err)
	return k
}

func newKey(tb testing.TB, kt pki.KeyType) crypto.Signer {
	tb.Helper()
	k, err := pki.GenerateKey(kt)
	require.NoError(tb, err)
	return k
}

// leafSpec is a typical client certificate request: one year from testNow.
func leafSpec() pki.LeafSpec {
	return pki.LeafSpec{
		CommonName:   "alice",
		Organization: []string{"Example Corp"},
		Emails:       []string{"alice@example.com"},
		NotBefore:    testNow,
		NotAfter:     testNow.Add(365 * 24 * time.Hour),
	}
}

func signLeaf(tb testing.TB, ca *pki.CA, pub crypto.PublicKey) *x509.Certificate {
	tb.Helper()
	cert, err := ca.Sign(pub, leafSpec())
	require.NoError(tb, err)
	return cert
}

// customCert signs template with parentKey under parent (self-signed when
// parent is nil), for the CA certificates the hierarchy never produces.
func customCert(tb testing.TB, template *x509.Certificate, pub crypto.PublicKey, parent *x509.Certificate, parentKey crypto.Signer) *x509.Certificate {
	tb.Helper()
	if template.SerialNumber == nil {
		serial, err := pki.NewSerial()
		require.NoError(tb, err)
		template.SerialNumber = serial
	}
	if parent == nil {
		parent = template
	}
	der, err := x509.CreateCertificate(nil, template, parent, pub, parentKey)
	require.NoError(tb, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(tb, err)
	return cert
}

func caCertTemplate(cn string, keyUsage x509.KeyUsage) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             testNow.Add(-time.Hour),
		NotAfter:              testNow.Add(24 * time.Hour),
		KeyUsage:              keyUsage,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
}

func rawOf(certs []*x509.Certificate) [][]byte {
	out := make([][]byte, len(certs))
	for i, c := range certs {
		out[i] = c.Raw
	}
	return out
}
