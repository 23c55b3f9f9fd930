//go:build e2e

package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

// Targets the figures are held to (P-256, built-in CA).
const (
	// A certificate through Mattermost costs at most this many times the
	// platform's own cost of the same requests.
	targetPlatformRatio = 1.3
	targetPerSecond     = 100
	targetP95           = 350 * time.Millisecond
	// The in-process enrollment costs at most this many times its floor.
	targetFloorRatio = 1.15
	// During the RSA burst, another user's P-256 enrollment takes at most
	// this long.
	targetFastDuringBurst = time.Second
	// A signed-in portal person's P-256 certificate costs at most this
	// many times the CPU of the same certificate through chat's links API,
	// and the portal makes at least this share of chat's certificates a
	// second, measured in the same turns.
	targetPortalCPURatio       = 1.3
	targetPortalPerSecondRatio = 0.8
	// During the sign-in flood, at least this share of the attempts is
	// answered by the throttle (429).
	targetThrottledShare = 0.95
)

type report struct {
	o          options
	machine    string
	goVersion  string
	mattermost string
	started    time.Time

	baselines *baselineStats
	flows     []*flowStats
	burst     *burstStats
	signIn    *signInStats
	// revocation are the relying parties' checks: OCSP (and CRLs).
	revocation []*revocationStats
	// crl is how soon a revocation reaches the list, and its size.
	crl       *crlStats
	inventory *inventoryStats
	// checks are the targets held against the figures, filled by print.
	checks []check
}

type check struct {
	target, measured string
	ok               bool
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + " ms"
}

func cpuCell(s cpuSample) string {
	return fmt.Sprintf("%s (%s + %s + %s)", ms(s.total()), ms(s.mattermost), ms(s.plugin), ms(s.postgres))
}

func mark(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

func (r *report) print(w io.Writer) {
	var b bytes.Buffer
	r.checks = nil
	fmt.Fprintf(&b, "# Client certificates through a real Mattermost\n\n")
	fmt.Fprintf(&b, "%s · commit %s · %s · %s · Mattermost %s\n\n", r.started.UTC().Format("2006-01-02 15:04 UTC"), commit(), r.machine, r.goVersion, r.mattermost)
	fmt.Fprintf(&b, "CPU is that of the Mattermost server, the plugin and PostgreSQL processes together (from /proc, "+
		"written as total (Mattermost + plugin + PostgreSQL)); the load tool's own CPU is left out. "+
		"Latencies are as the load tool's clients saw them.\n\n")
	r.printGoBench(&b)
	r.printBaselines(&b)
	r.printFlows(&b)
	r.printBurst(&b)
	r.printSignIn(&b)
	r.printRevocation(&b)
	r.printCRL(&b)
	r.printInventory(&b)
	if len(r.checks) > 0 {
		fmt.Fprintf(&b, "## Targets\n\n| Target | Measured | Met |\n|:--|:--|:--|\n")
		for _, c := range r.checks {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", c.target, c.measured, mark(c.ok))
		}
		b.WriteString("\n")
	}
	_, _ = w.Write(b.Bytes())
}

func (r *report) hold(target, measured string, ok bool) {
	r.checks = append(r.checks, check{target: target, measured: measured, ok: ok})
}

// printGoBench summarises `go test -bench` output: the median of each
// metric over the runs; benchmarks that time the plugin beside its floor
// (floor-ns/op, plugin-ns/op, x-floor) with both and the ratio.
func (r *report) printGoBench(b *bytes.Buffer) {
	if r.o.goBench == "" {
		return
	}
	f, err := os.Open(r.o.goBench)
	if err != nil {
		fmt.Fprintf(b, "(no Go benchmark results: %v)\n\n", err)
		return
	}
	defer f.Close()
	metrics := map[string]map[string][]float64{}
	var order []string
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
			continue
		}
		name := strings.TrimPrefix(fields[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			name = name[:i] // the GOMAXPROCS suffix
		}
		if _, seen := metrics[name]; !seen {
			order = append(order, name)
			metrics[name] = map[string][]float64{}
		}
		// After the iteration count come pairs of value and unit.
		for i := 2; i+1 < len(fields); i += 2 {
			if v, err := strconv.ParseFloat(fields[i], 64); err == nil {
				metrics[name][fields[i+1]] = append(metrics[name][fields[i+1]], v)
			}
		}
	}
	nsCell := func(v []float64) string { return ms(time.Duration(median(v))) }
	b.WriteString("## In process (`go test -bench`, the median of the runs)\n\n")
	fmt.Fprintf(b, "Plugin and floor run in turns in one loop, so that both see the same machine.\n\n")
	fmt.Fprintf(b, "| Benchmark | Plugin | Floor | × floor |\n|:--|--:|--:|--:|\n")
	for _, name := range order {
		m := metrics[name]
		if ratio, ok := m["x-floor"]; ok {
			x := median(ratio)
			fmt.Fprintf(b, "| %s | %s | %s | %.2f× |\n", name, nsCell(m["plugin-ns/op"]), nsCell(m["floor-ns/op"]), x)
			if name == "Issuance/ecdsa-p256" {
				r.hold(fmt.Sprintf("In process, P-256 enrollment ≤ %.2f× its floor", targetFloorRatio), fmt.Sprintf("%.2f×", x), x <= targetFloorRatio)
			}
			continue
		}
		fmt.Fprintf(b, "| %s | %s | | |\n", name, nsCell(m["ns/op"]))
	}
	b.WriteString("\n")
}

