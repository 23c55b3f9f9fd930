package main

import (
	"crypto/x509"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

// BenchmarkIssuance compares one full enrollment through the plugin (token
// check and claim, key generation, signing, PKCS#12, record, index, DM)
// with the floor: the same cryptography alone in one process. The gap is
// what the plugin's bookkeeping costs.
func BenchmarkIssuance(b *testing.B) {
	for _, kt := range []pki.KeyType{pki.KeyECDSAP256, pki.KeyRSA2048} {
		b.Run(string(kt)+"/floor", func(b *testing.B) {
			h, err := pki.GenerateHierarchy("bench", time.Now())
			require.NoError(b, err)
			ca := h.CA()
			for b.Loop() {
				key, err := pki.GenerateKey(kt)
				require.NoError(b, err)
				csr, err := pki.NewCSR(key, "alice", []string{"alice@example.com"})
				require.NoError(b, err)
				now := time.Now()
				cert, err := ca.Sign(csr.PublicKey, pki.LeafSpec{CommonName: "alice", Emails: []string{"alice@example.com"},
					NotBefore: now, NotAfter: now.Add(24 * time.Hour), ExtKeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
				require.NoError(b, err)
				_, err = pki.EncodePKCS12(pki.PKCS12Compatible, key, cert, ca.Chain, "passphrase")
				require.NoError(b, err)
			}
		})
		b.Run(string(kt)+"/plugin", func(b *testing.B) {
			env := newTestEnv(b)
			c := env.p.getConfiguration().Clone()
			c.KeyType = string(kt)
			env.configure(c)
			for b.Loop() {
				b.StopTimer()
				token := env.token("alice")
				b.StartTimer()
				w := env.request(http.MethodPost, "/issue", form(token), "", "Accept", "application/json")
				if w.Code != http.StatusOK {
					b.Fatal(w.Body.String())
				}
			}
		})
	}
}
