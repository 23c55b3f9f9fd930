//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"software.sslmate.com/src/go-pkcs12"
)

const (
	// stepCABuildTimeout bounds `go build` of stepca-dev: cold (no build
	// cache) it compiles step-ca's ~300 modules, 3-4 minutes on two CPUs;
	// after `make stepca-test` it only links, a few seconds.
	stepCABuildTimeout = 10 * time.Minute
	// stepCAStartTimeout bounds the wait for stepca-dev's JSON line.
	stepCAStartTimeout = time.Minute
	// stepCAStopGrace is how long stepca-dev gets to stop after SIGTERM.
	stepCAStopGrace = 15 * time.Second
	// settingsTimeout bounds the wait for a saved setting to reach the plugin.
	settingsTimeout = 20 * time.Second
)

// stepCA is a running stepca-dev: a real step-ca on 127.0.0.1.
type stepCA struct {
	URL         string `json:"url"`
	Fingerprint string `json:"fingerprint"`
	Provisioner string `json:"provisioner"`
	Password    string `json:"password"`
	RootPEM     string `json:"root_pem"`

	root   *x509.Certificate
	client *http.Client // trusts root only
	// pid is stepca-dev's process; logPath its standard error.
	pid     int
	logPath string
}

// startStepCA builds cmd/stepca-dev of the stepcatest module into the test's
// temporary directory, starts it with a random provisioner password, and
// stops it (by PID) when the test ends.
func startStepCA(t *testing.T) *stepCA {
	t.Helper()
	dir := t.TempDir()
	moduleDir, err := filepath.Abs(filepath.Join("..", "server", "connector", "stepcatest"))
	require.NoError(t, err)
	bin := filepath.Join(dir, "stepca-dev")

	buildCtx, cancel := context.WithTimeout(context.Background(), stepCABuildTimeout)
	defer cancel()
	started := time.Now()
	build := exec.CommandContext(buildCtx, "go", "build", "-o", bin, "./cmd/stepca-dev")
	build.Dir = moduleDir
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build ./cmd/stepca-dev in %s (limit %s):\n%s", moduleDir, stepCABuildTimeout, out)
	t.Logf("built stepca-dev in %s", time.Since(started).Round(100*time.Millisecond))

	secret := make([]byte, 12)
	_, err = rand.Read(secret)
	require.NoError(t, err)
	password := "e2e-step-" + hex.EncodeToString(secret)

	logPath := filepath.Join(dir, "stepca-dev.log")
	logFile, err := os.Create(logPath)
	require.NoError(t, err)
	defer logFile.Close() // the child has its own descriptor
	stdoutR, stdoutW, err := os.Pipe()
	require.NoError(t, err)
	cmd := exec.Command(bin, "-provisioner", "mattermost-e2e", "-password", password)
	cmd.Dir = dir
	cmd.Stdout = stdoutW
	cmd.Stderr = logFile
	// Dies with the test binary even if its cleanup never runs; its own
	// process group keeps a terminal's Ctrl-C for TestMain's handler.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	started = time.Now()
	require.NoError(t, cmd.Start())
	_ = stdoutW.Close()
	done := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		defer stdoutR.Close()
		if err := stopChild(cmd, done, stepCAStopGrace); err != nil {
			t.Errorf("stopping stepca-dev: %v\n%s", err, fileTail(logPath, 30))
			return
		}
		if waitErr != nil {
			t.Errorf("stepca-dev (pid %d) did not stop cleanly after SIGTERM: %v\n%s", cmd.Process.Pid, waitErr, fileTail(logPath, 30))
		}
	})

	lines := make(chan string, 1)
	readErr := make(chan error, 1)
	go func() {
		reader := bufio.NewReader(stdoutR)
		line, err := reader.ReadString('\n')
		if err != nil {
			readErr <- err
			return
		}
		lines <- line
		_, _ = io.Copy(io.Discard, reader)
	}()
	var line string
	select {
	case line = <-lines:
	case err := <-readErr:
		<-done
		t.Fatalf("stepca-dev exited before printing its JSON line (%v, exit: %v):\n%s", err, waitErr, fileTail(logPath, 30))
	case <-time.After(stepCAStartTimeout):
		t.Fatalf("stepca-dev printed nothing within %s:\n%s", stepCAStartTimeout, fileTail(logPath, 30))
	}

	ca := &stepCA{pid: cmd.Process.Pid, logPath: logPath}
	require.NoError(t, json.Unmarshal([]byte(line), ca), "stepca-dev's line: %s", line)
	block, _ := pem.Decode([]byte(ca.RootPEM))
	require.NotNil(t, block, "root_pem is not PEM: %q", ca.RootPEM)
	ca.root, err = x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	sum := sha256.Sum256(ca.root.Raw)
	require.Equal(t, hex.EncodeToString(sum[:]), ca.Fingerprint, "fingerprint must be the root's SHA-256 in hex")
	require.Equal(t, "mattermost-e2e", ca.Provisioner)
	require.Equal(t, password, ca.Password)
	require.Regexp(t, `^https://127\.0\.0\.1:\d+$`, ca.URL)
	pool := x509.NewCertPool()
	pool.AddCert(ca.root)
	ca.client = &http.Client{
		Timeout:   requestTimeout,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
	}
	t.Cleanup(ca.client.CloseIdleConnections)
	t.Logf("step-ca (stepca-dev pid %d) at %s ready in %s; log %s", cmd.Process.Pid, ca.URL, time.Since(started).Round(10*time.Millisecond), logPath)
	return ca
}