// median is the middle value of v, or the mean of the two middle ones
// when there is an even number of them; 0 for none.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	mid := len(s) / 2
	if len(s)%2 == 0 {
		return (s[mid-1] + s[mid]) / 2
	}
	return s[mid]
}

func (r *report) printBaselines(b *bytes.Buffer) {
	bl := r.baselines
	if bl == nil {
		return
	}
	fmt.Fprintf(b, "## The platform's own cost (%d requests each, %d at once)\n\n", r.o.baseline, r.o.concurrency)
	fmt.Fprintf(b, "| Request | CPU per request | p50 | p95 | Errors |\n|:--|--:|--:|--:|--:|\n")
	for _, op := range []opStats{bl.noop, bl.post} {
		fmt.Fprintf(b, "| %s | %s | %s | %s | %d |\n", op.name, cpuCell(op.cpu), ms(op.latency.percentile(50)), ms(op.latency.percentile(95)), op.errors.count)
	}
	fmt.Fprintf(b, "\n| Floor, in this process (key generation, signing, PKCS#12) | CPU |\n|:--|--:|\n")
	for _, kt := range pki.KeyTypes {
		if d, ok := bl.floors[kt]; ok {
			fmt.Fprintf(b, "| %s | %s |\n", kt.Label(), ms(d))
		}
	}
	fmt.Fprintf(b, "| CSR (parse, check, sign) | %s |\n\n", ms(bl.csrFloor))
	p256 := bl.platform(bl.floors[pki.KeyECDSAP256])
	fmt.Fprintf(b, "Platform cost of one P-256 certificate (2 no-op plugin requests + 1 DM post + floor): **%s**; target %.1f× = %s.\n\n",
		ms(p256), targetPlatformRatio, ms(time.Duration(float64(p256)*targetPlatformRatio)))
}

