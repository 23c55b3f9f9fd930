package pki_test

import (
	"crypto"
	"crypto/x509"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

func verifyClientCert(t *testing.T, h *pki.Hierarchy, leaf *x509.Certificate, at time.Time, usages ...x509.ExtKeyUsage) error {
	t.Helper()
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         certPool(h.Root),
		Intermediates: certPool(h.Issuing),
		CurrentTime:   at,
		KeyUsages:     usages,
	})
	return err
}

func TestSignClientCertificate(t *testing.T) {
	h := testHierarchy(t)
	spec := leafSpec()

	tests := []struct {
		name  string
		key   crypto.Signer
		usage x509.KeyUsage
	}{
		{"ecdsa", p256Key(t), x509.KeyUsageDigitalSignature},
		{"rsa", rsaKey(t), x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cert, err := h.CA().Sign(tc.key.Public(), spec)
			require.NoError(t, err)

			assert.Equal(t, "alice", cert.Subject.CommonName)
			assert.Equal(t, []string{"Example Corp"}, cert.Subject.Organization)
			assert.Equal(t, []string{"alice@example.com"}, cert.EmailAddresses)
			assert.Empty(t, cert.DNSNames)
			assert.Empty(t, cert.IPAddresses)
			assert.Empty(t, cert.URIs)
			assert.True(t, pki.PublicKeysEqual(cert.PublicKey, tc.key.Public()))

			// An end entity for client authentication.
			assert.True(t, cert.BasicConstraintsValid)
			assert.False(t, cert.IsCA)
			assert.Equal(t, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, cert.ExtKeyUsage)
			assert.Equal(t, tc.usage, cert.KeyUsage)

			// Backdated by the clock skew allowance; ends when asked.
			assert.Equal(t, spec.NotBefore.Add(-time.Minute), cert.NotBefore)
			assert.Equal(t, spec.NotAfter, cert.NotAfter)

			assert.Equal(t, h.Issuing.RawSubject, cert.RawIssuer)
			assert.Equal(t, h.Issuing.SubjectKeyId, cert.AuthorityKeyId)
			require.NoError(t, cert.CheckSignatureFrom(h.Issuing))
			require.NoError(t, verifyClientCert(t, h, cert, testNow, x509.ExtKeyUsageClientAuth))
			// It is not a TLS server certificate.
			require.Error(t, verifyClientCert(t, h, cert, testNow, x509.ExtKeyUsageServerAuth))
			// Nor is it valid outside its validity.
			require.Error(t, verifyClientCert(t, h, cert, spec.NotAfter.Add(time.Second), x509.ExtKeyUsageClientAuth))
		})
	}
}

func TestSignHonoursExtKeyUsages(t *testing.T) {
	h := testHierarchy(t)
	spec := leafSpec()
	spec.ExtKeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageEmailProtection}
	cert, err := h.CA().Sign(p256Key(t).Public(), spec)
	require.NoError(t, err)
	assert.Equal(t, spec.ExtKeyUsages, cert.ExtKeyUsage)
	require.NoError(t, verifyClientCert(t, h, cert, testNow, x509.ExtKeyUsageEmailProtection))
}

func TestSignWithoutOptionalNames(t *testing.T) {
	h := testHierarchy(t)
	cert, err := h.CA().Sign(p256Key(t).Public(), pki.LeafSpec{
		CommonName: "bob",
		NotBefore:  testNow,
		NotAfter:   testNow.Add(time.Hour),
	})
	require.NoError(t, err)
	assert.Equal(t, "bob", cert.Subject.CommonName)
	assert.Empty(t, cert.Subject.Organization)
	assert.Empty(t, cert.EmailAddresses)
}

// A leaf never outlives its issuer.
func TestSignClampsNotAfterToTheCA(t *testing.T) {
	h := testHierarchy(t)
	spec := leafSpec()
	spec.NotAfter = h.Issuing.NotAfter.Add(5 * 365 * 24 * time.Hour)
	cert, err := h.CA().Sign(p256Key(t).Public(), spec)
	require.NoError(t, err)
	assert.Equal(t, h.Issuing.NotAfter, cert.NotAfter)
	require.NoError(t, verifyClientCert(t, h, cert, h.Issuing.NotAfter.Add(-time.Minute), x509.ExtKeyUsageClientAuth))
}

func TestSignRefusesInvalidSpecs(t *testing.T) {
	h := testHierarchy(t)
	tests := []struct {
		name   string
		change func(*pki.LeafSpec)
	}{
		{"empty common name", func(s *pki.LeafSpec) { s.CommonName = "" }},
		{"empty validity", func(s *pki.LeafSpec) { s.NotAfter = s.NotBefore }},
		{"negative validity", func(s *pki.LeafSpec) { s.NotAfter = s.NotBefore.Add(-time.Hour) }},
		{"zero times", func(s *pki.LeafSpec) { s.NotBefore, s.NotAfter = time.Time{}, time.Time{} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := leafSpec()
			tc.change(&spec)
			cert, err := h.CA().Sign(p256Key(t).Public(), spec)
			require.Error(t, err)
			assert.Nil(t, cert)
		})
	}
}

