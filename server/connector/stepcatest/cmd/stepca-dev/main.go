// Command stepca-dev runs a real step-ca (smallstep/certificates, in-process)
// on 127.0.0.1 for development and end-to-end tests of the plugin's step-ca
// connector.
//
// It prints one line of JSON to standard output once the CA answers:
//
//	{"url": "https://127.0.0.1:<port>", "fingerprint": "<root SHA-256 hex>",
//	 "provisioner": "<JWK provisioner>", "password": "<its password>",
//	 "root_pem": "<root certificate PEM>"}
//
// and serves until SIGINT or SIGTERM, then stops the CA and removes its files
// (unless -dir names a directory to keep them in; every start makes a new root
// all the same). The JWK provisioner issues certificates of up to
// -max-duration (default 2160h = 90 days); the CRL is at <url>/1.0/crl and is
// regenerated on every revocation. SIGHUP rotates the provisioner's key (a
// new key under the same password; the CA is reloaded, and tokens signed
// with the old key are refused from then on) and prints "stepca-dev:
// provisioner key rotated" to standard error. Everything else step-ca logs
// goes to standard error.
//
//	cd server/connector/stepcatest && go run ./cmd/stepca-dev
package main

import (
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/connector/stepcatest"
)

// info is the line printed on standard output.
type info struct {
	URL         string `json:"url"`
	Fingerprint string `json:"fingerprint"`
	Provisioner string `json:"provisioner"`
	Password    string `json:"password"`
	RootPEM     string `json:"root_pem"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "stepca-dev: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		dir         = flag.String("dir", "", "write the CA's files (keys, ca.json, database) here and keep them on exit; every start still makes a new root and key (default: a temporary directory removed on exit)")
		provisioner = flag.String("provisioner", "mattermost", "name of the JWK provisioner")
		password    = flag.String("password", "", "password of the JWK provisioner's key (default: \"provisioner-password\")")
		maxDuration = flag.Duration("max-duration", 2160*time.Hour, "longest certificate the provisioner issues")
		defDuration = flag.Duration("default-duration", 24*time.Hour, "lifetime of a certificate that asks for none (at most -max-duration)")
	)
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (see -help)", flag.Args())
	}
	defaultSet := false
	flag.Visit(func(f *flag.Flag) { defaultSet = defaultSet || f.Name == "default-duration" })
	if !defaultSet && *maxDuration < *defDuration {
		*defDuration = *maxDuration
	}
	if *maxDuration < *defDuration {
		return fmt.Errorf("-max-duration %s is shorter than -default-duration %s", *maxDuration, *defDuration)
	}

	// Signals first: a SIGTERM during start-up must still stop the CA cleanly.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)

	workDir := *dir
	if workDir == "" {
		tmp, err := os.MkdirTemp("", "stepca-dev-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		workDir = tmp
	} else if err := os.MkdirAll(workDir, 0o700); err != nil {
		return err
	}
	// StartAuthority points STEPPATH at an empty directory of its own so no
	// ~/.step configuration is read; remove it as well when we leave.
	defer removeStepPath()

	authority, err := stepcatest.StartAuthority(workDir, stepcatest.Options{
		Provisioner:        *provisioner,
		Password:           *password,
		MaxTLSDuration:     *maxDuration,
		DefaultTLSDuration: *defDuration,
	})
	if err != nil {
		return err
	}
	defer authority.Stop()

	line, err := json.Marshal(info{
		URL:         authority.URL,
		Fingerprint: authority.Fingerprint,
		Provisioner: authority.Provisioner,
		Password:    authority.Password,
		RootPEM:     string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: authority.Root.Raw})),
	})
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(os.Stdout, "%s\n", line); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "stepca-dev: step-ca serving on %s (provisioner %q, root fingerprint %s, files in %s); Ctrl-C stops it\n",
		authority.URL, authority.Provisioner, authority.Fingerprint, workDir)

	for sig := range signals {
		if sig == syscall.SIGHUP {
			if err := authority.RotateProvisionerKey(); err != nil {
				fmt.Fprintf(os.Stderr, "stepca-dev: rotating the provisioner key: %v\n", err)
				continue
			}
			fmt.Fprintf(os.Stderr, "stepca-dev: provisioner key rotated\n")
			continue
		}
		fmt.Fprintf(os.Stderr, "stepca-dev: %s: stopping step-ca\n", sig)
		break
	}
	return nil
}

// removeStepPath removes the empty STEPPATH directory stepcatest created, and
// nothing else.
func removeStepPath() {
	path := os.Getenv("STEPPATH")
	if path == "" || !strings.HasPrefix(filepath.Base(path), "stepca-home-") ||
		filepath.Dir(path) != filepath.Clean(os.TempDir()) {
		return
	}
	_ = os.RemoveAll(path)
}