func (r *report) printFlows(b *bytes.Buffer) {
	if len(r.flows) == 0 {
		return
	}
	fmt.Fprintf(b, "## Certificates\n\n")
	fmt.Fprintf(b, "| Flow | Certificates | Per second | p50 | p95 | p99 | p95 of the issuing POST | Errors | CPU per certificate | × platform | Files checked | Listed |\n")
	fmt.Fprintf(b, "|:--|--:|--:|--:|--:|--:|--:|--:|--:|--:|:--|:--|\n")
	for _, f := range r.flows {
		ratio := ""
		if r.measuredCPU() {
			floor := r.baselines.floors[f.spec.keyType]
			if f.spec.path == kindCSR {
				floor = r.baselines.csrFloor
			}
			if platform := r.baselines.platform(floor); platform > 0 {
				ratio = fmt.Sprintf("%.2f×", float64(f.cpu.total())/float64(platform))
			}
		}
		checked := fmt.Sprintf("%d ok", f.issued-f.checkErrors.count)
		if f.checkErrors.count > 0 {
			checked = fmt.Sprintf("**%d bad**", f.checkErrors.count)
		}
		listed := "all"
		if f.unlisted > 0 || f.listErrors.count > 0 {
			listed = fmt.Sprintf("**%d missing, %d errors**", f.unlisted, f.listErrors.count)
		}
		fmt.Fprintf(b, "| %s | %d for %d users, %d at once | %.1f | %s | %s | %s | %s | %d | %s | %s | %s | %s |\n",
			f.spec, f.issued, f.users, f.concurrency, f.perSecond(), ms(f.whole.percentile(50)), ms(f.whole.percentile(95)), ms(f.whole.percentile(99)),
			ms(f.redeem.percentile(95)), f.errors.count, cpuCell(f.cpu), ratio, checked, listed)
	}
	b.WriteString("\n")
	for _, f := range r.flows {
		fmt.Fprintf(b, "- %s: the machine's CPUs were %.0f%% busy, and %.0f%% of their time went to other virtual machines (steal); the load tool's own CPU was %s per certificate.\n",
			f.spec, 100*f.busy, 100*f.steal, ms(f.ownCPU))
	}
	b.WriteString("\n")
	for _, f := range r.flows {
		for _, e := range append(append(f.errors.first, f.checkErrors.first...), f.listErrors.first...) {
			fmt.Fprintf(b, "- %s: %s\n", f.spec, e)
		}
	}
	r.holdPortal()
	for _, f := range r.flows {
		if f.spec.keyType != pki.KeyECDSAP256 || f.spec.path != kindDownload || f.spec.via != "api" {
			continue
		}
		clean := f.errors.count == 0 && f.checkErrors.count == 0 && f.unlisted == 0 && f.listErrors.count == 0
		r.hold(fmt.Sprintf("%d certificates for %d users, %d at once: no error, every file opens, every record listed", f.spec.certs, f.users, f.concurrency),
			fmt.Sprintf("%d issued, %d errors, %d bad files, %d unlisted", f.issued, f.errors.count, f.checkErrors.count, f.unlisted), clean && f.issued == f.spec.certs)
		r.hold(fmt.Sprintf("At least %d certificates per second", targetPerSecond), fmt.Sprintf("%.1f", f.perSecond()), f.perSecond() >= targetPerSecond)
		r.hold(fmt.Sprintf("p95 under %s", ms(targetP95)), ms(f.whole.percentile(95)), f.whole.percentile(95) < targetP95)
		if r.measuredCPU() {
			platform := r.baselines.platform(r.baselines.floors[pki.KeyECDSAP256])
			x := float64(f.cpu.total()) / float64(platform)
			r.hold(fmt.Sprintf("CPU per certificate ≤ %.1f× the platform's cost", targetPlatformRatio),
				fmt.Sprintf("%s against %s: %.2f×", ms(f.cpu.total()), ms(platform), x), x <= targetPlatformRatio)
		}
	}
	b.WriteString("\n")
}

// holdPortal holds the portal's row to chat's links API of the same key
// type, measured in the same run.
func (r *report) holdPortal() {
	for _, p := range r.flows {
		if p.spec.via != "portal" {
			continue
		}
		clean := p.errors.count == 0 && p.checkErrors.count == 0 && p.unlisted == 0 && p.listErrors.count == 0
		r.hold(fmt.Sprintf("Portal: %d certificates for %d local accounts, %d at once: no error, every file opens, every one on its owner's page", p.spec.certs, p.users, p.concurrency),
			fmt.Sprintf("%d issued, %d errors, %d bad files, %d unlisted", p.issued, p.errors.count, p.checkErrors.count, p.unlisted), clean && p.issued == p.spec.certs)
		var chat *flowStats
		for _, f := range r.flows {
			if f.spec.via == "api" && f.spec.path == kindDownload && f.spec.keyType == p.spec.keyType {
				chat = f
				break
			}
		}
		if chat == nil {
			continue
		}
		if r.measuredCPU() && chat.cpu.total() > 0 {
			x := float64(p.cpu.total()) / float64(chat.cpu.total())
			r.hold(fmt.Sprintf("A signed-in portal person's %s certificate ≤ %.1f× the CPU of the same through chat's links API", p.spec.keyType.Label(), targetPortalCPURatio),
				fmt.Sprintf("%s against %s: %.2f×", ms(p.cpu.total()), ms(chat.cpu.total()), x), x <= targetPortalCPURatio)
		}
		if chat.perSecond() > 0 {
			x := p.perSecond() / chat.perSecond()
			r.hold(fmt.Sprintf("The portal makes at least %.0f%% of chat's certificates a second, %d at once", 100*targetPortalPerSecondRatio, p.concurrency),
				fmt.Sprintf("%.1f against %.1f: %.0f%%", p.perSecond(), chat.perSecond(), 100*x), x >= targetPortalPerSecondRatio)
		}
	}
}

