package main

import (
	"crypto/x509"
	"encoding/base64"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ocsp"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

// BenchmarkOCSP is the plugin's own work for one OCSP answer, from where
// the server hands it the request to the answer: its router, the lookup
// (in an in-memory inventory here), the signature or the answer signed
// before. As the load tool asks: half about good certificates, a quarter
// revoked, a quarter unknown, by GET and POST in turn.
func BenchmarkOCSP(b *testing.B) {
	env := newTestEnv(b)
	users := env.addUsers("bench", 40)
	s, err := env.p.current.Get()
	require.NoError(b, err)
	chain, err := s.Core.Connectors["builtin"].Chain(b.Context())
	require.NoError(b, err)
	var good, revoked, unknown [][]byte
	for i, u := range users {
		issued := env.issueJSON(env.token(u))
		certs, err := pki.ParseCertificatesPEM([]byte(issued.CertificatePEM))
		require.NoError(b, err)
		der, err := ocsp.CreateRequest(certs[0], chain[0], nil)
		require.NoError(b, err)
		if i%3 == 0 {
			require.Contains(b, env.run(u, "/cert revoke "+issued.Serial), "is now revoked")
			revoked = append(revoked, der)
			continue
		}
		good = append(good, der)
		der, err = ocsp.CreateRequest(&x509.Certificate{SerialNumber: big.NewInt(int64(i + 1))}, chain[0], nil)
		require.NoError(b, err)
		unknown = append(unknown, der)
	}
	i := 0
	for b.Loop() {
		var der []byte
		switch i % 4 {
		case 0, 1:
			der = good[(i/4)%len(good)]
		case 2:
			der = revoked[(i/4)%len(revoked)]
		default:
			der = unknown[(i/4)%len(unknown)]
		}
		var r *http.Request
		if i%2 == 0 {
			r = env.newRequest(http.MethodPost, "/ocsp", string(der), "", "Content-Type", "application/ocsp-request")
		} else {
			r = env.newRequest(http.MethodGet, "/ocsp/"+url.PathEscape(base64.StdEncoding.EncodeToString(der)), "", "")
		}
		w := httptest.NewRecorder()
		env.p.ServeHTTP(nil, w, r)
		if w.Code != http.StatusOK {
			b.Fatal(w.Body.String())
		}
		i++
	}
}
