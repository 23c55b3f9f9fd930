package pki_test

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

const caKeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature

func TestGenerateHierarchyRoot(t *testing.T) {
	h := testHierarchy(t)
	root := h.Root

	assert.Equal(t, "Client Certificates Root CA", root.Subject.CommonName)
	assert.Equal(t, []string{"Example Corp"}, root.Subject.Organization)

	// Self-signed.
	assert.Equal(t, root.RawSubject, root.RawIssuer)
	require.NoError(t, root.CheckSignatureFrom(root))
	assert.True(t, pki.PublicKeysEqual(root.PublicKey, h.RootKey.Public()))

	// CA:TRUE, pathlen:1 (room for the issuing CA, nothing below it).
	assert.True(t, root.BasicConstraintsValid)
	assert.True(t, root.IsCA)
	assert.Equal(t, 1, root.MaxPathLen)
	assert.False(t, root.MaxPathLenZero)
	assert.Equal(t, caKeyUsage, root.KeyUsage)
	assert.Empty(t, root.ExtKeyUsage)

	assert.Equal(t, testNow.Add(-time.Minute), root.NotBefore)
	assert.Equal(t, testNow.Add(pki.RootValidity), root.NotAfter)

	kt, err := pki.KeyTypeOf(root.PublicKey)
	require.NoError(t, err)
	assert.Equal(t, pki.KeyECDSAP256, kt)
	assert.Equal(t, 1, root.SerialNumber.Sign())
}

