//go:build e2e

package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// The revocation scenarios ask what relying parties (VPN, Wi-Fi/RADIUS and
// TLS servers) ask the plugin, without signing in: is this certificate
// still good? Each is measured as a revocationStats, a row of the report's
// table, and every answer is checked after the timed part. OCSP is here; a
// CRL scenario goes beside it the same way (a function of load that
// returns a *revocationStats, run by main for -scenario crl and bench).

// revocationStats is one revocation scenario, measured and checked.
type revocationStats struct {
	name string
	// population says what was asked about; mix how.
	population, mix string
	concurrency     int
	requests        int
	answered        int
	wall            time.Duration
	latency         *latencies
	errors          *errorLog
	// checked answers were verified after the timed part; wrong ones
	// said something else than what was issued and revoked, or did not
	// verify.
	checked int
	wrong   *errorLog
	cpu     cpuSample // per answer
	ownCPU  time.Duration
	// busy and steal are the machine's busy share and the hypervisor's
	// share for other machines meanwhile.
	busy, steal float64
	// noop is the platform's cost of the cheapest plugin request, measured
	// just before, to set the answer's CPU against.
	noop opStats
	// target is the answers a second the scenario must reach.
	target float64
}

func (s *revocationStats) perSecond() float64 {
	if s.wall <= 0 {
		return 0
	}
	return float64(s.answered) / s.wall.Seconds()
}

// ocspPopulation is what the OCSP scenario asks about: certificates the
// plugin issued (one in four then revoked, each reason in turn), and
// serials it never issued.
const (
	ocspCertificates = 200
	ocspRevokedEvery = 4
	ocspUnknown      = 50
	// targetOCSPPerSecond is the answers a second 20 clients must get.
	targetOCSPPerSecond = 500
)

// ocspQuestion is one request the scenario can send, and what its answer
// must say.
type ocspQuestion struct {
	der     []byte
	encoded string // base64, for a GET
	serial  *big.Int
	status  int
	reason  int
	hash    crypto.Hash
}

// ocspAnswer is what came back for one request, kept to be checked after
// the timed part so that the checks do not compete with the server.
type ocspAnswer struct {
	question *ocspQuestion
	header   http.Header
	body     []byte
	// at is when it arrived.
	at time.Time
}