// measuredCPU reports whether CPU was measured (the tool knows the
// processes).
func (r *report) measuredCPU() bool {
	return r.baselines != nil && r.baselines.noop.cpu.total() > 0
}

func (r *report) printBurst(b *bytes.Buffer) {
	bt := r.burst
	if bt == nil {
		return
	}
	fmt.Fprintf(b, "## A burst of RSA-4096\n\n")
	fmt.Fprintf(b, "%d RSA-4096 enrollments, each by its own user, arrive at once; meanwhile another user enrolls with P-256 again and again, and the server is pinged every 100 ms.\n\n", bt.requests)
	fmt.Fprintf(b, "| | |\n|:--|:--|\n")
	fmt.Fprintf(b, "| Issued | %d |\n| Turned away as busy (503 with Retry-After) | %d |\n| Other errors | %d |\n| Burst served in | %s |\n", bt.issued, bt.busy, bt.errors.count, ms(bt.wall))
	fmt.Fprintf(b, "| Busy links redeemed again afterwards | %d of %d worked |\n", bt.busyRetried, min(burstRetries, bt.busy))
	fmt.Fprintf(b, "| P-256 enrollments meanwhile | %d, max %s, p50 %s, %d errors |\n", len(bt.fast.d), ms(bt.fast.percentile(100)), ms(bt.fast.percentile(50)), bt.fastErrors.count)
	fmt.Fprintf(b, "| Pings meanwhile | %d, max %s, %d errors |\n\n", len(bt.pings.d), ms(bt.pings.percentile(100)), bt.pingErrors.count)
	for _, e := range append(append(append(bt.errors.first, bt.retryErrors.first...), bt.fastErrors.first...), bt.pingErrors.first...) {
		fmt.Fprintf(b, "- %s\n", e)
	}
	fastOK := len(bt.fast.d) > 0 && bt.fastErrors.count == 0 && bt.fast.percentile(100) <= targetFastDuringBurst
	r.hold(fmt.Sprintf("During the burst, another user's P-256 enrollment within %s", ms(targetFastDuringBurst)),
		fmt.Sprintf("max %s over %d", ms(bt.fast.percentile(100)), len(bt.fast.d)), fastOK)
	r.hold("During the burst, the server answers its ping", fmt.Sprintf("%d pings, %d errors", len(bt.pings.d), bt.pingErrors.count),
		len(bt.pings.d) > 0 && bt.pingErrors.count == 0)
	r.hold(fmt.Sprintf("The RSA queue admits fewer than %d; the rest are told busy and keep their links", bt.requests),
		fmt.Sprintf("%d admitted, %d busy, %d other errors, %d of %d busy links worked later", bt.issued, bt.busy, bt.errors.count, bt.busyRetried, min(burstRetries, bt.busy)),
		bt.issued < bt.requests && bt.issued+bt.busy == bt.requests && bt.retryErrors.count == 0 && bt.busyRetried == min(burstRetries, bt.busy))
	b.WriteString("\n")
}

