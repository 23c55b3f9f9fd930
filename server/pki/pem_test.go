package pki_test

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.step.sm/crypto/pemutil"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

func TestCertificatesPEMRoundTrip(t *testing.T) {
	h := testHierarchy(t)
	leaf := signLeaf(t, h.CA(), p256Key(t).Public())
	certs := []*x509.Certificate{leaf, h.Issuing, h.Root}

	data := pki.EncodeCertificatesPEM(certs)
	assert.Equal(t, 3, strings.Count(string(data), "-----BEGIN CERTIFICATE-----"))

	parsed, err := pki.ParseCertificatesPEM(data)
	require.NoError(t, err)
	assert.Equal(t, rawOf(certs), rawOf(parsed), "certificates come back in order")

	// The reverse order stays reversed: the parser does not sort.
	reversed, err := pki.ParseCertificatesPEM(pki.EncodeCertificatesPEM([]*x509.Certificate{h.Root, h.Issuing}))
	require.NoError(t, err)
	assert.Equal(t, rawOf([]*x509.Certificate{h.Root, h.Issuing}), rawOf(reversed))
}

func TestEncodeCertificatesPEMEmpty(t *testing.T) {
	assert.Empty(t, pki.EncodeCertificatesPEM(nil))
}

func TestParseCertificatesPEMAcceptsWhitespace(t *testing.T) {
	h := testHierarchy(t)
	one := string(pki.EncodeCertificatesPEM([]*x509.Certificate{h.Issuing}))
	two := string(pki.EncodeCertificatesPEM([]*x509.Certificate{h.Root}))
	// Pasted into a settings field: CRLF line ends, blank lines, trailing space.
	data := "\n" + strings.ReplaceAll(one, "\n", "\r\n") + "\r\n\r\n" + two + "  \n\t\n"
	certs, err := pki.ParseCertificatesPEM([]byte(data))
	require.NoError(t, err)
	assert.Equal(t, rawOf([]*x509.Certificate{h.Issuing, h.Root}), rawOf(certs))
}

func TestParseCertificatesPEMRefuses(t *testing.T) {
	h := testHierarchy(t)
	cert := string(pki.EncodeCertificatesPEM([]*x509.Certificate{h.Issuing}))
	keyDER, err := x509.MarshalPKCS8PrivateKey(p256Key(t))
	require.NoError(t, err)
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	brokenCert := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER at all")}))
	truncated := cert[:len(cert)/2]

	tests := []struct {
		name    string
		data    string
		message string
	}{
		{"empty", "", "no PEM certificate"},
		{"blank", " \n\t\n", "no PEM certificate"},
		{"garbage", "this is not PEM", "no PEM certificate"},
		{"DER instead of PEM", string(h.Issuing.Raw), "no PEM certificate"},
		{"private key only", keyPEM, `"PRIVATE KEY"`},
		{"private key after a certificate", cert + keyPEM, `"PRIVATE KEY"`},
		{"private key before a certificate", keyPEM + cert, `"PRIVATE KEY"`},
		{"certificate request", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: []byte{1}})), `"CERTIFICATE REQUEST"`},
		{"trusted certificate", string(pem.EncodeToMemory(&pem.Block{Type: "TRUSTED CERTIFICATE", Bytes: h.Issuing.Raw})), `"TRUSTED CERTIFICATE"`},
		{"undecodable certificate", brokenCert, "parse certificate 1"},
		{"undecodable second certificate", cert + brokenCert, "parse certificate 2"},
		{"trailing garbage", cert + "garbage", "after the last certificate"},
		{"trailing truncated certificate", cert + truncated, "after the last certificate"},
		{"truncated certificate", truncated, "no PEM certificate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			certs, err := pki.ParseCertificatesPEM([]byte(tc.data))
			require.Error(t, err)
			assert.Nil(t, certs)
			assert.Contains(t, err.Error(), tc.message)
		})
	}
}