// stopChild sends SIGTERM to the process by PID, waits up to grace, then
// kills it.
func stopChild(cmd *exec.Cmd, done <-chan struct{}, grace time.Duration) error {
	select {
	case <-done:
		return nil
	default:
	}
	if err := syscall.Kill(cmd.Process.Pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("SIGTERM to pid %d: %w", cmd.Process.Pid, err)
	}
	select {
	case <-done:
		return nil
	case <-time.After(grace):
	}
	_ = syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
	return fmt.Errorf("pid %d ignored SIGTERM for %s and was killed", cmd.Process.Pid, grace)
}

// fileTail returns the last lines of a file, for failure messages.
func fileTail(path string, lines int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// crl fetches step-ca's current CRL (DER) and checks its signature.
func (ca *stepCA) crl(t *testing.T, issuer *x509.Certificate) *x509.RevocationList {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ca.URL+"/1.0/crl", nil)
	require.NoError(t, err)
	resp, err := ca.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	der, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s/1.0/crl: %s", ca.URL, der)
	list, err := x509.ParseRevocationList(der)
	require.NoError(t, err, "the CRL must be DER")
	require.NoError(t, list.CheckSignatureFrom(issuer), "the CRL must be signed by the issuing CA")
	return list
}

// stepCACatalog is a catalog with one step-ca connector "corp" and one
// profile "step"; the description tells one saved catalog from another.
func stepCACatalog(ca *stepCA, password, description string) string {
	catalog := map[string]any{
		"connectors": []any{map[string]any{
			"name": "corp",
			"type": "stepca",
			"stepca": map[string]any{
				"url":                  ca.URL,
				"root_fingerprint":     ca.Fingerprint,
				"provisioner":          ca.Provisioner,
				"provisioner_password": password,
				"timeout_seconds":      15,
			},
		}},
		"profiles": []any{map[string]any{
			"name":          "step",
			"description":   description,
			"connector":     "corp",
			"validity_days": 1,
		}},
	}
	data, err := json.Marshal(catalog)
	if err != nil {
		panic(err)
	}
	return string(data)
}

