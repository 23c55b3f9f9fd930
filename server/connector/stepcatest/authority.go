// Package stepcatest runs a real step-ca (smallstep/certificates) in-process
// for tests of the plugin's step-ca connector. It lives in its own module so
// the authority's ~300 modules never reach the plugin's go.mod or binary.
package stepcatest

import (
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
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/smallstep/certificates/authority/config"
	"github.com/smallstep/certificates/ca"
	"go.step.sm/crypto/jose"
	"go.step.sm/crypto/pemutil"
)

// Options shape the authority. Zero values give the defaults.
type Options struct {
	// Provisioner is the JWK provisioner's name ("mattermost").
	Provisioner string
	// Password encrypts the provisioner key ("provisioner-password").
	Password string
	// MaxTLSDuration is the provisioner's maximum certificate duration
	// (2160h); DefaultTLSDuration its default (24h).
	MaxTLSDuration     time.Duration
	DefaultTLSDuration time.Duration
}

// Authority is a running step-ca on 127.0.0.1.
type Authority struct {
	// URL is https://127.0.0.1:<port>.
	URL string
	// Root and Intermediate are the CA's certificates; Fingerprint is the
	// root's SHA-256 in hex, as step-ca prints it.
	Root         *x509.Certificate
	Intermediate *x509.Certificate
	Fingerprint  string
	// Provisioner and Password are the JWK provisioner's name and password.
	// An ACME provisioner named "acme" exists too.
	Provisioner string
	Password    string
	// Client trusts the root; use it to read the CA's CRL.
	Client *http.Client

	srv      *ca.CA
	stopOnce sync.Once
	// cfgPath is the CA's ca.json, which RotateProvisionerKey rewrites.
	cfgPath string
}

var setup sync.Once

// Start runs a new authority in a temporary directory; it stops when the test
// ends.
func Start(tb testing.TB, opts Options) *Authority {
	tb.Helper()
	a, err := StartAuthority(tb.TempDir(), opts)
	if err != nil {
		tb.Fatalf("start step-ca: %v", err)
	}
	tb.Cleanup(a.Stop)
	return a
}

// StartAuthority runs a new authority whose files (keys, ca.json, database)
// live in dir, which must exist; the caller removes it after Stop. It is
// Start without a test, for programs such as cmd/stepca-dev.
func StartAuthority(dir string, opts Options) (*Authority, error) {
	setup.Do(func() {
		// Never read ~/.step: no default identity, no default context.
		ca.DisableIdentity = true
		home, err := os.MkdirTemp("", "stepca-home-")
		if err != nil {
			panic(err)
		}
		_ = os.Setenv("STEPPATH", home)
	})
	if opts.Provisioner == "" {
		opts.Provisioner = "mattermost"
	}
	if opts.Password == "" {
		opts.Password = "provisioner-password"
	}
	if opts.MaxTLSDuration == 0 {
		opts.MaxTLSDuration = 2160 * time.Hour
	}
	if opts.DefaultTLSDuration == 0 {
		opts.DefaultTLSDuration = 24 * time.Hour
	}
	return start(dir, opts)
}

// Stop stops the authority; later requests find the port closed. Safe to
// call more than once.
func (a *Authority) Stop() {
	a.stopOnce.Do(func() {
		_ = a.srv.Stop()
		a.Client.CloseIdleConnections()
	})
}

