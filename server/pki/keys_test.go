package pki_test

import (
	"crypto"
	"crypto/dsa" //nolint:staticcheck // only to check that DSA keys are refused
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

func TestKeyTypesDefaultFirst(t *testing.T) {
	require.NotEmpty(t, pki.KeyTypes)
	assert.Equal(t, pki.KeyECDSAP256, pki.KeyTypes[0])
	assert.ElementsMatch(t, []pki.KeyType{pki.KeyECDSAP256, pki.KeyECDSAP384, pki.KeyRSA2048, pki.KeyRSA3072, pki.KeyRSA4096}, pki.KeyTypes)
}

// Every key type generates a key of the advertised algorithm and size, and
// KeyTypeOf maps its public key back to the same type. This generates the one
// RSA-4096 key of the package's tests.
func TestGenerateKeyRoundTripsThroughKeyTypeOf(t *testing.T) {
	tests := []struct {
		kt      pki.KeyType
		rsaBits int
		curve   elliptic.Curve
	}{
		{kt: pki.KeyECDSAP256, curve: elliptic.P256()},
		{kt: pki.KeyECDSAP384, curve: elliptic.P384()},
		{kt: pki.KeyRSA2048, rsaBits: 2048},
		{kt: pki.KeyRSA3072, rsaBits: 3072},
		{kt: pki.KeyRSA4096, rsaBits: 4096},
	}
	require.Len(t, tests, len(pki.KeyTypes), "a key type is missing from this table")
	for _, tc := range tests {
		t.Run(string(tc.kt), func(t *testing.T) {
			t.Parallel()
			key, err := pki.GenerateKey(tc.kt)
			require.NoError(t, err)
			require.NotNil(t, key)

			switch pub := key.Public().(type) {
			case *ecdsa.PublicKey:
				require.NotNil(t, tc.curve, "expected an RSA key, got ECDSA")
				assert.Equal(t, tc.curve.Params().Name, pub.Curve.Params().Name)
			case *rsa.PublicKey:
				require.NotZero(t, tc.rsaBits, "expected an ECDSA key, got RSA")
				assert.Equal(t, tc.rsaBits, pub.N.BitLen())
			default:
				t.Fatalf("unexpected public key type %T", pub)
			}

			got, err := pki.KeyTypeOf(key.Public())
			require.NoError(t, err)
			assert.Equal(t, tc.kt, got)

			parsed, err := pki.ParseKeyType(string(tc.kt))
			require.NoError(t, err)
			assert.Equal(t, tc.kt, parsed)
		})
	}
}

func TestGenerateKeyUnknownType(t *testing.T) {
	for _, kt := range []pki.KeyType{"", "rsa-1024", "ed25519", "ECDSA-P256"} {
		key, err := pki.GenerateKey(kt)
		assert.Error(t, err, "key type %q", kt)
		assert.Nil(t, key, "key type %q", kt)
	}
}

// unknownPublicKey is a public key type the plugin has never heard of.
type unknownPublicKey struct{}

func TestKeyTypeOfRefusesUnsupportedKeys(t *testing.T) {
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	require.NoError(t, err)
	p521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	require.NoError(t, err)
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	x25519, err := ecdh.X25519().GenerateKey(rand.Reader)
	require.NoError(t, err)

	tests := []struct {
		name    string
		pub     crypto.PublicKey
		message string
	}{
		{"rsa-1024", &rsa1024.PublicKey, "1024"},
		{"ecdsa-p224", &p224.PublicKey, "P-224"},
		{"ecdsa-p521", &p521.PublicKey, "P-521"},
		{"ed25519", edPub, "Ed25519 keys are not supported"},
		{"x25519", x25519.PublicKey(), "ecdh"},
		{"dsa", &dsa.PublicKey{}, "DSA keys are not supported"},
		{"unknown type", unknownPublicKey{}, "unknownPublicKey"},
		{"nil", nil, "unsupported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kt, err := pki.KeyTypeOf(tc.pub)
			require.Error(t, err)
			assert.Empty(t, kt)
			assert.Contains(t, err.Error(), tc.message)
		})
	}
}

// A private key is not a public key: KeyTypeOf is for public keys only.
func TestKeyTypeOfRefusesPrivateKeys(t *testing.T) {
	_, err := pki.KeyTypeOf(p256Key(t))
	assert.Error(t, err)
}

func TestParseKeyTypeErrors(t *testing.T) {
	for _, s := range []string{"", "ecdsa", "ECDSA-P256", " ecdsa-p256", "ecdsa-p256 ", "ecdsa-p521", "rsa-1024", "rsa", "ed25519", "rsa-2048,rsa-4096"} {
		t.Run(s, func(t *testing.T) {
			kt, err := pki.ParseKeyType(s)
			require.Error(t, err)
			assert.Empty(t, kt)
			// The message lists what would have been accepted.
			for _, accepted := range pki.KeyTypes {
				assert.Contains(t, err.Error(), string(accepted))
			}
		})
	}
}

func TestPublicKeysEqual(t *testing.T) {
	a := p256Key(t)
	b := newKey(t, pki.KeyECDSAP256)
	r := rsaKey(t)

	assert.True(t, pki.PublicKeysEqual(a.Public(), a.Public()))
	assert.True(t, pki.PublicKeysEqual(r.Public(), r.Public()))
	assert.False(t, pki.PublicKeysEqual(a.Public(), b.Public()))
	assert.False(t, pki.PublicKeysEqual(a.Public(), r.Public()))
	assert.False(t, pki.PublicKeysEqual(r.Public(), a.Public()))
	assert.False(t, pki.PublicKeysEqual(nil, a.Public()))
	assert.False(t, pki.PublicKeysEqual(a.Public(), nil))
	assert.False(t, pki.PublicKeysEqual(unknownPublicKey{}, unknownPublicKey{}))
}