// ocsp issues the population, then sends n OCSP requests, C at once: a
// mix of good, revoked and unknown serials, by GET and POST (a GET whose
// base64 holds "//" goes by POST, as clients fall back: Mattermost's
// router does not pass such a path on), with SHA-1 (what OpenSSL sends)
// and SHA-256 CertIDs.
func (l *load) ocsp(ctx context.Context, n int) (*revocationStats, error) {
	fmt.Printf("OCSP: %d certificates (one in %d revoked) and %d unknown serials, then %d requests, %d at once\n",
		ocspCertificates, ocspRevokedEvery, ocspUnknown, n, l.o.concurrency)
	issuer, questions, err := l.ocspPopulation(ctx)
	if err != nil {
		return nil, err
	}
	st := &revocationStats{
		name:        "OCSP (POST and GET)",
		population:  fmt.Sprintf("%d certificates, %d of them revoked, and %d serials never issued", ocspCertificates, ocspCertificates/ocspRevokedEvery, ocspUnknown),
		concurrency: l.o.concurrency, requests: n, latency: &latencies{}, errors: &errorLog{}, wrong: &errorLog{},
		target: targetOCSPPerSecond,
	}
	// In each round of four: two good, one revoked, one unknown. Each kind
	// goes by GET and POST, SHA-1 and SHA-256 in turn, round its serials.
	var good, revoked, unknown []*ocspQuestion
	for _, q := range questions {
		switch q.status {
		case ocsp.Good:
			good = append(good, q)
		case ocsp.Revoked:
			revoked = append(revoked, q)
		default:
			unknown = append(unknown, q)
		}
	}
	pick := func(i int) (*ocspQuestion, string) {
		from, round := good, i/4
		switch i % 4 {
		case 2:
			from = revoked
		case 3:
			from = unknown
		}
		// Each list holds every serial twice, by SHA-1 then by SHA-256.
		q := from[(round/4)%(len(from)/2)*2+(round/2)%2]
		if (round+i)%2 == 1 && !strings.Contains(q.encoded, "//") {
			return q, http.MethodGet
		}
		return q, http.MethodPost
	}
	gets := 0
	for i := range n {
		if _, m := pick(i); m == http.MethodGet {
			gets++
		}
	}
	st.mix = fmt.Sprintf("half good, a quarter revoked, a quarter unknown; %d by GET, %d by POST; SHA-1 and SHA-256 CertIDs in turn", gets, n-gets)

	// The platform's cheapest plugin request, for comparison; then a
	// warm-up of the OCSP route.
	st.noop = l.measureOp(ctx, "no-op plugin request (GET /api/v1/profiles)", min(n, 1000), func(a *account) error {
		return l.t.srv.noopPluginRequest(ctx, a)
	})
	runAll(min(n, 20*l.o.concurrency), l.o.concurrency, func(i int) {
		q, method := pick(i)
		if _, err := l.t.srv.askOCSP(ctx, q, method); err != nil {
			st.errors.add(fmt.Errorf("warm-up: %w", err))
		}
	})

	answers := make([]*ocspAnswer, n)
	l.timeChecks(ctx, st, func(i int) error {
		q, method := pick(i)
		a, err := l.t.srv.askOCSP(ctx, q, method)
		answers[i] = a
		return err
	})
	checkOCSPAnswers(st, answers, issuer)
	return st, nil
}

// timeChecks sends st.requests requests, C at once, with ask, and
// measures them into st: the answers, their latencies, the server's CPU
// per answer, the machine's load and the tool's own CPU. What came back
// is checked after, by the caller.
func (l *load) timeChecks(ctx context.Context, st *revocationStats, ask func(i int) error) {
	var answered atomic.Int32
	before, ownBefore, busyBefore := l.t.meter.sample(), ownCPU(), readUtilization()
	st.wall = runAll(st.requests, l.o.concurrency, func(i int) {
		if ctx.Err() != nil {
			return
		}
		start := time.Now()
		if err := ask(i); err != nil {
			st.errors.add(err)
			return
		}
		st.latency.add(time.Since(start))
		answered.Add(1)
	})
	st.answered = int(answered.Load())
	st.cpu = l.t.meter.sample().sub(before).div(st.answered)
	st.busy, st.steal = readUtilization().since(busyBefore)
	if st.answered > 0 {
		st.ownCPU = (ownCPU() - ownBefore) / time.Duration(st.answered)
	}
}