func start(dir string, opts Options) (*Authority, error) {
	now := time.Now()
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	root, err := createCert(&x509.Certificate{
		Subject:               pkix.Name{CommonName: "Test step-ca Root CA", Organization: []string{"Example Corp"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            1,
	}, nil, &rootKey.PublicKey, rootKey)
	if err != nil {
		return nil, err
	}
	interKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	inter, err := createCert(&x509.Certificate{
		Subject:               pkix.Name{CommonName: "Test step-ca Intermediate CA", Organization: []string{"Example Corp"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(5 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}, root, &interKey.PublicKey, rootKey)
	if err != nil {
		return nil, err
	}

	// The intermediate key is encrypted with the same password the CA is
	// started with (ca.WithPassword).
	const keyPassword = "intermediate-password"
	keyBlock, err := pemutil.Serialize(interKey, pemutil.WithPassword([]byte(keyPassword)))
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{
		"root_ca.crt":         pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}),
		"intermediate_ca.crt": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: inter.Raw}),
		"intermediate_ca_key": pem.EncodeToMemory(keyBlock),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return nil, err
		}
	}

	pub, jwe, err := jose.GenerateDefaultKeyPair([]byte(opts.Password))
	if err != nil {
		return nil, err
	}
	encryptedKey, err := jwe.CompactSerialize()
	if err != nil {
		return nil, err
	}

	addr, err := freeAddress()
	if err != nil {
		return nil, err
	}
	cfg := map[string]any{
		"root":     filepath.Join(dir, "root_ca.crt"),
		"crt":      filepath.Join(dir, "intermediate_ca.crt"),
		"key":      filepath.Join(dir, "intermediate_ca_key"),
		"address":  addr,
		"dnsNames": []string{"127.0.0.1", "localhost"},
		"logger":   map[string]any{"format": "text"},
		"db":       map[string]any{"type": "badgerv2", "dataSource": filepath.Join(dir, "db")},
		"crl": map[string]any{
			"enabled":          true,
			"generateOnRevoke": true,
			"cacheDuration":    "24h",
		},
		"authority": map[string]any{
			"provisioners": []any{
				map[string]any{
					"type":         "JWK",
					"name":         opts.Provisioner,
					"key":          pub,
					"encryptedKey": encryptedKey,
					"claims": map[string]any{
						"minTLSCertDuration":     "5m",
						"maxTLSCertDuration":     opts.MaxTLSDuration.String(),
						"defaultTLSCertDuration": opts.DefaultTLSDuration.String(),
					},
				},
				map[string]any{"type": "ACME", "name": "acme"},
			},
		},
	}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "ca.json")
	if err := os.WriteFile(cfgPath, data, 0o600); err != nil {
		return nil, err
	}

	loaded, err := config.LoadConfiguration(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("load ca.json: %w", err)
	}
	srv, err := ca.New(loaded, ca.WithConfigFile(cfgPath), ca.WithPassword([]byte(keyPassword)), ca.WithQuiet(true))
	if err != nil {
		return nil, fmt.Errorf("new CA: %w", err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- srv.Run() }()

	pool := x509.NewCertPool()
	pool.AddCert(root)
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
	}
	sum := sha256.Sum256(root.Raw)
	a := &Authority{
		URL:          "https://" + addr,
		Root:         root,
		Intermediate: inter,
		Fingerprint:  hex.EncodeToString(sum[:]),
		Provisioner:  opts.Provisioner,
		Password:     opts.Password,
		Client:       client,
		srv:          srv,
		cfgPath:      cfgPath,
	}
	if err := a.waitHealthy(runErr); err != nil {
		a.Stop()
		return nil, err
	}
	return a, nil
}

// RotateProvisionerKey gives the JWK provisioner a new key, encrypted
// with the same password, and reloads the CA, as an operator rotating the
// key does: tokens signed with the old key are refused (401) from then on,
// and a client that fetches the provisioner's key again gets the new one.
func (a *Authority) RotateProvisionerKey() error {
	pub, jwe, err := jose.GenerateDefaultKeyPair([]byte(a.Password))
	if err != nil {
		return err
	}
	encryptedKey, err := jwe.CompactSerialize()
	if err != nil {
		return err
	}
	data, err := os.ReadFile(a.cfgPath)
	if err != nil {
		return err
	}
	var cfg map[string]any
	if err := json.Unmarshal(data, &cfg); err != nil {
		return err
	}
	authority, _ := cfg["authority"].(map[string]any)
	provisioners, _ := authority["provisioners"].([]any)
	rotated := false
	for _, p := range provisioners {
		if p, ok := p.(map[string]any); ok && p["type"] == "JWK" && p["name"] == a.Provisioner {
			p["key"], p["encryptedKey"] = pub, encryptedKey
			rotated = true
		}
	}
	if !rotated {
		return fmt.Errorf("no JWK provisioner %q in %s", a.Provisioner, a.cfgPath)
	}
	if data, err = json.MarshalIndent(cfg, "", "  "); err != nil {
		return err
	}
	if err := os.WriteFile(a.cfgPath, data, 0o600); err != nil {
		return err
	}
	return a.srv.Reload()
}

func (a *Authority) waitHealthy(runErr <-chan error) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-runErr:
			return fmt.Errorf("step-ca stopped: %w", err)
		default:
		}
		resp, err := a.Client.Get(a.URL + "/health")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("step-ca at %s not healthy after 30 s: %v", a.URL, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// CRL fetches and parses the CA's current CRL (GET /1.0/crl, DER), checking
// its signature against the intermediate.
func (a *Authority) CRL(ctx context.Context) (*x509.RevocationList, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.URL+"/1.0/crl", nil)
	if err != nil {
		return nil, err
	}
	resp, err := a.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	der, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /1.0/crl: HTTP %d: %s", resp.StatusCode, der)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, err
	}
	if err := crl.CheckSignatureFrom(a.Intermediate); err != nil {
		return nil, fmt.Errorf("CRL signature: %w", err)
	}
	return crl, nil
}

func createCert(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// freeAddress picks a free loopback port. ca.CA does not expose its
// listener, so there is a small window in which another process could take
// it; Start fails then rather than hanging.
func freeAddress() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return "", err
	}
	if addr == "" {
		return "", errors.New("no free port")
	}
	return addr, nil
}