func (r *report) printSignIn(b *bytes.Buffer) {
	s := r.signIn
	if s == nil {
		return
	}
	fmt.Fprintf(b, "## A flood of wrong passwords on the portal's sign-in\n\n")
	fmt.Fprintf(b, "%d wrong passwords a second for %s, paced, to `POST /portal/signin`: half for %d local accounts that exist, "+
		"half for %d names that have none; meanwhile one chat user enrolls with P-256 again and again, and the server is pinged every 100 ms. "+
		"Every attempt comes from the load tool, so from one client address: the throttle's count for that address "+
		"(%d free failures, then a wait that doubles from %s) is what answers, long before any name's own count "+
		"(%d free failures per name, a lock at 20) comes into play; a flood spread over many addresses would meet those instead.\n\n",
		s.rate, s.duration, s.existing, s.unknown, throttleAddressFree, throttleFirstDelay, throttleNameFree)
	share := 0.0
	if s.answered() > 0 {
		share = float64(s.throttled) / float64(s.answered())
	}
	machineCPU := s.wall * time.Duration(runtime.NumCPU())
	fmt.Fprintf(b, "| | |\n|:--|:--|\n")
	fmt.Fprintf(b, "| Attempts sent | %d in %s |\n", s.sent, ms(s.wall))
	fmt.Fprintf(b, "| Answered 401 (a password was checked) | %d, p50 %s, max %s |\n", s.unauthorized, ms(s.checked.percentile(50)), ms(s.checked.percentile(100)))
	fmt.Fprintf(b, "| Answered 429 (the throttle, with Retry-After) | %d (%.1f%% of the answers), Retry-After up to %d s |\n", s.throttled, 100*share, s.maxRetryAfter)
	fmt.Fprintf(b, "| Other answers | %d |\n", s.other.count)
	fmt.Fprintf(b, "| Every answer | p50 %s, p95 %s, max %s |\n", ms(s.answers.percentile(50)), ms(s.answers.percentile(95)), ms(s.answers.percentile(100)))
	if s.cpu.total() > 0 && machineCPU > 0 {
		fmt.Fprintf(b, "| The server's CPU during the flood | %s in all, %.0f%% of the machine's %d CPUs; %s per attempt |\n",
			cpuCell(s.cpu), 100*float64(s.cpu.total())/float64(machineCPU), runtime.NumCPU(), ms(s.cpu.total()/time.Duration(max(1, s.sent))))
	}
	fmt.Fprintf(b, "| The machine's CPUs | %.0f%% busy, %.0f%% stolen by other virtual machines |\n", 100*s.busy, 100*s.steal)
	if s.unsettled {
		fmt.Fprintf(b, "| After the last answer | the server was still busy %s later |\n", s.settled.Round(time.Second))
	} else if s.cpu.total() > 0 {
		fmt.Fprintf(b, "| After the last answer | the server was quiet again within %s |\n", s.settled.Round(time.Second))
	}
	fmt.Fprintf(b, "| P-256 enrollments meanwhile | %d, max %s, p50 %s, %d errors |\n", len(s.fast.d), ms(s.fast.percentile(100)), ms(s.fast.percentile(50)), s.fastErrors.count)
	fmt.Fprintf(b, "| Pings meanwhile | %d, max %s, p50 %s, %d errors |\n\n", len(s.pings.d), ms(s.pings.percentile(100)), ms(s.pings.percentile(50)), s.pingErrors.count)
	for _, e := range append(append(append([]string(nil), s.other.first...), s.fastErrors.first...), s.pingErrors.first...) {
		fmt.Fprintf(b, "- %s\n", e)
	}
	fmt.Fprintf(b, "The bound on 401s: the policy lets one address have %d wrong passwords checked in %s "+
		"(%d free, then one each time the doubling wait has passed). Each attempt is counted as failed in the compare-and-set that admits it, "+
		"before its bcrypt, so attempts that arrive at once get no more than that.\n\n", s.bound(), s.duration, throttleAddressFree)
	fastOK := len(s.fast.d) > 0 && s.fastErrors.count == 0 && s.fast.percentile(100) <= targetFastDuringBurst
	r.hold(fmt.Sprintf("During the sign-in flood, another user's P-256 enrollment within %s, every one", ms(targetFastDuringBurst)),
		fmt.Sprintf("max %s over %d, %d errors", ms(s.fast.percentile(100)), len(s.fast.d), s.fastErrors.count), fastOK)
	r.hold("During the sign-in flood, the server answers its ping", fmt.Sprintf("%d pings, %d errors", len(s.pings.d), s.pingErrors.count),
		len(s.pings.d) > 0 && s.pingErrors.count == 0)
	r.hold(fmt.Sprintf("During the sign-in flood from one address, at most %d passwords checked (401)", s.bound()),
		fmt.Sprintf("%d of %d attempts", s.unauthorized, s.sent), s.unauthorized <= s.bound())
	r.hold(fmt.Sprintf("During the sign-in flood, at least %.0f%% of the attempts answered by the throttle (429)", 100*targetThrottledShare),
		fmt.Sprintf("%d of %d (%.1f%%), %d other answers", s.throttled, s.sent, 100*float64(s.throttled)/float64(max(1, s.sent)), s.other.count),
		s.sent > 0 && float64(s.throttled) >= targetThrottledShare*float64(s.sent))
	b.WriteString("\n")
}

