//go:build e2e

package main

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki/pkibench"
)

// load runs the scenarios against one target.
type load struct {
	o        options
	t        *target
	accounts []*account
	// all holds accounts beyond -users for the burst's other user.
	all []*account
	// local are the portal's local accounts (see localAccounts), made
	// once for the portal flow and the sign-in flood.
	localOnce     sync.Once
	local         []*account
	localErr      error
	localSignedIn bool
}

// errorLog keeps a count and the first few distinct errors.
type errorLog struct {
	mu    sync.Mutex
	count int
	first []string
}

func (e *errorLog) merge(o *errorLog) {
	o.mu.Lock()
	count, first := o.count, append([]string(nil), o.first...)
	o.mu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.count += count
	for _, msg := range first {
		if len(e.first) < 5 {
			e.first = append(e.first, msg)
		}
	}
}

func (e *errorLog) add(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.count++
	if len(e.first) < 5 {
		e.first = append(e.first, err.Error())
	}
}

// opStats is one kind of request, measured.
type opStats struct {
	name     string
	requests int
	cpu      cpuSample // per request
	latency  *latencies
	errors   *errorLog
}

// baselineStats is the platform's own cost, measured beside the flows.
type baselineStats struct {
	noop, post opStats
	// floors are the CPU of one enrollment's cryptography in this process,
	// per key type; csrFloor that of parsing and signing a CSR.
	floors   map[pki.KeyType]time.Duration
	csrFloor time.Duration
	// rounds is how many measurements are merged into these figures.
	rounds int
}

// weighted is the mean of two per-item figures over n and m items.
func weighted[T ~int64](a T, n int, b T, m int) T {
	if n+m == 0 {
		return 0
	}
	return (a*T(n) + b*T(m)) / T(n+m)
}

func (s cpuSample) weighted(n int, o cpuSample, m int) cpuSample {
	return cpuSample{
		mattermost: weighted(s.mattermost, n, o.mattermost, m),
		plugin:     weighted(s.plugin, n, o.plugin, m),
		postgres:   weighted(s.postgres, n, o.postgres, m),
	}
}

// merge adds another measurement of the same kind of request.
func (st *opStats) merge(o opStats) {
	if st.latency == nil {
		*st = o
		return
	}
	st.cpu = st.cpu.weighted(st.requests, o.cpu, o.requests)
	st.requests += o.requests
	st.latency.d = append(st.latency.d, o.latency.d...)
	st.errors.merge(o.errors)
}

// merge adds another round of baselines.
func (b *baselineStats) merge(o *baselineStats) {
	b.noop.merge(o.noop)
	b.post.merge(o.post)
	for kt, d := range o.floors {
		b.floors[kt] = weighted(b.floors[kt], b.rounds, d, 1)
	}
	b.csrFloor = weighted(b.csrFloor, b.rounds, o.csrFloor, 1)
	b.rounds++
}

// platform is what the platform itself charges for the requests of one
// certificate: two plugin requests, one DM post, and the cryptography.
func (b *baselineStats) platform(floor time.Duration) time.Duration {
	return 2*b.noop.cpu.total() + b.post.cpu.total() + floor
}

// baselines measures n no-op plugin requests, n DM posts and the floors.
func (l *load) baselines(ctx context.Context, n int) *baselineStats {
	fmt.Printf("Baseline: %d no-op plugin requests, %d DM posts, and the floor in this process\n", n, n)
	b := &baselineStats{floors: map[pki.KeyType]time.Duration{}, rounds: 1}
	b.noop = l.measureOp(ctx, "no-op plugin request (GET /api/v1/profiles)", n, func(a *account) error {
		return l.t.srv.noopPluginRequest(ctx, a)
	})
	b.post = l.measureOp(ctx, "DM post (POST /api/v4/posts)", n, func(a *account) error {
		return l.t.srv.directPost(ctx, a)
	})
	h, err := pki.GenerateHierarchy("floor", time.Now())
	if err != nil {
		panic(err)
	}
	ca := h.CA()
	for _, kt := range []pki.KeyType{pki.KeyECDSAP256, pki.KeyRSA2048, pki.KeyType(l.o.keyType)} {
		if _, done := b.floors[kt]; done {
			continue
		}
		rounds := 100
		if kt.IsRSA() {
			// RSA keys vary widely in generation time: more rounds would
			// only take longer, not make the mean much steadier.
			rounds = 10
		}
		b.floors[kt] = cpuPerRound(rounds, func() error {
			_, err := pkibench.Floor(ca, kt, pki.PKCS12Compatible)
			return err
		})
	}
	csr, err := newUserCSR(pki.KeyECDSAP256, "alice")
	if err != nil {
		panic(err)
	}
	b.csrFloor = cpuPerRound(100, func() error { return pkibench.CSRFloor(ca, []byte(csr.pem)) })
	return b
}