// A CA that has expired by the time the leaf would start (a plugin that kept
// running past its CA's expiry) must not produce a certificate whose NotAfter
// precedes its NotBefore: clamping to the CA's NotAfter empties the validity.
func TestSignRefusesValidityEmptiedByClamping(t *testing.T) {
	h := testHierarchy(t)
	spec := leafSpec()
	spec.NotBefore = h.Issuing.NotAfter.Add(time.Hour)
	spec.NotAfter = spec.NotBefore.Add(365 * 24 * time.Hour)
	cert, err := h.CA().Sign(p256Key(t).Public(), spec)
	if err == nil {
		t.Errorf("signed a certificate valid from %s to %s (NotAfter before NotBefore); want an error", cert.NotBefore, cert.NotAfter)
	}
}

func TestSignUniqueSerials(t *testing.T) {
	h := testHierarchy(t)
	pub := p256Key(t).Public()
	seen := map[string]bool{}
	for range 50 {
		cert, err := h.CA().Sign(pub, leafSpec())
		require.NoError(t, err)
		serial := pki.FormatSerial(cert.SerialNumber)
		require.False(t, seen[serial], "duplicate serial %s", serial)
		seen[serial] = true
		assert.Equal(t, 129, cert.SerialNumber.BitLen())
	}
}

// A CA loaded with NewCA (an imported RSA CA) signs leaves that verify.
func TestSignWithImportedRSACA(t *testing.T) {
	key := rsaKey(t)
	root := customCert(t, caCertTemplate("Imported RSA CA", x509.KeyUsageCertSign|x509.KeyUsageCRLSign), key.Public(), nil, key)
	ca, err := pki.NewCA([]*x509.Certificate{root}, key, testNow)
	require.NoError(t, err)
	leaf, err := ca.Sign(p256Key(t).Public(), leafSpec())
	require.NoError(t, err)
	// Clamped to the short-lived imported CA.
	assert.Equal(t, root.NotAfter, leaf.NotAfter)
	_, err = leaf.Verify(x509.VerifyOptions{
		Roots:       certPool(root),
		CurrentTime: testNow,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	require.NoError(t, err)
}

func TestNewCSR(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  crypto.Signer
	}{
		{"ecdsa", p256Key(t)},
		{"rsa", rsaKey(t)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			csr, err := pki.NewCSR(tc.key, "alice", []string{"alice@example.com", "a@example.org"}, nil)
			require.NoError(t, err)
			require.NoError(t, csr.CheckSignature())
			assert.Equal(t, "alice", csr.Subject.CommonName)
			assert.Equal(t, []string{"alice@example.com", "a@example.org"}, csr.EmailAddresses)
			assert.True(t, pki.PublicKeysEqual(csr.PublicKey, tc.key.Public()))

			// The DER is a real CSR: it parses again and still checks.
			again, err := x509.ParseCertificateRequest(csr.Raw)
			require.NoError(t, err)
			require.NoError(t, again.CheckSignature())
		})
	}
}

func TestNewCSRWithoutEmails(t *testing.T) {
	csr, err := pki.NewCSR(p256Key(t), "alice", nil, nil)
	require.NoError(t, err)
	require.NoError(t, csr.CheckSignature())
	assert.Empty(t, csr.EmailAddresses)
}

// An ECDSA S/MIME certificate carries keyAgreement, so that mail can be
// encrypted to it (ECDH), not only signed; a client-auth one does not.
func TestECDSAEmailCertificatesAllowKeyAgreement(t *testing.T) {
	ca := testHierarchy(t).CA()
	key := p256Key(t)
	now := time.Now()
	smime, err := ca.Sign(key.Public(), pki.LeafSpec{CommonName: "alice", Emails: []string{"alice@example.com"}, NotBefore: now, NotAfter: now.Add(time.Hour),
		ExtKeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}})
	require.NoError(t, err)
	assert.NotZero(t, smime.KeyUsage&x509.KeyUsageKeyAgreement)
	assert.NotZero(t, smime.KeyUsage&x509.KeyUsageDigitalSignature)
	vpn, err := ca.Sign(key.Public(), pki.LeafSpec{CommonName: "alice", NotBefore: now, NotAfter: now.Add(time.Hour)})
	require.NoError(t, err)
	assert.Zero(t, vpn.KeyUsage&x509.KeyUsageKeyAgreement)
}