func TestGenerateHierarchyIssuingCA(t *testing.T) {
	h := testHierarchy(t)
	issuing := h.Issuing

	assert.Equal(t, "Client Certificates Issuing CA", issuing.Subject.CommonName)
	assert.Equal(t, []string{"Example Corp"}, issuing.Subject.Organization)

	// Signed by the root.
	assert.Equal(t, h.Root.RawSubject, issuing.RawIssuer)
	require.NoError(t, issuing.CheckSignatureFrom(h.Root))
	assert.Equal(t, h.Root.SubjectKeyId, issuing.AuthorityKeyId)
	assert.True(t, pki.PublicKeysEqual(issuing.PublicKey, h.IssuingKey.Public()))
	assert.False(t, pki.PublicKeysEqual(issuing.PublicKey, h.RootKey.Public()), "root and issuing CA share a key")

	// CA:TRUE, pathlen:0 (may sign leaves only).
	assert.True(t, issuing.BasicConstraintsValid)
	assert.True(t, issuing.IsCA)
	assert.Equal(t, 0, issuing.MaxPathLen)
	assert.True(t, issuing.MaxPathLenZero)
	assert.Equal(t, caKeyUsage, issuing.KeyUsage)

	assert.Equal(t, testNow.Add(-time.Minute), issuing.NotBefore)
	assert.Equal(t, testNow.Add(pki.IssuingValidity), issuing.NotAfter)
	assert.True(t, issuing.NotAfter.Before(h.Root.NotAfter), "the issuing CA outlives the root")

	assert.NotEqual(t, 0, issuing.SerialNumber.Cmp(h.Root.SerialNumber))

	chains, err := issuing.Verify(x509.VerifyOptions{
		Roots:       certPool(h.Root),
		CurrentTime: testNow,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	require.NoError(t, err)
	require.Len(t, chains, 1)
	assert.Equal(t, rawOf([]*x509.Certificate{issuing, h.Root}), rawOf(chains[0]))
}

// The pathlen:0 constraint of the issuing CA is enforced: a leaf below a
// sub-CA the issuing CA signed does not verify.
func TestGenerateHierarchyIssuingCACannotMakeSubCAs(t *testing.T) {
	h := testHierarchy(t)
	subKey := newKey(t, pki.KeyECDSAP256)
	sub := customCert(t, caCertTemplate("rogue sub-CA", x509.KeyUsageCertSign), subKey.Public(), h.Issuing, h.IssuingKey)
	subCA, err := pki.NewCA([]*x509.Certificate{sub, h.Issuing, h.Root}, subKey, testNow)
	require.NoError(t, err, "NewCA checks signatures, not path lengths")
	leaf := signLeaf(t, subCA, p256Key(t).Public())

	_, err = leaf.Verify(x509.VerifyOptions{
		Roots:         certPool(h.Root),
		Intermediates: certPool(h.Issuing, sub),
		CurrentTime:   testNow,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	require.Error(t, err)
}

func TestGenerateHierarchyWithoutOrganization(t *testing.T) {
	h, err := pki.GenerateHierarchy("", testNow)
	require.NoError(t, err)
	assert.Empty(t, h.Root.Subject.Organization)
	assert.Empty(t, h.Issuing.Subject.Organization)
	require.NoError(t, h.Issuing.CheckSignatureFrom(h.Root))
}

func TestGenerateHierarchyIsFreshEachTime(t *testing.T) {
	a := testHierarchy(t)
	b, err := pki.GenerateHierarchy("Example Corp", testNow)
	require.NoError(t, err)
	assert.False(t, pki.PublicKeysEqual(a.RootKey.Public(), b.RootKey.Public()))
	assert.False(t, pki.PublicKeysEqual(a.IssuingKey.Public(), b.IssuingKey.Public()))
	assert.NotEqual(t, 0, a.Root.SerialNumber.Cmp(b.Root.SerialNumber))
	assert.Error(t, b.Issuing.CheckSignatureFrom(a.Root))
}

func TestHierarchyCA(t *testing.T) {
	h := testHierarchy(t)
	ca := h.CA()
	assert.Same(t, h.Issuing, ca.Certificate)
	assert.Equal(t, h.IssuingKey, ca.Signer)
	assert.Equal(t, rawOf([]*x509.Certificate{h.Issuing, h.Root}), rawOf(ca.Chain))
}

func TestNewCAAccepts(t *testing.T) {
	h := testHierarchy(t)

	t.Run("issuing CA with its chain", func(t *testing.T) {
		ca, err := pki.NewCA([]*x509.Certificate{h.Issuing, h.Root}, h.IssuingKey, testNow)
		require.NoError(t, err)
		assert.Same(t, h.Issuing, ca.Certificate)
		assert.Equal(t, h.IssuingKey, ca.Signer)
		assert.Equal(t, rawOf([]*x509.Certificate{h.Issuing, h.Root}), rawOf(ca.Chain))
	})
	t.Run("issuing CA alone", func(t *testing.T) {
		ca, err := pki.NewCA([]*x509.Certificate{h.Issuing}, h.IssuingKey, testNow)
		require.NoError(t, err)
		assert.Len(t, ca.Chain, 1)
	})
	t.Run("root signing directly", func(t *testing.T) {
		_, err := pki.NewCA([]*x509.Certificate{h.Root}, h.RootKey, testNow)
		require.NoError(t, err)
	})
	t.Run("RSA CA", func(t *testing.T) {
		key := rsaKey(t)
		cert := customCert(t, caCertTemplate("RSA CA", x509.KeyUsageCertSign), key.Public(), nil, key)
		_, err := pki.NewCA([]*x509.Certificate{cert}, key, testNow)
		require.NoError(t, err)
	})
	t.Run("just before expiry", func(t *testing.T) {
		_, err := pki.NewCA([]*x509.Certificate{h.Issuing, h.Root}, h.IssuingKey, h.Issuing.NotAfter)
		require.NoError(t, err)
	})
}

func TestNewCARefuses(t *testing.T) {
	h := testHierarchy(t)
	otherKey := p256Key(t)
	other, err := pki.GenerateHierarchy("Other Corp", testNow)
	require.NoError(t, err)

	leaf := signLeaf(t, h.CA(), otherKey.Public())
	noCertSign := customCert(t, caCertTemplate("no keyCertSign", x509.KeyUsageDigitalSignature|x509.KeyUsageCRLSign), otherKey.Public(), h.Root, h.RootKey)
	noBasicConstraints := customCert(t, &x509.Certificate{
		Subject:   pkix.Name{CommonName: "no basic constraints"},
		NotBefore: testNow.Add(-time.Hour),
		NotAfter:  testNow.Add(time.Hour),
		KeyUsage:  x509.KeyUsageCertSign,
	}, otherKey.Public(), h.Root, h.RootKey)

	tests := []struct {
		name    string
		chain   []*x509.Certificate
		key     crypto.Signer
		now     time.Time
		message string
	}{
		{"empty chain", nil, h.IssuingKey, testNow, "no CA certificate"},
		{"empty non-nil chain", []*x509.Certificate{}, h.IssuingKey, testNow, "no CA certificate"},
		{"leaf certificate", []*x509.Certificate{leaf, h.Issuing, h.Root}, otherKey, testNow, "not a CA"},
		{"CA without basic constraints", []*x509.Certificate{noBasicConstraints, h.Root}, otherKey, testNow, "not a CA"},
		{"CA without keyCertSign", []*x509.Certificate{noCertSign, h.Root}, otherKey, testNow, "keyCertSign"},
		{"expired CA", []*x509.Certificate{h.Issuing, h.Root}, h.IssuingKey, h.Issuing.NotAfter.Add(time.Second), "expired"},
		{"key of another CA", []*x509.Certificate{h.Issuing, h.Root}, other.IssuingKey, testNow, "does not match"},
		{"root key for the issuing CA", []*x509.Certificate{h.Issuing, h.Root}, h.RootKey, testNow, "does not match"},
		{"chain in reverse order", []*x509.Certificate{h.Root, h.Issuing}, h.RootKey, testNow, "out of order"},
		{"root of another hierarchy", []*x509.Certificate{h.Issuing, other.Root}, h.IssuingKey, testNow, "out of order"},
		{"issuing CA listed twice", []*x509.Certificate{h.Issuing, h.Issuing, h.Root}, h.IssuingKey, testNow, "out of order"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ca, err := pki.NewCA(tc.chain, tc.key, tc.now)
			require.Error(t, err)
			assert.Nil(t, ca)
			assert.Contains(t, err.Error(), tc.message)
		})
	}
}

func certPool(certs ...*x509.Certificate) *x509.CertPool {
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool
}

// A later generation of the issuing CA: its own subject and key, under the
// same root, never past the root's expiry.
func TestNewIssuingCAGeneration(t *testing.T) {
	h := testHierarchy(t)
	key, err := pki.GenerateKey(pki.KeyECDSAP256)
	require.NoError(t, err)
	later := testNow.Add(15 * 365 * 24 * time.Hour)
	ca, err := pki.NewIssuingCA(h.Root, h.RootKey, key, h.Issuing.Subject.Organization, 2, later, later.Add(pki.IssuingValidity))
	require.NoError(t, err)
	cert := ca.Certificate
	assert.Equal(t, "Client Certificates Issuing CA G2", cert.Subject.CommonName)
	assert.Equal(t, "Client Certificates Issuing CA", h.Issuing.Subject.CommonName, "the first keeps its name")
	assert.NotEqual(t, pki.SubjectID(h.Issuing), pki.SubjectID(cert))
	require.NoError(t, cert.CheckSignatureFrom(h.Root))
	assert.Equal(t, h.Root.NotAfter, cert.NotAfter, "clamped to the root")
	assert.True(t, cert.IsCA)
	assert.True(t, cert.MaxPathLenZero)
	assert.Equal(t, []*x509.Certificate{cert, h.Root}, ca.Chain)

	leaf, err := ca.Sign(key.Public(), pki.LeafSpec{CommonName: "alice", NotBefore: later, NotAfter: later.Add(time.Hour)})
	require.NoError(t, err)
	assert.Equal(t, pki.SubjectID(cert), pki.IssuerID(leaf), "SubjectID of a CA is IssuerID of what it signs")
}
