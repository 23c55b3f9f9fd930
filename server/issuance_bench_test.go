package main

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
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

// BenchmarkCSRSigning compares signing an uploaded CSR through the plugin
// (JSON API: parse, checks, key claim, sign, record, index, DM) with the
// floor: parsing the CSR and signing it alone. The user's key is made
// outside the timer: it is the user's work, not the server's.
func BenchmarkCSRSigning(b *testing.B) {
	newCSR := func() (*x509.CertificateRequest, string) {
		key, err := pki.GenerateKey(pki.KeyECDSAP256)
		require.NoError(b, err)
		csr, err := pki.NewCSR(key, "alice", nil)
		require.NoError(b, err)
		return csr, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr.Raw}))
	}
	b.Run("floor", func(b *testing.B) {
		h, err := pki.GenerateHierarchy("bench", time.Now())
		require.NoError(b, err)
		ca := h.CA()
		for b.Loop() {
			b.StopTimer()
			_, text := newCSR()
			b.StartTimer()
			csr, _, err := pki.ParseCSR([]byte(text), pki.KeyTypes)
			require.NoError(b, err)
			now := time.Now()
			_, err = ca.Sign(csr.PublicKey, pki.LeafSpec{CommonName: "alice", Emails: []string{"alice@example.com"},
				NotBefore: now, NotAfter: now.Add(24 * time.Hour), ExtKeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
			require.NoError(b, err)
		}
	})
	b.Run("plugin", func(b *testing.B) {
		env := newTestEnv(b)
		for b.Loop() {
			b.StopTimer()
			_, text := newCSR()
			body, err := json.Marshal(map[string]string{"csr": text})
			require.NoError(b, err)
			b.StartTimer()
			w := env.request(http.MethodPost, "/api/v1/csr", string(body), "alice", "Content-Type", "application/json")
			if w.Code != http.StatusCreated {
				b.Fatal(w.Body.String())
			}
		}
	})
}