// ocspPopulation issues the certificates through the plugin (links API and
// POST /issue, round the accounts), revokes one in ocspRevokedEvery as its
// owner, and returns the issuing CA and a question about each serial and
// each unknown one, by SHA-1 and SHA-256 each.
func (l *load) ocspPopulation(ctx context.Context) (*x509.Certificate, []*ocspQuestion, error) {
	var chainPEM []byte
	if err := l.t.srv.get(ctx, "/plugins/"+pluginID+"/ca.pem", &chainPEM); err != nil {
		return nil, nil, err
	}
	chain, err := pki.ParseCertificatesPEM(chainPEM)
	if err != nil || len(chain) == 0 {
		return nil, nil, fmt.Errorf("the CA chain: %v", err)
	}
	issuer := chain[0]
	reasons := []string{"keyCompromise", "superseded", "affiliationChanged", "cessationOfOperation", "unspecified"}
	profile := l.t.profiles[pki.KeyType(l.o.keyType)]
	type issued struct {
		serial *big.Int
		reason string // "" while good
	}
	certs := make([]issued, ocspCertificates)
	errs := &errorLog{}
	runAll(ocspCertificates, l.o.concurrency, func(i int) {
		a := l.accounts[i%len(l.accounts)]
		token, err := l.t.srv.linkViaAPI(ctx, a, kindDownload, profile)
		if err != nil {
			errs.add(err)
			return
		}
		c, err := l.t.srv.redeem(ctx, a, token)
		if err != nil {
			errs.add(err)
			return
		}
		serial, ok := new(big.Int).SetString(c.serial, 16)
		if !ok {
			errs.add(fmt.Errorf("serial %q is not hexadecimal", c.serial))
			return
		}
		certs[i].serial = serial
		if i%ocspRevokedEvery == 0 {
			reason := reasons[(i/ocspRevokedEvery)%len(reasons)]
			if err := l.t.srv.postJSON(ctx, a, "/plugins/"+pluginID+"/api/v1/certificates/"+c.serial+"/revoke",
				map[string]string{"reason": reason}, http.StatusOK, nil); err != nil {
				errs.add(err)
				return
			}
			certs[i].reason = reason
		}
	})
	if errs.count > 0 {
		return nil, nil, fmt.Errorf("issuing the OCSP population: %d errors, first %s", errs.count, errs.first[0])
	}
	for range ocspUnknown {
		serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
		if err != nil {
			return nil, nil, err
		}
		certs = append(certs, issued{serial: serial.Add(serial, big.NewInt(1))})
	}
	var questions []*ocspQuestion
	for i, c := range certs {
		for _, hash := range []crypto.Hash{crypto.SHA1, crypto.SHA256} {
			der, err := ocsp.CreateRequest(&x509.Certificate{SerialNumber: c.serial}, issuer, &ocsp.RequestOptions{Hash: hash})
			if err != nil {
				return nil, nil, err
			}
			q := &ocspQuestion{der: der, encoded: base64.StdEncoding.EncodeToString(der), serial: c.serial, hash: hash, status: ocsp.Good}
			switch {
			case i >= ocspCertificates:
				q.status = ocsp.Unknown
			case c.reason != "":
				q.status, q.reason = ocsp.Revoked, records.ReasonCode(c.reason)
			}
			questions = append(questions, q)
		}
	}
	return issuer, questions, nil
}