// cpuPerRound is the CPU this process spends per call of fn, run alone.
func cpuPerRound(rounds int, fn func() error) time.Duration {
	start := ownCPU()
	for range rounds {
		if err := fn(); err != nil {
			panic(err)
		}
	}
	return (ownCPU() - start) / time.Duration(rounds)
}

// warmUp brings a fresh server to its steady state before anything is
// measured: connections, caches, and PostgreSQL's statistics of the tables
// that posts and plugin records fill (the first few hundred writes to a new
// database cost up to twice what later ones do).
func (l *load) warmUp(ctx context.Context) {
	n := l.o.warmup
	fmt.Printf("Warm-up: %d certificates, DM posts and no-op plugin requests\n", n)
	l.measureOp(ctx, "warm-up", n, func(a *account) error { return l.t.srv.noopPluginRequest(ctx, a) })
	l.measureOp(ctx, "warm-up", n, func(a *account) error { return l.t.srv.directPost(ctx, a) })
	l.measureOp(ctx, "warm-up", n, func(a *account) error {
		token, err := l.t.srv.linkViaAPI(ctx, a, kindDownload, l.t.profiles[pki.KeyType(l.o.keyType)])
		if err == nil {
			_, err = l.t.srv.redeem(ctx, a, token)
		}
		return err
	})
}

// measureOp runs n requests of one kind, C at once, round the accounts.
func (l *load) measureOp(ctx context.Context, name string, n int, op func(*account) error) opStats {
	st := opStats{name: name, requests: n, latency: &latencies{}, errors: &errorLog{}}
	before := l.t.meter.sample()
	runAll(n, l.o.concurrency, func(i int) {
		if ctx.Err() != nil {
			return
		}
		start := time.Now()
		if err := op(l.accounts[i%len(l.accounts)]); err != nil {
			st.errors.add(err)
			return
		}
		st.latency.add(time.Since(start))
	})
	st.cpu = l.t.meter.sample().sub(before).div(n)
	return st
}

// flowSpec is one load run.
type flowSpec struct {
	keyType pki.KeyType
	path    linkKind
	via     string
	certs   int
	// prime is how many certificates go first, unmeasured, to warm this
	// path's connections and caches.
	prime int
}

func (s flowSpec) String() string {
	what := "server key, PKCS#12"
	if s.path == kindCSR {
		what = "CSR upload"
	}
	how := "links API"
	switch s.via {
	case "command":
		how = "/cert " + string(s.path) + " command"
	case "portal":
		how = "portal, a local account signed in"
	}
	return fmt.Sprintf("%s, %s, %s", s.keyType.Label(), what, how)
}

// flowStats is one load run, measured and checked.
type flowStats struct {
	spec        flowSpec
	concurrency int
	users       int
	issued      int
	wall        time.Duration
	whole       *latencies // link + redeem
	redeem      *latencies // the POST that makes the certificate
	errors      *errorLog
	cpu         cpuSample // per certificate
	// ownCPU is the load tool's own CPU per certificate; busy and steal
	// the share of the machine's CPU time that was busy, or given by the
	// hypervisor to other machines, meanwhile.
	ownCPU      time.Duration
	busy, steal float64
	// checkErrors and unlisted count certificates that did not open right
	// or that their owner's list lacks.
	checkErrors *errorLog
	unlisted    int
	listErrors  *errorLog
}

// merge adds another part of the same flow.
func (f *flowStats) merge(o *flowStats) {
	f.cpu = f.cpu.weighted(f.issued, o.cpu, o.issued)
	f.ownCPU = weighted(f.ownCPU, f.issued, o.ownCPU, o.issued)
	f.busy = (f.busy*f.wall.Seconds() + o.busy*o.wall.Seconds()) / (f.wall + o.wall).Seconds()
	f.steal = (f.steal*f.wall.Seconds() + o.steal*o.wall.Seconds()) / (f.wall + o.wall).Seconds()
	f.issued += o.issued
	f.spec.certs += o.spec.certs
	f.wall += o.wall
	f.whole.d = append(f.whole.d, o.whole.d...)
	f.redeem.d = append(f.redeem.d, o.redeem.d...)
	f.errors.merge(o.errors)
	f.checkErrors.merge(o.checkErrors)
	f.listErrors.merge(o.listErrors)
	f.unlisted += o.unlisted
}

