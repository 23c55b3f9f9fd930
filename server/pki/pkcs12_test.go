package pki_test

import (
	"bytes"
	"crypto"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

// DER encodings (tag, length, value) of the algorithm identifiers that tell
// the two formats apart.
var (
	oidPBEWithSHAAnd3KeyTripleDESCBC = []byte{0x06, 0x0a, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x01, 0x03} // 1.2.840.113549.1.12.1.3
	oidPBES2                         = []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d}       // 1.2.840.113549.1.5.13
	oidAES256CBC                     = []byte{0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a}       // 2.16.840.1.101.3.4.1.42
)

func TestEncodePKCS12RoundTrip(t *testing.T) {
	h := testHierarchy(t)
	chain := h.CA().Chain

	tests := []struct {
		format pki.PKCS12Format
		key    crypto.Signer
		has    [][]byte
		hasNot [][]byte
	}{
		{pki.PKCS12Compatible, p256Key(t), [][]byte{oidPBEWithSHAAnd3KeyTripleDESCBC}, [][]byte{oidPBES2}},
		{pki.PKCS12Modern, p256Key(t), [][]byte{oidPBES2, oidAES256CBC}, [][]byte{oidPBEWithSHAAnd3KeyTripleDESCBC}},
		{pki.PKCS12Compatible, rsaKey(t), nil, nil},
		{pki.PKCS12Modern, rsaKey(t), nil, nil},
	}
	for _, tc := range tests {
		kt, err := pki.KeyTypeOf(tc.key.Public())
		require.NoError(t, err)
		t.Run(string(tc.format)+"/"+string(kt), func(t *testing.T) {
			leaf := signLeaf(t, h.CA(), tc.key.Public())
			passphrase, err := pki.NewPassphrase()
			require.NoError(t, err)

			data, err := pki.EncodePKCS12(tc.format, tc.key, leaf, chain, passphrase)
			require.NoError(t, err)
			require.NotEmpty(t, data)
			for _, oid := range tc.has {
				assert.True(t, bytes.Contains(data, oid), "algorithm %x missing from %s PKCS#12", oid, tc.format)
			}
			for _, oid := range tc.hasNot {
				assert.False(t, bytes.Contains(data, oid), "algorithm %x unexpected in %s PKCS#12", oid, tc.format)
			}

			key, cert, caCerts, err := pkcs12.DecodeChain(data, passphrase)
			require.NoError(t, err)
			require.NotNil(t, cert)
			assert.Equal(t, leaf.Raw, cert.Raw)
			signer, ok := key.(crypto.Signer)
			require.True(t, ok, "decoded key %T is not a signer", key)
			assert.True(t, pki.PublicKeysEqual(signer.Public(), tc.key.Public()))
			assert.Equal(t, rawOf(chain), rawOf(caCerts), "the CA chain, issuing CA first")

			_, _, _, err = pkcs12.DecodeChain(data, passphrase+"x")
			require.Error(t, err)
			_, _, _, err = pkcs12.DecodeChain(data, "")
			require.Error(t, err)
		})
	}
}

func TestEncodePKCS12WrongPassphrase(t *testing.T) {
	h := testHierarchy(t)
	key := p256Key(t)
	leaf := signLeaf(t, h.CA(), key.Public())
	for _, format := range []pki.PKCS12Format{pki.PKCS12Compatible, pki.PKCS12Modern} {
		data, err := pki.EncodePKCS12(format, key, leaf, h.CA().Chain, "right-horse-battery")
		require.NoError(t, err)
		_, _, _, err = pkcs12.DecodeChain(data, "wrong-horse-battery")
		assert.ErrorIs(t, err, pkcs12.ErrIncorrectPassword, "format %s", format)
	}
}

func TestEncodePKCS12UnknownFormat(t *testing.T) {
	h := testHierarchy(t)
	key := p256Key(t)
	leaf := signLeaf(t, h.CA(), key.Public())
	for _, format := range []pki.PKCS12Format{"", "legacy", "Modern", "aes"} {
		data, err := pki.EncodePKCS12(format, key, leaf, h.CA().Chain, "passphrase")
		assert.Error(t, err, "format %q", format)
		assert.Nil(t, data)
	}
}

func TestParsePKCS12Format(t *testing.T) {
	for _, s := range []string{"compatible", "modern"} {
		f, err := pki.ParsePKCS12Format(s)
		require.NoError(t, err)
		assert.Equal(t, pki.PKCS12Format(s), f)
	}
	for _, s := range []string{"", "Compatible", "MODERN", "legacy", "modern2023", " modern"} {
		f, err := pki.ParsePKCS12Format(s)
		require.Error(t, err, "format %q", s)
		assert.Empty(t, f)
		assert.Contains(t, err.Error(), "compatible")
		assert.Contains(t, err.Error(), "modern")
	}
}
