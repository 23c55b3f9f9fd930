//go:build e2e

package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

func TestGoBenchSummary(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bench.txt")
	require.NoError(t, os.WriteFile(path, []byte(`goos: linux
BenchmarkIssuance/ecdsa-p256-2   300  5000000 ns/op  2400000 floor-ns/op  2600000 plugin-ns/op  1.08 x-floor  400000 B/op
BenchmarkIssuance/ecdsa-p256-2   300  5000000 ns/op  2500000 floor-ns/op  2900000 plugin-ns/op  1.16 x-floor  400000 B/op
BenchmarkIssuance/ecdsa-p256-2   300  5000000 ns/op  2300000 floor-ns/op  2500000 plugin-ns/op  1.09 x-floor  400000 B/op
BenchmarkSignLeaf-2   7000  200000 ns/op  21408 B/op  369 allocs/op
PASS
`), 0o644))
	r := &report{o: options{goBench: path}}
	var b bytes.Buffer
	r.printGoBench(&b)
	assert.Contains(t, b.String(), "| Issuance/ecdsa-p256 | 2.6 ms | 2.4 ms | 1.09× |", b.String())
	assert.Contains(t, b.String(), "| SignLeaf | 0.2 ms | | |")
	require.Len(t, r.checks, 1)
	assert.True(t, r.checks[0].ok, "the median ratio 1.09 is within 1.15")
}

func TestMedian(t *testing.T) {
	assert.Equal(t, 0.0, median(nil))
	assert.Equal(t, 2.0, median([]float64{3, 1, 2}))
	assert.Equal(t, 2.5, median([]float64{4, 1, 3, 2}), "an even count has the mean of its middle two")
}

func TestPercentiles(t *testing.T) {
	l := &latencies{}
	for i := 1; i <= 100; i++ {
		l.add(time.Duration(i) * time.Millisecond)
	}
	assert.Equal(t, 50*time.Millisecond, l.percentile(50))
	assert.Equal(t, 95*time.Millisecond, l.percentile(95))
	assert.Equal(t, 100*time.Millisecond, l.percentile(100))
	assert.Equal(t, time.Duration(0), (&latencies{}).percentile(95))
}

// The meter reads this very process's tree: its CPU only grows.
func TestCPUMeterReadsProc(t *testing.T) {
	st, err := readProcStat(os.Getpid())
	require.NoError(t, err)
	assert.Equal(t, os.Getppid(), st.ppid)
	m := cpuMeter{mattermostPID: os.Getppid()}
	before := m.sample()
	deadline := time.Now().Add(300 * time.Millisecond)
	for x := 0; time.Now().Before(deadline); x++ {
		_ = strings.Repeat("x", x%64)
	}
	after := m.sample()
	assert.GreaterOrEqual(t, after.plugin, before.plugin, "this process is a child of its parent")
	assert.Positive(t, after.plugin, "a busy child has used some CPU")
	busy, steal, all := machineBusy()
	assert.Positive(t, all)
	assert.LessOrEqual(t, busy+steal, all)
}

func TestRevocationRowsAndTargets(t *testing.T) {
	lat := &latencies{}
	for i := 1; i <= 100; i++ {
		lat.add(time.Duration(i) * time.Millisecond)
	}
	st := &revocationStats{
		name: "OCSP (POST and GET)", population: "200 certificates", mix: "half good", concurrency: 20,
		requests: 1000, answered: 1000, checked: 1000, wall: 2 * time.Second, latency: lat,
		errors: &errorLog{}, wrong: &errorLog{}, target: 500,
		cpu:  cpuSample{mattermost: time.Millisecond, plugin: time.Millisecond},
		noop: opStats{cpu: cpuSample{mattermost: time.Millisecond}},
	}
	r := &report{revocation: []*revocationStats{st}}
	var b bytes.Buffer
	r.print(&b)
	assert.Contains(t, b.String(), "| OCSP (POST and GET) | 1000, 20 at once | 500.0 | 50.0 ms | 95.0 ms | 99.0 ms | 0 | 0 of 1000 | 2.0 ms (1.0 ms + 1.0 ms + 0.0 ms) | 2.00× |", b.String())
	require.Len(t, r.checks, 2)
	assert.True(t, r.checks[0].ok && r.checks[1].ok)
	require.NoError(t, r.failed())

	st.wrong.add(errors.New("serial 1: status 0, want 1"))
	st.wall = 4 * time.Second
	b.Reset()
	r.print(&b)
	assert.Contains(t, b.String(), "**1 of 1000**")
	assert.False(t, r.checks[0].ok, "250 a second misses 500")
	assert.False(t, r.checks[1].ok)
	assert.Error(t, r.failed(), "a wrong answer fails the run")
}

