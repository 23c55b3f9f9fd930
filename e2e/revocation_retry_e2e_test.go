//go:build e2e

package e2e

import (
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// rotateProvisionerKey has stepca-dev give its provisioner a new key under
// the same password (SIGHUP) and waits until it has.
func (ca *stepCA) rotateProvisionerKey(t *testing.T) {
	t.Helper()
	const done = "stepca-dev: provisioner key rotated"
	before := strings.Count(readFile(t, ca.logPath), done)
	require.NoError(t, syscall.Kill(ca.pid, syscall.SIGHUP))
	require.Eventually(t, func() bool {
		log := readFile(t, ca.logPath)
		require.NotContains(t, log, "stepca-dev: rotating the provisioner key:")
		return strings.Count(log, done) > before
	}, 30*time.Second, 100*time.Millisecond, "stepca-dev did not rotate its provisioner key:\n%s", fileTail(ca.logPath, 30))
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(data)
}

// caSwitch stands between the plugin and a CA on loopback: it passes
// connections through, and while down it closes them at once, as a CA
// that cannot be reached.
type caSwitch struct {
	URL    string
	target string
	l      net.Listener
	down   atomic.Bool
	wg     sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]bool
}

// startCASwitch puts a switch in front of the CA at caURL; it is removed
// when the test ends.
func startCASwitch(t *testing.T, caURL string) *caSwitch {
	t.Helper()
	u, err := url.Parse(caURL)
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &caSwitch{URL: "https://" + l.Addr().String(), target: u.Host, l: l, conns: map[net.Conn]bool{}}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(func() {
		_ = l.Close()
		s.closeAll()
		s.wg.Wait()
	})
	return s
}

func (s *caSwitch) serve() {
	defer s.wg.Done()
	for {
		conn, err := s.l.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go s.pipe(conn)
	}
}

// pipe copies between a client and the CA until either side closes.
func (s *caSwitch) pipe(client net.Conn) {
	defer s.wg.Done()
	defer func() { _ = client.Close() }()
	if s.down.Load() {
		return
	}
	server, err := net.DialTimeout("tcp", s.target, 5*time.Second)
	if err != nil {
		return
	}
	defer func() { _ = server.Close() }()
	s.track(client, server)
	defer s.untrack(client, server)
	if s.down.Load() {
		return
	}
	copied := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(server, client); copied <- struct{}{} }()
	go func() { _, _ = io.Copy(client, server); copied <- struct{}{} }()
	<-copied
	_ = client.Close()
	_ = server.Close()
	<-copied
}

func (s *caSwitch) track(conns ...net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range conns {
		s.conns[c] = true
	}
}

func (s *caSwitch) untrack(conns ...net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range conns {
		delete(s.conns, c)
	}
}

func (s *caSwitch) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		_ = c.Close()
	}
}

// setDown cuts the CA off (open connections closed, new ones closed at
// once) or connects it again.
func (s *caSwitch) setDown(down bool) {
	s.down.Store(down)
	if down {
		s.closeAll()
	}
}

// serverLogLine is the first line of the server log with every one of
// parts, or "".
func serverLogLine(t *testing.T, parts ...string) string {
	t.Helper()
	for _, line := range strings.Split(readFile(t, bed.mm.LogPath), "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return line
		}
	}
	return ""
}

// logLineWith waits until the server log has a line with every one of
// parts.
func logLineWith(t *testing.T, timeout time.Duration, parts ...string) {
	t.Helper()
	require.Eventually(t, func() bool { return serverLogLine(t, parts...) != "" }, timeout, time.Second,
		"no line of the server log has %q", parts)
}

// TestARefusedRevocationStaysPendingThroughTheServer: a revocation that
// could not reach a real step-ca is told again by the job; step-ca, whose
// provisioner key was rotated meanwhile, refuses it (401), as the
// connector still signs with the old key. The certificate stays pending
// at the CA, /cert admin show says what step-ca answered, and step-ca's
// CRL does not name it; the next try, with the key fetched anew, is
// accepted, and step-ca's CRL names it.
func TestARefusedRevocationStaysPendingThroughTheServer(t *testing.T) {
	requireBed(t)
	requireBot(t)
	ca := startStepCA(t)
	cut := startCASwitch(t, ca.URL)
	user := newTestUser(t, "refused")
	behind := *ca
	behind.URL = cut.URL
	require.NoError(t, withPluginSettings(t, func(s map[string]any) {
		s["connectorsandprofiles"] = stepCACatalog(&behind, ca.Password, "step-ca behind a switch")
	}))
	waitForProfileDescription(t, user, "step", "step-ca behind a switch")
	file, _ := user.redeemJSON(t, mustLinkToken(t, user, "step"))
	leaf, issuer := requireIssuedByStepCA(t, ca, user, file, 24*time.Hour)
	serial := leaf.SerialNumber.Text(16)

	ca.rotateProvisionerKey(t)
	cut.setDown(true)
	reply := user.runCommand(t, "/cert revoke "+file.serial)
	cut.setDown(false)
	require.Contains(t, reply.Message, "could not be reached just now", reply.Message)

	// The job runs every minute: its next try is refused.
	logLineWith(t, 4*time.Minute, "A CA refused a revocation it was told again", file.serial)
	require.Contains(t, tableRowWith(user.runCommand(t, "/cert list").Message, file.serial), "revoked (pending at the CA)",
		"a refusal is no acceptance")
	require.Empty(t, serverLogLine(t, "accepted a revocation", file.serial), "a refusal is no acceptance")
	require.NotContains(t, crlSerials(ca.crl(t, issuer)), serial)
	admin := adminUser(t)
	show := admin.runCommand(t, "/cert admin show "+file.serial).Message
	require.Contains(t, show, "Pending at the CA", show)
	require.Contains(t, show, "lacked necessary authorization", "step-ca's own words: %s", show)

	// A try or two later the connector has the new key: step-ca accepts.
	require.Eventually(t, func() bool { return crlSerials(ca.crl(t, issuer))[serial] }, 4*time.Minute, 2*time.Second,
		"step-ca's CRL never named %s", file.serial)
	require.Eventually(t, func() bool {
		row := tableRowWith(user.runCommand(t, "/cert list").Message, file.serial)
		return strings.Contains(row, "revoked") && !strings.Contains(row, "pending")
	}, replyTimeout, time.Second)
	logLineWith(t, replyTimeout, "A CA accepted a revocation it missed", file.serial)
	require.NotContains(t, readFile(t, bed.mm.LogPath), ca.Password, "the provisioner password is never logged")
	require.NotContains(t, show, ca.Password)
}