// interleaved runs flows and the baselines in turns, rounds times, so that
// all see the same machine: a shared machine's speed drifts by tens of
// percent from minute to minute, which would otherwise land on the ratios.
// A flow's prime goes before its first part only.
func (l *load) interleaved(ctx context.Context, specs []flowSpec, rounds int) ([]*flowStats, *baselineStats) {
	flows := make([]*flowStats, len(specs))
	var base *baselineStats
	for r := range rounds {
		if ctx.Err() != nil {
			break
		}
		b := l.baselines(ctx, l.o.baseline/rounds+boolInt(r < l.o.baseline%rounds))
		if base == nil {
			base = b
		} else {
			base.merge(b)
		}
		for i, spec := range specs {
			if ctx.Err() != nil {
				break
			}
			part := spec
			if r > 0 {
				part.prime = 0
			}
			part.certs = spec.certs/rounds + boolInt(r < spec.certs%rounds)
			f := l.flow(ctx, part)
			if flows[i] == nil {
				flows[i] = f
				continue
			}
			flows[i].merge(f)
		}
	}
	var done []*flowStats
	for _, f := range flows {
		if f != nil {
			done = append(done, f)
		}
	}
	return done, base
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (f *flowStats) perSecond() float64 {
	if f.wall <= 0 {
		return 0
	}
	return float64(f.issued) / f.wall.Seconds()
}

// flow runs spec: warm-up, then the timed certificates, then the checks.
func (l *load) flow(ctx context.Context, spec flowSpec) *flowStats {
	accounts := l.accounts
	if spec.via == "portal" {
		local, err := l.localAccounts(ctx, true)
		if err != nil {
			failed := &errorLog{}
			failed.add(fmt.Errorf("the portal's local accounts: %w", err))
			return &flowStats{spec: spec, concurrency: l.o.concurrency, whole: &latencies{}, redeem: &latencies{},
				errors: failed, checkErrors: &errorLog{}, listErrors: &errorLog{}}
		}
		accounts = local
	}
	fmt.Printf("Load: %d certificates (%s), %d at once, %d users\n", spec.certs, spec, l.o.concurrency, len(accounts))
	profile := l.t.profiles[spec.keyType]
	csrs := make([]userCSR, spec.certs+spec.prime)
	if spec.path == kindCSR {
		for i := range csrs {
			csr, err := newUserCSR(spec.keyType, accounts[i%len(accounts)].name)
			if err != nil {
				panic(err)
			}
			csrs[i] = csr
		}
	}
	one := func(i int, a *account) (*certificate, time.Duration, error) {
		var token string
		var err error
		switch spec.via {
		case "command":
			token, err = l.t.srv.linkViaCommand(ctx, a, spec.path, profile)
		case "portal":
			token, err = l.t.srv.linkViaPortal(ctx, a, profile)
		default:
			token, err = l.t.srv.linkViaAPI(ctx, a, spec.path, profile)
		}
		if err != nil {
			return nil, 0, err
		}
		start := time.Now()
		var c *certificate
		if spec.via == "portal" {
			c, err = l.t.srv.redeemPortal(ctx, a, token)
		} else if spec.path == kindCSR {
			c, err = l.t.srv.uploadCSR(ctx, a, token, csrs[i].key, csrs[i].pem)
		} else {
			c, err = l.t.srv.redeem(ctx, a, token)
		}
		return c, time.Since(start), err
	}

	warm := &errorLog{}
	runAll(spec.prime, l.o.concurrency, func(i int) {
		if _, _, err := one(spec.certs+i, accounts[i%len(accounts)]); err != nil {
			warm.add(err)
		}
	})

	f := &flowStats{spec: spec, concurrency: l.o.concurrency, users: len(accounts),
		whole: &latencies{}, redeem: &latencies{}, errors: warm, checkErrors: &errorLog{}, listErrors: &errorLog{}}
	certs := make([]*certificate, spec.certs)
	var issued atomic.Int32
	before, ownBefore, busyBefore := l.t.meter.sample(), ownCPU(), readUtilization()
	f.wall = runAll(spec.certs, l.o.concurrency, func(i int) {
		if ctx.Err() != nil {
			return
		}
		start := time.Now()
		c, redeemTime, err := one(i, accounts[i%len(accounts)])
		if err != nil {
			f.errors.add(err)
			return
		}
		f.whole.add(time.Since(start))
		f.redeem.add(redeemTime)
		certs[i] = c
		issued.Add(1)
	})
	f.issued = int(issued.Load())
	f.cpu = l.t.meter.sample().sub(before).div(f.issued)
	f.busy, f.steal = readUtilization().since(busyBefore)
	if f.issued > 0 {
		f.ownCPU = (ownCPU() - ownBefore) / time.Duration(f.issued)
	}

	l.check(ctx, f, certs)
	return f
}

// check opens every certificate and looks for it in its owner's list.
func (l *load) check(ctx context.Context, f *flowStats, certs []*certificate) {
	byOwner := map[*account][]*certificate{}
	for _, c := range certs {
		if c == nil {
			continue
		}
		if err := c.check(); err != nil {
			f.checkErrors.add(err)
		}
		byOwner[c.account] = append(byOwner[c.account], c)
	}
	owners := make([]*account, 0, len(byOwner))
	for a := range byOwner {
		owners = append(owners, a)
	}
	sort.Slice(owners, func(i, j int) bool { return owners[i].name < owners[j].name })
	var mu sync.Mutex
	runAll(len(owners), l.o.concurrency, func(i int) {
		a := owners[i]
		listed, err := l.t.srv.listedSerials(ctx, a)
		if err != nil {
			f.listErrors.add(err)
			return
		}
		for _, c := range byOwner[a] {
			if !listed[pki.NormalizeSerial(c.serial)] {
				mu.Lock()
				f.unlisted++
				mu.Unlock()
			}
		}
	})
}

// burstStats is what happened while many RSA-4096 requests arrived at once.
type burstStats struct {
	requests    int
	issued      int
	busy        int
	errors      *errorLog
	wall        time.Duration
	busyRetried int // busy links redeemed afterwards, all of which must work
	retryErrors *errorLog
	// fast are the P-256 enrollments (link and certificate) of another
	// user during the burst; pings the server's ping meanwhile.
	fast, pings *latencies
	fastErrors  *errorLog
	pingErrors  *errorLog
}

// burstRetries is how many links turned away as busy are redeemed again
// afterwards, to prove they were not used up (each costs an RSA-4096 key).
const burstRetries = 3

// burst sends l.o.burst RSA-4096 enrollments at once, each for its own
// user, and meanwhile enrolls another user with P-256 again and again and
// pings the server.
func (l *load) burst(ctx context.Context) *burstStats {
	n := l.o.burst
	fmt.Printf("Burst: %d RSA-4096 enrollments at once, P-256 enrollments and pings meanwhile\n", n)
	b := &burstStats{requests: n, errors: &errorLog{}, retryErrors: &errorLog{}, fast: &latencies{}, pings: &latencies{},
		fastErrors: &errorLog{}, pingErrors: &errorLog{}}
	rsaProfile := l.t.profiles[pki.KeyRSA4096]
	tokens := make([]string, n)
	for i := range tokens {
		token, err := l.t.srv.linkViaAPI(ctx, l.all[i], kindDownload, rsaProfile)
		if err != nil {
			b.errors.add(err)
			return b
		}
		tokens[i] = token
	}
	other := l.all[n]

	stop := l.meanwhile(ctx, other, b.fast, b.pings, b.fastErrors, b.pingErrors)

	var busyLinks []int // indexes into tokens and l.all
	var mu sync.Mutex
	gate := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	for i, token := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			_, err := l.t.srv.redeem(ctx, l.all[i], token)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				b.issued++
			case busy(err):
				b.busy++
				busyLinks = append(busyLinks, i)
			default:
				b.errors.add(err)
			}
		}()
	}
	close(gate)
	wg.Wait()
	b.wall = time.Since(start)
	stop()

	for n, i := range busyLinks[:min(burstRetries, len(busyLinks))] {
		if _, err := l.t.srv.redeem(ctx, l.all[i], tokens[i]); err != nil {
			b.retryErrors.add(fmt.Errorf("busy link %d, redeemed again: %w", n+1, err))
			continue
		}
		b.busyRetried++
	}
	return b
}

// meanwhile pings the server every 100 ms and has other enroll with P-256
// again and again, into the given logs, while something else loads the
// server; stop ends both and waits for them.
func (l *load) meanwhile(ctx context.Context, other *account, fast, pings *latencies, fastErrors, pingErrors *errorLog) (stop func()) {
	done := make(chan struct{})
	var side sync.WaitGroup
	side.Go(func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
			}
			start := time.Now()
			if err := l.t.srv.ping(ctx); err != nil {
				pingErrors.add(err)
				continue
			}
			pings.add(time.Since(start))
		}
	})
	side.Go(func() {
		// Let the load arrive first, then enroll while it lasts.
		time.Sleep(100 * time.Millisecond)
		for {
			start := time.Now()
			token, err := l.t.srv.linkViaAPI(ctx, other, kindDownload, l.t.profiles[pki.KeyECDSAP256])
			if err == nil {
				_, err = l.t.srv.redeem(ctx, other, token)
			}
			if err != nil {
				fastErrors.add(err)
			} else {
				fast.add(time.Since(start))
			}
			select {
			case <-done:
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	})
	return func() {
		close(done)
		side.Wait()
	}
}
