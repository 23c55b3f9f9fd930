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
	"github.com/clientcerts/mattermost-plugin-certs/server/pki/pkibench"
)

// BenchmarkIssuance compares one full enrollment through the plugin (token
// check and claim, key generation, signing, PKCS#12, record, index, DM)
// with the floor: the same cryptography alone in one process. The gap is
// what the plugin's bookkeeping costs. Enrollments go round 200 users, as
// the load tool's do, so that no owner's index grows past what people hold.
func BenchmarkIssuance(b *testing.B) {
	for _, kt := range []pki.KeyType{pki.KeyECDSAP256, pki.KeyRSA2048} {
		b.Run(string(kt)+"/floor", func(b *testing.B) {
			h, err := pki.GenerateHierarchy("bench", time.Now())
			require.NoError(b, err)
			ca := h.CA()
			for b.Loop() {
				_, err := pkibench.Floor(ca, kt, pki.PKCS12Compatible)
				require.NoError(b, err)
			}
		})
		b.Run(string(kt)+"/plugin", func(b *testing.B) {
			env := newTestEnv(b)
			c := env.p.getConfiguration().Clone()
			c.KeyType = string(kt)
			env.configure(c)
			users := env.addUsers("bench", 200)
			i := 0
			for b.Loop() {
				b.StopTimer()
				token := env.token(users[i%len(users)])
				i++
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
			require.NoError(b, pkibench.CSRFloor(ca, []byte(text)))
		}
	})
	b.Run("plugin", func(b *testing.B) {
		env := newTestEnv(b)
		users := env.addUsers("bench", 200)
		i := 0
		for b.Loop() {
			b.StopTimer()
			_, text := newCSR()
			body, err := json.Marshal(map[string]string{"csr": text})
			require.NoError(b, err)
			user := users[i%len(users)]
			i++
			b.StartTimer()
			w := env.request(http.MethodPost, "/api/v1/csr", string(body), user, "Content-Type", "application/json")
			if w.Code != http.StatusCreated {
				b.Fatal(w.Body.String())
			}
		}
	})
}