func TestParsePrivateKeyPEM(t *testing.T) {
	ecKey := p256Key(t).(*ecdsa.PrivateKey)
	rsaPriv := rsaKey(t).(*rsa.PrivateKey)

	pkcs8 := func(key crypto.Signer) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		require.NoError(t, err)
		return der
	}
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	require.NoError(t, err)

	tests := []struct {
		name  string
		block *pem.Block
		want  crypto.Signer
	}{
		{"PKCS#8 ECDSA", &pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8(ecKey)}, ecKey},
		{"PKCS#8 RSA", &pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8(rsaPriv)}, rsaPriv},
		{"PKCS#1 RSA", &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaPriv)}, rsaPriv},
		{"SEC 1 ECDSA", &pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}, ecKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := pem.EncodeToMemory(tc.block)
			got, err := pki.ParsePrivateKeyPEM(data)
			require.NoError(t, err)
			equal, ok := got.(interface{ Equal(crypto.PrivateKey) bool })
			require.True(t, ok)
			assert.True(t, equal.Equal(tc.want), "parsed key differs from the original")

			// Surrounding whitespace, as pasted into a settings field.
			got, err = pki.ParsePrivateKeyPEM([]byte("\r\n\n" + string(data) + "\n\n"))
			require.NoError(t, err)
			assert.True(t, pki.PublicKeysEqual(got.Public(), tc.want.Public()))
		})
	}
}

func TestParsePrivateKeyPEMRefuses(t *testing.T) {
	ecKey := p256Key(t)
	rsaPriv := rsaKey(t).(*rsa.PrivateKey)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(ecKey)
	require.NoError(t, err)

	//nolint:staticcheck // legacy encrypted PEM is exactly what must be refused
	encrypted, err := x509.EncryptPEMBlock(rand.Reader, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaPriv), []byte("secret"), x509.PEMCipherAES256)
	require.NoError(t, err)

	x25519, err := ecdh.X25519().GenerateKey(rand.Reader)
	require.NoError(t, err)
	x25519DER, err := x509.MarshalPKCS8PrivateKey(x25519)
	require.NoError(t, err)

	h := testHierarchy(t)
	block := func(typ string, der []byte) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
	}

	tests := []struct {
		name    string
		data    string
		message string
	}{
		{"empty", "", "no PEM private key"},
		{"garbage", "-----not a key-----", "no PEM private key"},
		{"bare DER", string(pkcs8), "no PEM private key"},
		{"legacy encrypted PEM", string(pem.EncodeToMemory(encrypted)), "encrypted"},
		{"encrypted PKCS#8", block("ENCRYPTED PRIVATE KEY", []byte{0x30, 0x00}), `"ENCRYPTED PRIVATE KEY"`},
		{"certificate", block("CERTIFICATE", h.Issuing.Raw), `"CERTIFICATE"`},
		{"public key", block("PUBLIC KEY", []byte{0x30, 0x00}), `"PUBLIC KEY"`},
		{"garbage PKCS#8", block("PRIVATE KEY", []byte("garbage")), "parse private key"},
		{"garbage PKCS#1", block("RSA PRIVATE KEY", []byte("garbage")), "parse private key"},
		{"garbage SEC 1", block("EC PRIVATE KEY", []byte("garbage")), "parse private key"},
		{"PKCS#1 labelled as SEC 1", block("EC PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaPriv)), "parse private key"},
		{"X25519 key cannot sign", block("PRIVATE KEY", x25519DER), "unsupported private key type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key, err := pki.ParsePrivateKeyPEM([]byte(tc.data))
			require.Error(t, err)
			assert.Nil(t, key)
			assert.Contains(t, err.Error(), tc.message)
		})
	}
}

func TestPrivateKeyDERRoundTrip(t *testing.T) {
	for _, key := range []crypto.Signer{p256Key(t), rsaKey(t)} {
		der, err := pki.MarshalPrivateKey(key)
		require.NoError(t, err)
		got, err := pki.ParsePrivateKeyDER(der)
		require.NoError(t, err)
		assert.True(t, pki.PublicKeysEqual(got.Public(), key.Public()))
	}
	_, err := pki.ParsePrivateKeyDER([]byte("garbage"))
	assert.Error(t, err)
	_, err = pki.ParsePrivateKeyDER(nil)
	assert.Error(t, err)
}

func TestFingerprint(t *testing.T) {
	h := testHierarchy(t)
	for _, cert := range []*x509.Certificate{h.Root, h.Issuing} {
		sum := sha256.Sum256(cert.Raw)
		fp := pki.Fingerprint(cert)
		assert.Equal(t, hex.EncodeToString(sum[:]), fp)
		assert.Len(t, fp, 64)
		assert.Equal(t, strings.ToLower(fp), fp)
	}
	assert.NotEqual(t, pki.Fingerprint(h.Root), pki.Fingerprint(h.Issuing))
}

