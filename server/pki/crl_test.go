package pki_test

import (
	"crypto"
	"crypto/ed25519"
	"crypto/x509"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

// randomRevocations are entries of every shape a list carries: serials of
// all sizes (with the high bit set or not, so that some need a leading
// zero), every reason code the plugin writes (0 writes no extension), and
// times on both sides of 2050, where UTCTime gives way to GeneralizedTime.
func randomRevocations(n int, seed uint64) []pki.Revoked {
	r := rand.New(rand.NewPCG(seed, seed))
	out := make([]pki.Revoked, n)
	for i := range out {
		serial := make([]byte, 1+r.IntN(20))
		for j := range serial {
			serial[j] = byte(r.UintN(256))
		}
		serial[0] |= 1 // positive and non-zero
		at := testNow.Add(-time.Duration(r.IntN(1000)) * time.Hour)
		if i%7 == 0 {
			at = time.Date(2050+r.IntN(3), 1, 1, 0, 0, r.IntN(60), 0, time.UTC)
		}
		out[i] = pki.Revoked{Serial: new(big.Int).SetBytes(serial), RevokedAt: at, ReasonCode: []int{0, 1, 3, 4, 5}[r.IntN(5)]}
	}
	return out
}

// stdlibCRL is the list x509.CreateRevocationList makes of the same entries.
func stdlibCRL(t *testing.T, ca *pki.CA, number int64, revoked []pki.Revoked, thisUpdate, nextUpdate time.Time) *x509.RevocationList {
	t.Helper()
	entries := make([]x509.RevocationListEntry, len(revoked))
	for i, r := range revoked {
		entries[i] = x509.RevocationListEntry{SerialNumber: r.Serial, RevocationTime: r.RevokedAt, ReasonCode: r.ReasonCode}
	}
	der, err := x509.CreateRevocationList(nil, &x509.RevocationList{
		Number: big.NewInt(number), ThisUpdate: thisUpdate, NextUpdate: nextUpdate, RevokedCertificateEntries: entries,
	}, ca.Certificate, ca.Signer)
	require.NoError(t, err)
	list, err := x509.ParseRevocationList(der)
	require.NoError(t, err)
	return list
}

func TestSignCRLIsWhatTheStandardLibrarySignsByteForByte(t *testing.T) {
	h := testHierarchy(t)
	rsa := rsaKey(t)
	rsaCA, err := pki.NewCA([]*x509.Certificate{customCert(t, caCertTemplate("RSA CA", x509.KeyUsageCertSign|x509.KeyUsageCRLSign), rsa.Public(), nil, rsa)}, rsa, testNow)
	require.NoError(t, err)
	_, edKey, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	edCA, err := pki.NewCA([]*x509.Certificate{customCert(t, caCertTemplate("Ed25519 CA", x509.KeyUsageCertSign|x509.KeyUsageCRLSign), edKey.Public(), nil, edKey)}, edKey, testNow)
	require.NoError(t, err)

	for name, ca := range map[string]*pki.CA{"ECDSA P-256": h.CA(), "RSA": rsaCA, "Ed25519": edCA} {
		for _, n := range []int{0, 1, 2, 300} {
			t.Run(name, func(t *testing.T) {
				revoked := randomRevocations(n, uint64(n)+1)
				thisUpdate, nextUpdate := testNow, testNow.Add(7*24*time.Hour)
				der, err := ca.SignCRL(42, revoked, thisUpdate, nextUpdate)
				require.NoError(t, err)

				list, err := x509.ParseRevocationList(der)
				require.NoError(t, err)
				require.NoError(t, list.CheckSignatureFrom(ca.Certificate))
				want := stdlibCRL(t, ca, 42, revoked, thisUpdate, nextUpdate)
				assert.Equal(t, want.RawTBSRevocationList, list.RawTBSRevocationList)
				assert.Equal(t, want.SignatureAlgorithm, list.SignatureAlgorithm)
				assert.Equal(t, big.NewInt(42), list.Number)
				require.Len(t, list.RevokedCertificateEntries, n)
				for i, entry := range list.RevokedCertificateEntries {
					assert.Equal(t, revoked[i].Serial, entry.SerialNumber)
					assert.Equal(t, revoked[i].ReasonCode, entry.ReasonCode)
					assert.True(t, revoked[i].RevokedAt.Equal(entry.RevocationTime))
				}
			})
		}
	}
}

// wrongSigner signs with a key that is not the CA's.
type wrongSigner struct{ crypto.Signer }

func TestSignCRLRefusesASignerThatIsNotTheCAs(t *testing.T) {
	h := testHierarchy(t)
	ca := *h.CA()
	other := p256Key(t)
	ca.Signer = wrongSigner{other}
	_, err := ca.SignCRL(1, randomRevocations(3, 9), testNow, testNow.Add(time.Hour))
	require.Error(t, err)
}

func BenchmarkSignCRL(b *testing.B) {
	h := testHierarchy(b)
	for _, n := range []int{10_000, 100_000} {
		revoked := randomRevocations(n, 7)
		b.Run(big.NewInt(int64(n)).String(), func(b *testing.B) {
			for b.Loop() {
				der, err := h.CA().SignCRL(1, revoked, testNow, testNow.Add(time.Hour))
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(der)))
			}
		})
	}
}