// printRevocation is a row for each revocation scenario: how many answers
// a second, how fast, how many were wrong, what each cost the server
// beside its cheapest plugin request.
func (r *report) printRevocation(b *bytes.Buffer) {
	if len(r.revocation) == 0 {
		return
	}
	fmt.Fprintf(b, "## Revocation checks\n\n")
	fmt.Fprintf(b, "Relying parties asking, without signing in; every answer is checked afterwards (signature against the issuing CA, "+
		"the status that was issued or revoked, the responder certificate valid when the answer was signed, the caching headers of RFC 5019).\n\n")
	fmt.Fprintf(b, "| Check | Requests | Per second | p50 | p95 | p99 | Errors | Wrong answers | CPU per answer | × no-op plugin request |\n")
	fmt.Fprintf(b, "|:--|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, s := range r.revocation {
		ratio := ""
		if noop := s.noop.cpu.total(); noop > 0 {
			ratio = fmt.Sprintf("%.2f×", float64(s.cpu.total())/float64(noop))
		}
		wrong := fmt.Sprintf("%d of %d", s.wrong.count, s.checked)
		if s.wrong.count > 0 {
			wrong = "**" + wrong + "**"
		}
		fmt.Fprintf(b, "| %s | %d, %d at once | %.1f | %s | %s | %s | %d | %s | %s | %s |\n",
			s.name, s.answered, s.concurrency, s.perSecond(), ms(s.latency.percentile(50)), ms(s.latency.percentile(95)), ms(s.latency.percentile(99)),
			s.errors.count, wrong, cpuCell(s.cpu), ratio)
	}
	b.WriteString("\n")
	for _, s := range r.revocation {
		fmt.Fprintf(b, "- %s: asked about %s; %s. The no-op plugin request cost %s. The machine's CPUs were %.0f%% busy, and %.0f%% of their time went to other virtual machines (steal); the load tool's own CPU was %s per answer.\n",
			s.name, s.population, s.mix, cpuCell(s.noop.cpu), 100*s.busy, 100*s.steal, ms(s.ownCPU))
		for _, e := range append(append([]string(nil), s.errors.first...), s.wrong.first...) {
			fmt.Fprintf(b, "- %s: %s\n", s.name, e)
		}
	}
	b.WriteString("\n")
	for _, s := range r.revocation {
		if s.target > 0 {
			r.hold(fmt.Sprintf("%s: at least %.0f answers a second, %d at once", s.name, s.target, s.concurrency), fmt.Sprintf("%.1f", s.perSecond()), s.perSecond() >= s.target)
		}
		r.hold(fmt.Sprintf("%s: every answer correct", s.name), fmt.Sprintf("%d answered, %d errors, %d wrong", s.answered, s.errors.count, s.wrong.count),
			s.answered == s.requests && s.errors.count == 0 && s.wrong.count == 0 && s.checked == s.answered)
	}
}