func TestEncryptedPrivateKeyPEM(t *testing.T) {
	key, err := pki.GenerateKey(pki.KeyECDSAP256)
	require.NoError(t, err)
	data, err := pki.EncryptedPrivateKeyPEM(key, "correct horse")
	require.NoError(t, err)
	block, rest := pem.Decode(data)
	require.NotNil(t, block)
	assert.Empty(t, rest)
	assert.Equal(t, "ENCRYPTED PRIVATE KEY", block.Type)
	_, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	assert.Error(t, err, "not readable without the passphrase")

	der, err := pemutil.DecryptPKCS8PrivateKey(block.Bytes, []byte("correct horse"))
	require.NoError(t, err)
	back, err := x509.ParsePKCS8PrivateKey(der)
	require.NoError(t, err)
	assert.True(t, pki.PublicKeysEqual(key.Public(), back.(crypto.Signer).Public()))
	_, err = pemutil.DecryptPKCS8PrivateKey(block.Bytes, []byte("wrong"))
	assert.Error(t, err)
}

// The PEM copy is encrypted with PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC) at
// the PKCS#12 file's round count: its passphrase is random, and a default
// made for chosen passwords (600,000 rounds) would cost 80 enrollments.
func TestEncryptedPrivateKeyPEMParameters(t *testing.T) {
	key, err := pki.GenerateKey(pki.KeyECDSAP256)
	require.NoError(t, err)
	data, err := pki.EncryptedPrivateKeyPEM(key, "abcde-fghjk-mnpqr-stuvw-xyz23-45678")
	require.NoError(t, err)
	block, _ := pem.Decode(data)
	require.NotNil(t, block)

	var info struct {
		Algorithm struct {
			OID    asn1.ObjectIdentifier
			Params struct {
				KDF struct {
					OID    asn1.ObjectIdentifier
					Params struct {
						Salt       []byte
						Iterations int
						PRF        pkix.AlgorithmIdentifier `asn1:"optional"`
					}
				}
				Cipher struct {
					OID asn1.ObjectIdentifier
					IV  []byte
				}
			}
		}
		Data []byte
	}
	_, err = asn1.Unmarshal(block.Bytes, &info)
	require.NoError(t, err)
	assert.Equal(t, asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}, info.Algorithm.OID, "PBES2")
	assert.Equal(t, asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}, info.Algorithm.Params.KDF.OID, "PBKDF2")
	assert.Equal(t, 2048, info.Algorithm.Params.KDF.Params.Iterations)
	assert.Len(t, info.Algorithm.Params.KDF.Params.Salt, 16)
	assert.Equal(t, asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}, info.Algorithm.Params.KDF.Params.PRF.Algorithm, "HMAC-SHA256")
	assert.Equal(t, asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}, info.Algorithm.Params.Cipher.OID, "AES-256-CBC")
	assert.Len(t, info.Algorithm.Params.Cipher.IV, 16)
}

func TestPublicKeyFingerprintIsTheSameInCSRAndCertificate(t *testing.T) {
	key, err := pki.GenerateKey(pki.KeyECDSAP256)
	require.NoError(t, err)
	csr, err := pki.NewCSR(key, "alice", nil, nil)
	require.NoError(t, err)
	other, err := pki.GenerateKey(pki.KeyECDSAP256)
	require.NoError(t, err)

	fromKey, err := pki.PublicKeyFingerprint(key.Public())
	require.NoError(t, err)
	fromCSR, err := pki.PublicKeyFingerprint(csr.PublicKey)
	require.NoError(t, err)
	fromOther, err := pki.PublicKeyFingerprint(other.Public())
	require.NoError(t, err)
	assert.Equal(t, fromKey, fromCSR)
	assert.NotEqual(t, fromKey, fromOther)
	assert.Len(t, fromKey, 64)
}

// The PEM of certificates is sized before it is written: the size is
// exact, for certificates of every length round a line's end.
func TestCertificatesPEMSize(t *testing.T) {
	for _, derLen := range []int{1, 2, 3, 47, 48, 49, 95, 96, 97, 480, 1000} {
		cert := &x509.Certificate{Raw: bytes.Repeat([]byte{0x30}, derLen)}
		out := pki.EncodeCertificatesPEM([]*x509.Certificate{cert, cert})
		want := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
		assert.Equal(t, append(append([]byte{}, want...), want...), out, "DER of %d bytes", derLen)
		assert.Equal(t, len(out), cap(out), "DER of %d bytes: the buffer is the size of the blocks", derLen)
	}
}