// askOCSP sends one OCSP request, without signing in.
func (s *server) askOCSP(ctx context.Context, q *ocspQuestion, method string) (*ocspAnswer, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	path := "/plugins/" + pluginID + "/ocsp"
	var body io.Reader
	if method == http.MethodGet {
		path += "/" + url.PathEscape(q.encoded)
	} else {
		body = bytes.NewReader(q.der)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.url+path, body)
	if err != nil {
		return nil, err
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/ocsp-request")
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("OCSP %s: %w", method, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("OCSP %s: %w", method, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &statusError{what: "OCSP " + method, status: resp.StatusCode, header: resp.Header, body: string(data)}
	}
	return &ocspAnswer{question: q, header: resp.Header, body: data, at: time.Now()}, nil
}

// get fetches a path without signing in.
func (s *server) get(ctx context.Context, path string, out *[]byte) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+path, nil)
	if err != nil {
		return err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	if *out, err = io.ReadAll(resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return &statusError{what: "GET " + path, status: resp.StatusCode, header: resp.Header, body: string(*out)}
	}
	return nil
}

// checkOCSPAnswers checks every answer as a relying party does, and the
// caching headers of RFC 5019. An answer served again (the same bytes)
// is verified once.
func checkOCSPAnswers(st *revocationStats, answers []*ocspAnswer, issuer *x509.Certificate) {
	type verified struct {
		resp *ocsp.Response
		err  error
	}
	var mu sync.Mutex
	seen := map[[32]byte]verified{}
	runAll(len(answers), 2, func(i int) {
		a := answers[i]
		if a == nil {
			return
		}
		key := sha256.Sum256(a.body)
		mu.Lock()
		v, ok := seen[key]
		mu.Unlock()
		if !ok {
			v.resp, v.err = ocsp.ParseResponse(a.body, issuer)
			mu.Lock()
			seen[key] = v
			mu.Unlock()
		}
		mu.Lock()
		st.checked++
		mu.Unlock()
		if err := checkOCSPAnswer(a, v.resp, v.err); err != nil {
			st.wrong.add(err)
		}
	})
}

func checkOCSPAnswer(a *ocspAnswer, resp *ocsp.Response, err error) error {
	q := a.question
	what := fmt.Sprintf("serial %x (%s)", q.serial, q.hash)
	if err != nil {
		return fmt.Errorf("%s: the answer does not verify against the issuing CA: %w", what, err)
	}
	switch {
	case resp.SerialNumber.Cmp(q.serial) != 0:
		return fmt.Errorf("%s: answered about %x", what, resp.SerialNumber)
	case resp.IssuerHash != q.hash:
		return fmt.Errorf("%s: answered with a %s CertID", what, resp.IssuerHash)
	case resp.Status != q.status:
		return fmt.Errorf("%s: status %d, want %d", what, resp.Status, q.status)
	case q.status == ocsp.Revoked && resp.RevocationReason != q.reason:
		return fmt.Errorf("%s: reason %d, want %d", what, resp.RevocationReason, q.reason)
	case resp.Certificate == nil:
		return fmt.Errorf("%s: no responder certificate", what)
	}
	responder := resp.Certificate
	for name, at := range map[string]time.Time{"thisUpdate": resp.ThisUpdate, "producedAt": resp.ProducedAt} {
		if at.Before(responder.NotBefore) || !at.Before(responder.NotAfter) {
			return fmt.Errorf("%s: the responder certificate is not valid at the answer's %s", what, name)
		}
	}
	if resp.NextUpdate.After(responder.NotAfter) {
		return fmt.Errorf("%s: the answer outlives its responder certificate", what)
	}
	if a.at.Before(resp.ThisUpdate.Add(-time.Minute)) || !a.at.Before(resp.NextUpdate) {
		return fmt.Errorf("%s: arrived at %s, valid %s to %s", what, a.at.UTC().Format(time.RFC3339), resp.ThisUpdate.Format(time.RFC3339), resp.NextUpdate.Format(time.RFC3339))
	}
	h := a.header
	maxAge, parseErr := 0, error(nil)
	if _, parseErr = fmt.Sscanf(h.Get("Cache-Control"), "max-age=%d, public, no-transform, must-revalidate", &maxAge); parseErr != nil ||
		!strings.HasSuffix(h.Get("Cache-Control"), ", public, no-transform, must-revalidate") {
		return fmt.Errorf("%s: Cache-Control %q", what, h.Get("Cache-Control"))
	}
	if left := resp.NextUpdate.Sub(a.at); time.Duration(maxAge)*time.Second > left+2*time.Second {
		return fmt.Errorf("%s: max-age %d outlasts the answer (%s left)", what, maxAge, left.Round(time.Second))
	}
	switch {
	case h.Get("Last-Modified") != resp.ThisUpdate.Format(http.TimeFormat):
		return fmt.Errorf("%s: Last-Modified %q, thisUpdate %s", what, h.Get("Last-Modified"), resp.ThisUpdate)
	case h.Get("Expires") != resp.NextUpdate.Format(http.TimeFormat):
		return fmt.Errorf("%s: Expires %q, nextUpdate %s", what, h.Get("Expires"), resp.NextUpdate)
	case h.Get("ETag") == "":
		return fmt.Errorf("%s: no ETag", what)
	case h.Get("Content-Type") != "application/ocsp-response":
		return fmt.Errorf("%s: Content-Type %q", what, h.Get("Content-Type"))
	}
	return nil
}