func (r *report) printInventory(b *bytes.Buffer) {
	inv := r.inventory
	if inv == nil {
		return
	}
	if inv.kv {
		fmt.Fprintf(b, "## The inventory with %d certificates, in the KV layout of 0.1\n\n", inv.certificates)
	} else {
		fmt.Fprintf(b, "## The inventory with %d certificates\n\n", inv.certificates)
	}
	fmt.Fprintf(b, "%d certificates for %d owners (10 each), written straight into the database in %s; then each query through the plugin "+
		"(its HTTP route and the server's database driver), %d at once, the listing walk one page at a time.\n\n",
		inv.certificates, inv.owners, ms(inv.seeded), r.o.concurrency)
	fmt.Fprintf(b, "| Query | Requests | p50 | p95 | CPU per request | Errors |\n|:--|--:|--:|--:|--:|--:|\n")
	ops := inv.ops
	if !inv.kv {
		ops = append(ops, inv.pages)
	}
	for _, op := range ops {
		fmt.Fprintf(b, "| %s | %d | %s | %s | %s | %d |\n", op.name, len(op.latency.d), ms(op.latency.percentile(50)), ms(op.latency.percentile(95)),
			cpuCell(op.cpu), op.errors.count)
	}
	if inv.kv {
		b.WriteString("\n")
		return
	}
	fmt.Fprintf(b, "\nThe walk listed %d certificates (%d issued by the flows before) in %d pages; its first page took %s, its last %s.\n\n",
		inv.listedInWalk, inv.before, inv.pages.requests, ms(inv.firstPage), ms(inv.lastPage))
	for _, op := range append(inv.ops, inv.pages) {
		for _, e := range op.errors.first {
			fmt.Fprintf(b, "- %s: %s\n", op.name, e)
		}
	}
	r.hold(fmt.Sprintf("The admin listing of %d certificates is walked whole, each page as quick as the first", inv.certificates),
		fmt.Sprintf("%d listed; first page %s, last %s, p95 %s", inv.listedInWalk, ms(inv.firstPage), ms(inv.lastPage), ms(inv.pages.latency.percentile(95))),
		inv.listedInWalk == inv.certificates+inv.before && inv.lastPage < 10*inv.firstPage+100*time.Millisecond)
}

func (r *report) writeFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	var b bytes.Buffer
	r.print(&b)
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// failed is an error when a check of correctness failed: an error, a bad
// file, a lost record. Missed performance targets are reported, not fatal:
// a slow or busy machine is not a broken plugin.
func (r *report) failed() error {
	var problems []string
	for _, f := range r.flows {
		if f.errors.count > 0 || f.checkErrors.count > 0 || f.unlisted > 0 || f.listErrors.count > 0 {
			problems = append(problems, fmt.Sprintf("%s: %d errors, %d bad files, %d unlisted", f.spec, f.errors.count, f.checkErrors.count, f.unlisted))
		}
	}
	if bt := r.burst; bt != nil && (bt.errors.count > 0 || bt.retryErrors.count > 0 || bt.fastErrors.count > 0 || bt.pingErrors.count > 0) {
		problems = append(problems, fmt.Sprintf("burst: %d errors, %d failed retries, %d failed P-256 enrollments, %d failed pings",
			bt.errors.count, bt.retryErrors.count, bt.fastErrors.count, bt.pingErrors.count))
	}
	if s := r.signIn; s != nil && (s.other.count > 0 || s.fastErrors.count > 0 || s.pingErrors.count > 0 || s.answered() != s.sent) {
		problems = append(problems, fmt.Sprintf("sign-in flood: %d of %d answered, %d other answers, %d failed P-256 enrollments, %d failed pings",
			s.answered(), s.sent, s.other.count, s.fastErrors.count, s.pingErrors.count))
	}
	for _, s := range r.revocation {
		if s.errors.count > 0 || s.wrong.count > 0 || s.answered != s.requests {
			problems = append(problems, fmt.Sprintf("%s: %d of %d answered, %d errors, %d wrong answers", s.name, s.answered, s.requests, s.errors.count, s.wrong.count))
		}
	}
	if inv := r.inventory; inv != nil {
		ops := inv.ops
		if !inv.kv {
			ops = append(ops, inv.pages)
		}
		for _, op := range ops {
			if op.errors.count > 0 {
				problems = append(problems, fmt.Sprintf("inventory, %s: %d errors", op.name, op.errors.count))
			}
		}
		if !inv.kv && inv.listedInWalk != inv.certificates+inv.before {
			problems = append(problems, fmt.Sprintf("inventory: the admin listing walked %d certificates of %d", inv.listedInWalk, inv.certificates+inv.before))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

func commit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	rev := strings.TrimSpace(string(out))
	if dirty, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(dirty)) > 0 {
		rev += " (with uncommitted changes)"
	}
	return rev
}