// savePluginSettings saves the plugin's settings like withPluginSettings but
// registers no restore: for the second and later changes in a test that
// called withPluginSettings once (whose cleanup restores the original).
func savePluginSettings(t *testing.T, change func(map[string]any)) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, _, err := bed.admin.Client.GetConfig(ctx)
	require.NoError(t, err)
	settings := map[string]any{}
	for k, v := range cfg.PluginSettings.Plugins[pluginID] {
		settings[k] = v
	}
	change(settings)
	cfg.PluginSettings.Plugins[pluginID] = settings
	_, _, err = bed.admin.Client.UpdateConfig(ctx, cfg)
	return err
}

// waitForProfileDescription waits until u is offered exactly one profile,
// name, with this description: the sign that a saved catalog is in effect.
func waitForProfileDescription(t *testing.T, u *testUser, name, description string) {
	t.Helper()
	deadline := time.Now().Add(settingsTimeout)
	var last string
	for time.Now().Before(deadline) {
		reply := pluginRequest(t, http.MethodGet, "/api/v1/profiles", nil, u.Token(), "application/json")
		last = reply.String()
		var profiles []struct {
			Name        string `json:"name"`
			Description string `json:"description"`
		}
		if reply.status == http.StatusOK && json.Unmarshal([]byte(reply.body), &profiles) == nil &&
			len(profiles) == 1 && profiles[0].Name == name && profiles[0].Description == description {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("the plugin never offered %s only profile %q (%q) within %s; last answer: %s", u.name(), name, description, settingsTimeout, last)
}

// linkForProfile asks POST /api/v1/links for a link of profile name, as u.
func (u *testUser) linkForProfile(t *testing.T, name string) (token string, expiresAt time.Time) {
	t.Helper()
	reply := pluginJSON(t, "/api/v1/links", u.Token(), map[string]string{"profile": name})
	require.Equal(t, http.StatusCreated, reply.status, "POST /api/v1/links for %s as %s: %s", name, u.name(), reply.body)
	var link struct {
		URL       string    `json:"url"`
		ExpiresAt time.Time `json:"expires_at"`
		Profile   string    `json:"profile"`
	}
	require.NoError(t, json.Unmarshal([]byte(reply.body), &link), "links answer: %s", reply.body)
	require.Equal(t, name, link.Profile)
	return tokenOf(t, link.URL), link.ExpiresAt
}

// requireIssuedByStepCA opens the PKCS#12 and checks that its leaf is a
// client certificate for u that chains to the step-ca root through the
// intermediates in the file; it returns the leaf and its issuer.
func requireIssuedByStepCA(t *testing.T, ca *stepCA, u *testUser, file issuedFile, validity time.Duration) (*x509.Certificate, *x509.Certificate) {
	t.Helper()
	_, leaf, chain, err := pkcs12.DecodeChain(file.pkcs12, file.passphrase)
	require.NoError(t, err)
	require.NotEmpty(t, chain, "the PKCS#12 must carry the CA chain")
	intermediates := x509.NewCertPool()
	for _, c := range chain {
		intermediates.AddCert(c)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.root)
	paths, err := leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: intermediates,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	require.NoError(t, err, "the leaf must verify against step-ca's root as a client certificate (issuer %q)", leaf.Issuer)
	require.GreaterOrEqual(t, len(paths[0]), 3, "leaf, step-ca intermediate, root")
	require.True(t, paths[0][len(paths[0])-1].Equal(ca.root))

	require.Equal(t, u.name(), leaf.Subject.CommonName)
	require.Contains(t, leaf.EmailAddresses, u.User.Email)
	// The plugin makes the CSR of a server key, so step-ca certifies the
	// account's id too.
	requireIdentityURI(t, leaf, u.User.Id)
	require.WithinDuration(t, time.Now().Add(validity), leaf.NotAfter, 10*time.Minute,
		"the profile's validity_days must set the lifetime (NotAfter %s)", leaf.NotAfter)
	return leaf, paths[0][1]
}

// TestStepCAThroughTheServer: a catalog with a step-ca connector, saved
// through the admin API, issues through a real step-ca; its password is
// sealed out of the config; the served chain is step-ca's; revocation reaches
// step-ca's CRL; a wrong password is an administrator's problem that burns no
// link.
func TestStepCAThroughTheServer(t *testing.T) {
	requireBed(t)
	requireBot(t)
	// Started first, so it is stopped after the settings are restored.
	ca := startStepCA(t)
	user := newTestUser(t, "stepca")

	require.NoError(t, withPluginSettings(t, func(s map[string]any) {
		s["connectorsandprofiles"] = stepCACatalog(ca, ca.Password, "step-ca")
	}))
	waitForProfileDescription(t, user, "step", "step-ca")

	// The password is sealed: neither the config the API serves nor the
	// file on disk holds it.
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	cfg, _, err := bed.admin.Client.GetConfig(ctx)
	require.NoError(t, err)
	saved, _ := cfg.PluginSettings.Plugins[pluginID]["connectorsandprofiles"].(string)
	require.NotContains(t, saved, ca.Password, "the provisioner password must not be kept in the settings")
	require.Regexp(t, regexp.MustCompile(`"provisioner_password":\s*"(sealed:[^"]+|\*+)"`), saved)
	configFile, err := os.ReadFile(filepath.Join(bed.mm.WorkDir, "config", "config.json"))
	require.NoError(t, err)
	require.NotContains(t, string(configFile), ca.Password, "the provisioner password must not reach config.json")
	require.Contains(t, string(configFile), `sealed:`)

	// Issue through the API link and the real step-ca.
	token, _ := user.linkForProfile(t, "step")
	file, _ := user.redeemJSON(t, token)
	leaf, issuer := requireIssuedByStepCA(t, ca, user, file, 24*time.Hour)

	// The chain the plugin serves for the connector is step-ca's.
	reply := pluginRequest(t, http.MethodGet, "/ca/corp.pem", nil, "", "")
	require.Equal(t, http.StatusOK, reply.status, "GET /ca/corp.pem: %s", reply)
	served := pemCertificates(t, reply.body)
	require.GreaterOrEqual(t, len(served), 2, "issuing CA and root:\n%s", reply.body)
	require.True(t, served[len(served)-1].Equal(ca.root), "/ca/corp.pem must end with step-ca's root")
	require.True(t, served[0].Equal(issuer), "/ca/corp.pem must start with the CA that signed the leaf")
	// "step" is the only, so the default, profile: /ca.pem is the same chain.
	defaultChain := fetchCAChain(t)
	require.True(t, defaultChain[len(defaultChain)-1].Equal(ca.root), "/ca.pem must be the default profile's (step-ca's) chain")

	// The owner revokes it; step-ca's CRL lists it.
	require.NotContains(t, crlSerials(ca.crl(t, issuer)), leaf.SerialNumber.Text(16), "not revoked yet")
	revoked := user.runCommand(t, "/cert revoke "+file.serial)
	require.Contains(t, revoked.Message, "is now revoked", "reply to /cert revoke: %s", revoked.Message)
	deadline := time.Now().Add(settingsTimeout)
	for !crlSerials(ca.crl(t, issuer))[leaf.SerialNumber.Text(16)] {
		require.True(t, time.Now().Before(deadline), "step-ca's CRL does not list %s within %s", file.serial, settingsTimeout)
		time.Sleep(200 * time.Millisecond)
	}
	list := user.runCommand(t, "/cert list")
	require.Contains(t, tableRowWith(list.Message, file.serial), "revoked", "/cert list: %s", list.Message)

	t.Run("CSR upload", func(t *testing.T) {
		// step-ca signs the CSR's own names, so they must be the account's.
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		csrOf := func(commonName string, emails ...string) string {
			der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
				Subject: pkix.Name{CommonName: commonName}, EmailAddresses: emails}, key)
			require.NoError(t, err)
			return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
		}
		other := pluginJSON(t, "/api/v1/csr", user.Token(), map[string]string{"profile": "step", "csr": csrOf("someone-else", user.User.Email)})
		require.Equal(t, http.StatusUnprocessableEntity, other.status, other.String())
		require.Contains(t, other.body, "common name must be")

		signed := pluginJSON(t, "/api/v1/csr", user.Token(), map[string]string{"profile": "step", "csr": csrOf(user.name(), user.User.Email)})
		require.Equal(t, http.StatusCreated, signed.status, signed.String())
		var answer signedAnswer
		require.NoError(t, json.Unmarshal([]byte(signed.body), &answer))
		certs := pemCertificates(t, answer.CertificatePEM)
		require.NotEmpty(t, certs)
		require.True(t, certs[0].PublicKey.(*ecdsa.PublicKey).Equal(&key.PublicKey), "step-ca certified the user's key")
		roots := x509.NewCertPool()
		roots.AddCert(ca.root)
		intermediates := x509.NewCertPool()
		for _, c := range certs[1:] {
			intermediates.AddCert(c)
		}
		_, err = certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: intermediates, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
		require.NoError(t, err, "the certificate chains to step-ca's root")
		require.Equal(t, []string{user.User.Email}, certs[0].EmailAddresses)
		// step-ca signs the CSR's names: the user's CSR has no id URI, so
		// the certificate has none; the record keeps the owner's id.
		require.Empty(t, certs[0].URIs)
	})

	t.Run("wrong settings are refused at save", func(t *testing.T) {
		wrong := ca.Password + "-wrong"
		err := savePluginSettings(t, func(s map[string]any) {
			s["connectorsandprofiles"] = stepCACatalog(ca, wrong, "wrong password")
		})
		require.Error(t, err, "a provisioner password that does not decrypt its key")
		require.Contains(t, err.Error(), `connector "corp"`)
		require.Contains(t, err.Error(), "provisioner password does not decrypt")
		require.NotContains(t, err.Error(), wrong)

		badRoot := *ca
		badRoot.Fingerprint = strings.Repeat("ab", 32)
		err = savePluginSettings(t, func(s map[string]any) {
			s["connectorsandprofiles"] = stepCACatalog(&badRoot, ca.Password, "wrong root")
		})
		require.Error(t, err, "a root fingerprint that is not the CA's")
		require.Contains(t, err.Error(), `connector "corp"`)

		// Nothing was saved: the connector still issues with the settings
		// that work.
		file, _ := user.redeemJSON(t, mustLinkToken(t, user, "step"))
		requireIssuedByStepCA(t, ca, user, file, 24*time.Hour)
	})

	// Nothing of it was ever logged.
	logData, err := os.ReadFile(bed.mm.LogPath)
	require.NoError(t, err)
	require.NotContains(t, string(logData), ca.Password, "the provisioner password must never be logged")
	// Nor audited: the saves above are audited by connector and field name.
	auditText, lines := auditRecords(t)
	require.NotContains(t, auditText, ca.Password, "the provisioner password must never be in the audit file")
	sawCorp := false
	for _, l := range lines {
		if connectors, ok := l.Meta["connectors"].(map[string]any); ok && l.EventName == "certsUpdateSettings" {
			sawCorp = sawCorp || strings.Contains(fmt.Sprint(connectors), "corp")
		}
	}
	require.True(t, sawCorp, "the step-ca connector's settings changes are audited")
}

// crlSerials is the set of revoked serials in lowercase hex.
func crlSerials(list *x509.RevocationList) map[string]bool {
	serials := map[string]bool{}
	for _, entry := range list.RevokedCertificateEntries {
		serials[entry.SerialNumber.Text(16)] = true
	}
	return serials
}

// mustLinkToken is a fresh link's token for a profile.
func mustLinkToken(t *testing.T, u *testUser, profileName string) string {
	t.Helper()
	token, _ := u.linkForProfile(t, profileName)
	return token
}
