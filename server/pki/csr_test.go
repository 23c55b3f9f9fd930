package pki_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

func csrDER(t *testing.T, key any) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "someone-else"}, EmailAddresses: []string{"mallory@example.com"},
	}, key)
	require.NoError(t, err)
	return der
}

func TestParseCSRAcceptsPEMAndDER(t *testing.T) {
	key, err := pki.GenerateKey(pki.KeyECDSAP256)
	require.NoError(t, err)
	der := csrDER(t, key)
	allowed := []pki.KeyType{pki.KeyECDSAP256, pki.KeyRSA2048}
	for name, data := range map[string][]byte{
		"DER":        der,
		"PEM":        pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
		"legacy PEM": pem.EncodeToMemory(&pem.Block{Type: "NEW CERTIFICATE REQUEST", Bytes: der}),
		"padded PEM": []byte("\n  " + string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})) + "\n\n"),
	} {
		csr, kt, err := pki.ParseCSR(data, allowed)
		require.NoError(t, err, name)
		assert.Equal(t, pki.KeyECDSAP256, kt, name)
		assert.Equal(t, "someone-else", csr.Subject.CommonName, "names are returned, for the caller to ignore or compare")
	}
}

func TestParseCSRRefusesBadRequests(t *testing.T) {
	p256, err := pki.GenerateKey(pki.KeyECDSAP256)
	require.NoError(t, err)
	good := csrDER(t, p256)
	tampered := append([]byte(nil), good...)
	tampered[len(tampered)-5] ^= 0xff // inside the signature
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	require.NoError(t, err)
	pemOf := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }

	// Made with: openssl req -new -newkey dsa:dsaparam.pem (Go cannot make one).
	dsaCSR, err := os.ReadFile("testdata/dsa.csr")
	require.NoError(t, err)
	cases := map[string]struct {
		data    []byte
		allowed []pki.KeyType
		want    string
	}{
		"empty":           {nil, pki.KeyTypes, "is empty"},
		"oversized":       {make([]byte, pki.MaxCSRBytes+1), pki.KeyTypes, "larger than"},
		"garbage":         {[]byte("hello"), pki.KeyTypes, "the file is not a certificate signing request (PEM or DER) that can be read"},
		"broken PEM":      {[]byte("-----BEGIN CERTIFICATE REQUEST-----\n!!!\n"), pki.KeyTypes, "PEM text cannot be read"},
		"certificate PEM": {pemOf("CERTIFICATE", good), pki.KeyTypes, `got a PEM "CERTIFICATE" block`},
		"key PEM":         {pemOf("PRIVATE KEY", good), pki.KeyTypes, `got a PEM "PRIVATE KEY" block`},
		"two requests":    {append(pemOf("CERTIFICATE REQUEST", good), pemOf("CERTIFICATE REQUEST", good)...), pki.KeyTypes, "one certificate signing request at a time"},
		"truncated DER":   {good[:len(good)/2], pki.KeyTypes, "not a certificate signing request"},
		"tampered":        {tampered, pki.KeyTypes, "signature does not verify"},
		"RSA 1024":        {csrDER(t, rsa1024), pki.KeyTypes, "unsupported RSA key size 1024"},
		"P-224":           {csrDER(t, p224), pki.KeyTypes, "unsupported elliptic curve P-224"},
		"not allowed":     {good, []pki.KeyType{pki.KeyRSA3072}, "this certificate does not accept ecdsa-p256 keys"},
		"DSA (OpenSSL)":   {dsaCSR, pki.KeyTypes, "DSA keys are not supported"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, _, err := pki.ParseCSR(tc.data, tc.allowed)
			require.Error(t, err)
			assert.True(t, pki.IsCSRError(err), "a refusal the uploader can read: %v", err)
			assert.Contains(t, err.Error(), tc.want)
			assert.False(t, strings.Contains(err.Error(), "\n"))
			for _, internal := range []string{"asn1", "x509:", "structure error", "tags don't match"} {
				assert.NotContains(t, err.Error(), internal, "parser internals are for the log")
			}
		})
	}
}

func TestUnreadableCSRIsPlainWordsWithTheCauseKept(t *testing.T) {
	p256, err := pki.GenerateKey(pki.KeyECDSAP256)
	require.NoError(t, err)
	good := csrDER(t, p256)
	for name, data := range map[string][]byte{
		"garbage":        []byte("hello"),
		"truncated DER":  good[:len(good)/2],
		"PEM of garbage": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: []byte{0x30, 0x03, 0x02, 0x01, 0x01}}),
	} {
		_, _, err := pki.ParseCSR(data, pki.KeyTypes)
		require.Error(t, err, name)
		assert.Equal(t, "the file is not a certificate signing request (PEM or DER) that can be read", err.Error(), name)
		var csrErr *pki.CSRError
		require.ErrorAs(t, err, &csrErr, name)
		cause := errors.Unwrap(err)
		require.Error(t, cause, "the parser's error stays reachable: %s", name)
		assert.Contains(t, cause.Error(), "asn1", name)
		assert.Equal(t, csrErr.Message+": "+cause.Error(), csrErr.Detail(), name)
	}

	// A refusal with no parser error behind it has nothing more to log.
	_, _, err = pki.ParseCSR(nil, pki.KeyTypes)
	var csrErr *pki.CSRError
	require.ErrorAs(t, err, &csrErr)
	assert.NoError(t, errors.Unwrap(err))
	assert.Equal(t, csrErr.Message, csrErr.Detail())

	// A bad signature keeps the verifier's error.
	tampered := append([]byte(nil), good...)
	tampered[len(tampered)-5] ^= 0xff
	_, _, err = pki.ParseCSR(tampered, pki.KeyTypes)
	require.Error(t, err)
	assert.Error(t, errors.Unwrap(err))
}

func TestCSRWithAKeyOfAnUnknownKindIsRefusedInWords(t *testing.T) {
	p256, err := pki.GenerateKey(pki.KeyECDSAP256)
	require.NoError(t, err)
	der := csrDER(t, p256)
	// id-ecPublicKey (1.2.840.10045.2.1) becomes 1.2.840.10045.2.9, which
	// no parser knows: the request still parses, with no public key.
	ecPublicKey := []byte{0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01}
	require.Equal(t, 1, bytes.Count(der, ecPublicKey))
	unknown := bytes.Replace(der, ecPublicKey, append(ecPublicKey[:len(ecPublicKey)-1:len(ecPublicKey)-1], 0x09), 1)
	_, _, err = pki.ParseCSR(unknown, pki.KeyTypes)
	require.Error(t, err)
	assert.True(t, pki.IsCSRError(err))
	assert.Equal(t, "the request's key is of a kind that is not supported (use ECDSA or RSA 2048+)", err.Error())
}

func FuzzParseCSR(f *testing.F) {
	key, err := pki.GenerateKey(pki.KeyECDSAP256)
	require.NoError(f, err)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "x"}}, key)
	require.NoError(f, err)
	f.Add(der)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----"))
	f.Fuzz(func(t *testing.T, data []byte) {
		csr, _, err := pki.ParseCSR(data, pki.KeyTypes)
		if err == nil {
			require.NoError(t, csr.CheckSignature())
		} else {
			require.True(t, pki.IsCSRError(err), "every refusal is a CSRError: %v", err)
		}
	})
}