func TestSignInFloodBoundAndTargets(t *testing.T) {
	assert.Equal(t, 22, policyChecks(10*time.Second), "20 free, one after 2 s, one 4 s later; the next would be at 14 s")
	fast, pings := &latencies{}, &latencies{}
	for range 10 {
		fast.add(40 * time.Millisecond)
		pings.add(2 * time.Millisecond)
	}
	s := &signInStats{rate: 200, duration: 10 * time.Second, sent: 2000, unauthorized: 22, throttled: 1978,
		other: &errorLog{}, answers: &latencies{}, checked: &latencies{}, fast: fast, pings: pings, fastErrors: &errorLog{}, pingErrors: &errorLog{}}
	assert.Equal(t, 22, s.bound(), "each attempt is counted as it is admitted: no more than the policy's")
	r := &report{signIn: s}
	var b bytes.Buffer
	r.print(&b)
	assert.Contains(t, b.String(), "| Answered 429 (the throttle, with Retry-After) | 1978 (98.9% of the answers)", b.String())
	require.Len(t, r.checks, 4)
	for _, c := range r.checks {
		assert.True(t, c.ok, c.target)
	}
	require.NoError(t, r.failed())

	s.unauthorized, s.throttled = 400, 0
	for range 1600 {
		s.other.add(errors.New("POST /portal/signin: 500"))
	}
	b.Reset()
	r.print(&b)
	assert.False(t, r.checks[2].ok, "400 passwords checked is over the bound")
	assert.False(t, r.checks[3].ok, "no 429 at all")
	assert.Error(t, r.failed(), "a 500 fails the run")
}

func TestPortalHeldToTheLinksAPI(t *testing.T) {
	flow := func(via string, cpu time.Duration, wall time.Duration) *flowStats {
		return &flowStats{spec: flowSpec{keyType: "ecdsa-p256", path: kindDownload, via: via, certs: 100}, concurrency: 20, users: 40,
			issued: 100, wall: wall, whole: &latencies{}, redeem: &latencies{}, errors: &errorLog{}, checkErrors: &errorLog{}, listErrors: &errorLog{},
			cpu: cpuSample{plugin: cpu}}
	}
	r := &report{
		flows: []*flowStats{flow("api", 16*time.Millisecond, time.Second), flow("portal", 20*time.Millisecond, 1100*time.Millisecond)},
		baselines: &baselineStats{
			noop:   opStats{cpu: cpuSample{mattermost: time.Millisecond}, latency: &latencies{}, errors: &errorLog{}},
			post:   opStats{cpu: cpuSample{mattermost: 10 * time.Millisecond}, latency: &latencies{}, errors: &errorLog{}},
			floors: map[pki.KeyType]time.Duration{pki.KeyECDSAP256: 3 * time.Millisecond},
		},
	}
	var b bytes.Buffer
	r.print(&b)
	var portal []check
	for _, c := range r.checks {
		if strings.Contains(c.target, "ortal") {
			portal = append(portal, c)
		}
	}
	require.Len(t, portal, 3, b.String())
	assert.Equal(t, "20.0 ms against 16.0 ms: 1.25×", portal[1].measured)
	assert.True(t, portal[1].ok)
	assert.Equal(t, "90.9 against 100.0: 91%", portal[2].measured)
	assert.True(t, portal[2].ok)

	r.flows[1].wall = 2 * time.Second
	r.print(&b)
	assert.False(t, r.checks[2].ok, "half of chat's certificates a second misses 80%")
}
