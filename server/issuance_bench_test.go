package main

import (
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki/pkibench"
)

// sideBySide runs the floor and the plugin's work in turns, one of each per
// iteration and each first every other time, so that both see the same
// machine: a shared machine's speed drifts by tens of percent within a
// minute, which would land on the ratio if they ran one after the other.
// It reports each per op and the plugin's as a multiple of the floor's.
// prepare makes what iteration i needs, off both clocks: the plugin's clock
// runs from where the server hands it a request to where it has answered.
func sideBySide(b *testing.B, prepare, floor, plugin func(i int)) {
	var floorTime, pluginTime time.Duration
	timed := func(total *time.Duration, work func(int), i int) {
		start := time.Now()
		work(i)
		*total += time.Since(start)
	}
	i := 0
	for b.Loop() {
		prepare(i)
		if i%2 == 0 {
			timed(&floorTime, floor, i)
			timed(&pluginTime, plugin, i)
		} else {
			timed(&pluginTime, plugin, i)
			timed(&floorTime, floor, i)
		}
		i++
	}
	b.ReportMetric(float64(floorTime.Nanoseconds())/float64(i), "floor-ns/op")
	b.ReportMetric(float64(pluginTime.Nanoseconds())/float64(i), "plugin-ns/op")
	b.ReportMetric(float64(pluginTime)/float64(floorTime), "x-floor")
}

// BenchmarkIssuance compares one full enrollment through the plugin (token
// check and claim, key generation, signing, PKCS#12, record, index, DM)
// with the floor: the same cryptography alone (pkibench.Floor). The gap is
// what the plugin's bookkeeping costs. Enrollments go round 200 users, as
// the load tool's do, so that no owner's index grows past what people hold.
func BenchmarkIssuance(b *testing.B) {
	for _, kt := range []pki.KeyType{pki.KeyECDSAP256, pki.KeyRSA2048} {
		b.Run(string(kt), func(b *testing.B) {
			h, err := pki.GenerateHierarchy("bench", time.Now())
			require.NoError(b, err)
			ca := h.CA()
			env := newTestEnv(b)
			c := env.p.getConfiguration().Clone()
			c.KeyType = string(kt)
			env.configure(c)
			users := env.addUsers("bench", 200)
			var (
				issue  *http.Request
				answer *httptest.ResponseRecorder
			)
			sideBySide(b,
				func(i int) {
					issue = env.newRequest(http.MethodPost, "/issue", form(env.token(users[i%len(users)])), "", "Accept", "application/json")
					answer = newAnswer()
				},
				func(int) {
					_, err := pkibench.Floor(ca, kt, pki.PKCS12Compatible)
					require.NoError(b, err)
				},
				func(int) {
					env.p.ServeHTTP(nil, answer, issue)
					if answer.Code != http.StatusOK {
						b.Fatal(answer.Body.String())
					}
				})
		})
	}
}

// BenchmarkCSRSigning compares signing an uploaded CSR through the plugin
// (JSON API: parse, checks, key claim, sign, record, index, DM) with the
// floor: parsing the CSR and signing it alone (pkibench.CSRFloor). The
// user's key is made off the clocks: it is the user's work, not the server's.
func BenchmarkCSRSigning(b *testing.B) {
	h, err := pki.GenerateHierarchy("bench", time.Now())
	require.NoError(b, err)
	ca := h.CA()
	env := newTestEnv(b)
	users := env.addUsers("bench", 200)
	var (
		csrPEM string
		upload *http.Request
		answer *httptest.ResponseRecorder
	)
	sideBySide(b,
		func(i int) {
			key, err := pki.GenerateKey(pki.KeyECDSAP256)
			require.NoError(b, err)
			csr, err := pki.NewCSR(key, "alice", nil, nil)
			require.NoError(b, err)
			csrPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr.Raw}))
			data, err := json.Marshal(map[string]string{"csr": csrPEM})
			require.NoError(b, err)
			upload = env.newRequest(http.MethodPost, "/api/v1/csr", string(data), users[i%len(users)], "Content-Type", "application/json")
			answer = newAnswer()
		},
		func(int) { require.NoError(b, pkibench.CSRFloor(ca, []byte(csrPEM))) },
		func(int) {
			env.p.ServeHTTP(nil, answer, upload)
			if answer.Code != http.StatusCreated {
				b.Fatal(answer.Body.String())
			}
		})
}

// newAnswer is where the plugin writes an answer in a benchmark: room for
// it is made beforehand, as the server's writer has it, so that the
// recorder's growing is not counted as the plugin's work.
func newAnswer() *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	w.Body.Grow(32 << 10)
	return w
}
