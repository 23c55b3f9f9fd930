//go:build e2e

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// signInFlood is how long the sign-in flood lasts: wrong passwords at a
// steady rate (-signin-rate, 200 a second), half for local accounts that
// exist and half for names that do not.
const signInFlood = 10 * time.Second

// The throttle's policy (server/local/throttle.go), for the bound on the
// passwords it lets be checked: each client address may fail
// throttleAddressFree times, each account name throttleNameFree times;
// then each try waits a delay that doubles from throttleFirstDelay.
const (
	throttleAddressFree = 20
	throttleNameFree    = 5
	throttleFirstDelay  = 2 * time.Second
)

// signInStats is what happened while wrong passwords flooded the portal's
// sign-in.
type signInStats struct {
	rate     int
	duration time.Duration
	// names are the distinct account names tried: existing local
	// accounts, and names that have none.
	existing, unknown int
	sent              int
	unauthorized      int // 401: the throttle let a password be checked
	throttled         int // 429 with Retry-After: the throttle answered
	other             *errorLog
	maxRetryAfter     int // seconds
	answers           *latencies
	checked           *latencies // the 401s: a bcrypt each
	wall              time.Duration
	cpu               cpuSample // in all, over wall
	busy, steal       float64
	// fast are one chat user's P-256 enrollments during the flood; pings
	// the server's ping meanwhile.
	fast, pings *latencies
	fastErrors  *errorLog
	pingErrors  *errorLog
	// settled is how long after the last answer the server's processes
	// still used a CPU's quarter or more (work the answers left behind);
	// unsettled that they still did when the tool stopped waiting.
	settled   time.Duration
	unsettled bool
}

// settleFor is the longest the flood waits for the server to go quiet, so
// that what comes next is not measured on a machine still busy with it.
const settleFor = 2 * time.Minute

// settle waits until the server's processes use less than a quarter of a
// CPU over a second.
func (l *load) settle(ctx context.Context) (time.Duration, bool) {
	if !l.t.meter.known() {
		return 0, false
	}
	start := time.Now()
	for time.Since(start) < settleFor && ctx.Err() == nil {
		before := l.t.meter.sample()
		time.Sleep(time.Second)
		if l.t.meter.sample().sub(before).total() < 250*time.Millisecond {
			return time.Since(start) - time.Second, false
		}
	}
	return time.Since(start), true
}

// policyChecks is how many wrong passwords the throttle's policy lets one
// client address have checked in d: the free ones, then one each time the
// doubling delay has passed (2 s, then 4 s more, …).
func policyChecks(d time.Duration) int {
	checks := throttleAddressFree
	for wait, at := throttleFirstDelay, throttleFirstDelay; at <= d; wait, at = 2*wait, at+2*wait {
		checks++
	}
	return checks
}

// bound is the most 401s the throttle should let through in this flood:
// each attempt is counted in the same compare-and-set that decides it, so
// no more than the policy's own, however many arrive at once.
func (s *signInStats) bound() int {
	return policyChecks(s.duration)
}

func (s *signInStats) answered() int { return s.unauthorized + s.throttled + s.other.count }

// signInFlood sends -signin-rate wrong passwords a second for signInFlood to
// the portal's sign-in, from the load tool's one address, half for the
// load's local accounts and half for names without an account; meanwhile
// it pings the server every 100 ms and enrolls one chat user with P-256
// again and again.
func (l *load) signInFlood(ctx context.Context) (*signInStats, error) {
	local, err := l.localAccounts(ctx, false)
	if err != nil {
		return nil, err
	}
	rate := l.o.signInRate
	n := rate * int(signInFlood/time.Second)
	run := make([]byte, 3)
	if _, err := rand.Read(run); err != nil {
		return nil, err
	}
	ghost := "ghost" + hex.EncodeToString(run) + "u"
	s := &signInStats{rate: rate, duration: signInFlood, existing: min(len(local), (n+1)/2), unknown: n / 2,
		other: &errorLog{}, answers: &latencies{}, checked: &latencies{}, fast: &latencies{}, pings: &latencies{},
		fastErrors: &errorLog{}, pingErrors: &errorLog{}}
	fmt.Printf("Sign-in flood: %d wrong passwords a second for %s (%d names of local accounts, %d unknown names), P-256 enrollments and pings meanwhile\n",
		rate, signInFlood, s.existing, s.unknown)
	formCookie, csrf, err := l.t.srv.signInForm(ctx)
	if err != nil {
		return nil, err
	}
	other := l.all[len(l.all)-1]

	stop := l.meanwhile(ctx, other, s.fast, s.pings, s.fastErrors, s.pingErrors)

	var mu sync.Mutex
	var wg sync.WaitGroup
	before, busyBefore := l.t.meter.sample(), readUtilization()
	start := time.Now()
	ticker := time.NewTicker(time.Second / time.Duration(rate))
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		<-ticker.C
		name := ghost + strconv.Itoa(i/2)
		if i%2 == 0 {
			name = local[(i/2)%len(local)].name
		}
		s.sent++
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent := time.Now()
			answer, err := l.t.srv.signInAttempt(ctx, formCookie, csrf, name, "Wrong-passw0rd-"+strconv.Itoa(i))
			took := time.Since(sent)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				s.other.add(err)
				return
			case answer.status == http.StatusUnauthorized:
				s.unauthorized++
				s.checked.add(took)
			case answer.status == http.StatusTooManyRequests && answer.header.Get("Retry-After") != "":
				s.throttled++
				if after, err := strconv.Atoi(answer.header.Get("Retry-After")); err == nil {
					s.maxRetryAfter = max(s.maxRetryAfter, after)
				}
			default:
				s.other.add(answer.want("POST /portal/signin", http.StatusTooManyRequests))
				return
			}
			s.answers.add(took)
		}()
	}
	ticker.Stop()
	wg.Wait()
	s.wall = time.Since(start)
	s.cpu = l.t.meter.sample().sub(before)
	s.busy, s.steal = readUtilization().since(busyBefore)
	stop()
	s.settled, s.unsettled = l.settle(ctx)
	return s, ctx.Err()
}
