//go:build e2e

// Command certload drives a real Mattermost server as its users do and
// measures what a client certificate costs there. Each of many accounts gets
// a single-use link (the plugin's links API, or `/cert download` run as a
// command) and redeems it for a PKCS#12 file, or uploads a CSR; N
// certificates, C at once. It prints throughput, latency percentiles, errors
// and the CPU each certificate costs the Mattermost server, the plugin and
// PostgreSQL (read from /proc), beside the platform's own cost for the same
// requests and the floor (key generation, signing and PKCS#12 encoding in one
// process), all measured in the same run. Every file is checked after the
// timed part (it opens with its passphrase, holds the key and the chain),
// and every certificate must be listed for its owner. It also asks the
// built-in CA's OCSP responder what relying parties ask (-scenario ocsp),
// and checks every answer. The portal's local accounts get certificates
// the same way (-via portal), beside chat's links API; and a flood of wrong
// passwords on the portal's sign-in (-scenario signin) shows the throttle
// answering while the server stays quick for everyone else.
//
// By default it starts its own PostgreSQL and Mattermost on loopback with the
// plugin (MM_SERVER_DIR, CERTS_BUNDLE, as `make e2e`); with -url and
// -admin-token it loads a server someone else runs. `make bench` runs the
// whole set (-scenario bench) and writes a Markdown report.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

type options struct {
	scenario    string
	certs       int
	concurrency int
	users       int
	keyType     string
	path        string
	via         string
	profile     string
	warmup      int
	rounds      int
	baseline    int
	burst       int
	signInRate  int
	inventory   int
	ocsp        int
	crlRevoked  int
	layout      string
	report      string
	goBench     string
	keep        bool

	serverDir, bundle string
	url, adminToken   string
	mattermostPID     int
	postgresPID       int
}

func main() {
	var o options
	flag.StringVar(&o.scenario, "scenario", "flow", "flow (one load run), baseline, burst (RSA-4096 burst), signin (a flood of wrong passwords on the portal's sign-in), inventory (queries over many certificates), ocsp (relying parties asking the OCSP responder), crl (a revocation list of many, revoked and fetched), or bench (all of them, as `make bench`)")
	flag.IntVar(&o.certs, "n", 1000, "certificates to issue")
	flag.IntVar(&o.concurrency, "c", 20, "requests at once")
	flag.IntVar(&o.users, "users", 200, "distinct accounts")
	flag.StringVar(&o.keyType, "key", string(pki.KeyECDSAP256), "key type of server-made keys and CSRs")
	flag.StringVar(&o.path, "path", string(kindDownload), "download (the server makes the key, PKCS#12) or csr (the user's CSR)")
	flag.StringVar(&o.via, "via", "api", "api (POST /api/v1/links), command (/cert download through /api/v4/commands/execute), or portal (local accounts on the portal, measured in turns with the links API)")
	flag.StringVar(&o.profile, "profile", "", "profile to use on a server given with -url (default: the server's default)")
	flag.IntVar(&o.warmup, "warmup", 300, "certificates, DM posts and no-op requests before measuring")
	flag.IntVar(&o.baseline, "baseline", 1000, "requests of each baseline kind")
	flag.IntVar(&o.rounds, "rounds", 5, "turns in which the flow and the baselines are measured alternately")
	flag.IntVar(&o.burst, "burst", 50, "RSA-4096 requests that arrive at once in the burst scenario")
	flag.IntVar(&o.signInRate, "signin-rate", 200, "wrong passwords a second in the signin scenario (for 10 s)")
	flag.StringVar(&o.layout, "layout", "database", "where the inventory scenario puts its certificates: database, or kv (the layout of 0.1, for its bundle)")
	flag.IntVar(&o.inventory, "inventory", 100000, "certificates (for a tenth as many owners) the inventory scenario puts in the database")
	flag.IntVar(&o.ocsp, "ocsp", 20000, "OCSP requests the ocsp scenario sends")
	flag.IntVar(&o.crlRevoked, "crl-revoked", 100000, "revoked certificates the crl scenario puts in the database (its fetches are -baseline)")
	flag.StringVar(&o.report, "report", "", "write a Markdown report to this file")
	flag.StringVar(&o.goBench, "go-bench", "", "output of `go test -bench` to summarise in the report")
	flag.BoolVar(&o.keep, "keep", false, "keep the test bed's directory (logs, database)")
	flag.StringVar(&o.url, "url", "", "load this running server instead of starting one")
	flag.StringVar(&o.adminToken, "admin-token", "", "a system admin's token for -url")
	flag.IntVar(&o.mattermostPID, "mattermost-pid", 0, "with -url: the server's process, to measure its CPU (and its plugins')")
	flag.IntVar(&o.postgresPID, "postgres-pid", 0, "with -url: PostgreSQL's postmaster, to measure its CPU")
	flag.Parse()
	o.serverDir, o.bundle = os.Getenv("MM_SERVER_DIR"), os.Getenv("CERTS_BUNDLE")

	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "certload:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if err := o.validate(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	started := time.Now()
	var t *target
	var err error
	if o.url != "" {
		t, err = attach(ctx, o)
	} else {
		fmt.Println("Starting PostgreSQL and Mattermost with the plugin...")
		t, err = startBed(ctx, o)
	}
	if err != nil {
		return err
	}
	defer t.stop()

	withCommands := o.via == "command" || o.scenario == "bench"
	accounts, err := t.createAccounts(ctx, max(o.users, o.burst+1), withCommands)
	if err != nil {
		return err
	}
	defer func() {
		for _, a := range accounts {
			if a != nil && a.ws != nil {
				a.ws.Close()
			}
		}
	}()
	fmt.Printf("Ready in %s: Mattermost %s, %d accounts\n", time.Since(started).Round(time.Second), t.version, len(accounts))

	l := &load{o: o, t: t, accounts: accounts[:o.users], all: accounts}
	rep := &report{o: o, machine: machine(), goVersion: runtime.Version(), mattermost: t.version, started: started}
	if o.scenario != "burst" && o.scenario != "signin" && o.scenario != "inventory" && o.scenario != "ocsp" && o.scenario != "crl" {
		l.warmUp(ctx)
	}
	switch o.scenario {
	case "baseline":
		rep.baselines = l.baselines(ctx, o.baseline)
	case "flow":
		specs := []flowSpec{{keyType: pki.KeyType(o.keyType), path: linkKind(o.path), via: o.via, certs: o.certs}}
		if o.via == "portal" {
			// The portal is held to chat's links API measured in the
			// same turns.
			specs = []flowSpec{{keyType: pki.KeyType(o.keyType), path: kindDownload, via: "api", certs: o.certs},
				portalFlow(o, pki.KeyType(o.keyType), o.certs)}
		}
		rep.flows, rep.baselines = l.interleaved(ctx, specs, o.rounds)
	case "burst":
		rep.burst = l.burst(ctx)
	case "signin":
		if rep.signIn, err = l.signInFlood(ctx); err != nil {
			return err
		}
	case "ocsp":
		st, err := l.ocsp(ctx, o.ocsp)
		if err != nil {
			return err
		}
		rep.revocation = append(rep.revocation, st)
	case "crl":
		st, fetches, err := l.crl(ctx)
		if err != nil {
			return err
		}
		rep.crl, rep.revocation = st, append(rep.revocation, fetches...)
	case "inventory":
		if o.layout == "kv" {
			rep.inventory, err = l.inventoryKV(ctx)
		} else {
			rep.inventory, err = l.inventory(ctx)
		}
		if err != nil {
			return err
		}
	case "bench":
		specs := benchFlows(o)
		// The links API and the portal in turns with the baselines: the
		// portal is held to the links API of the same turns.
		rep.flows, rep.baselines = l.interleaved(ctx, specs[:2], o.rounds)
		for _, spec := range specs[2:] {
			if ctx.Err() != nil {
				break
			}
			rep.flows = append(rep.flows, l.flow(ctx, spec))
		}
		rep.burst = l.burst(ctx)
		// After every portal sign-in of the run: the flood leaves this
		// client's address throttled for a quarter of an hour.
		if ctx.Err() == nil {
			if rep.signIn, err = l.signInFlood(ctx); err != nil {
				return err
			}
		}
		if ctx.Err() == nil {
			st, err := l.ocsp(ctx, o.ocsp)
			if err != nil {
				return err
			}
			rep.revocation = append(rep.revocation, st)
		}
		if ctx.Err() == nil {
			if rep.inventory, err = l.inventory(ctx); err != nil {
				return err
			}
		}
		// Last: its revoked certificates would change what the
		// inventory's queries meet.
		if ctx.Err() == nil {
			st, fetches, err := l.crl(ctx)
			if err != nil {
				return err
			}
			rep.crl, rep.revocation = st, append(rep.revocation, fetches...)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	rep.print(os.Stdout)
	if o.report != "" {
		if err := rep.writeFile(o.report); err != nil {
			return err
		}
		fmt.Printf("Report written to %s\n", o.report)
	}
	return rep.failed()
}

// benchFlows is what `make bench` measures: server keys first (the default
// P-256 through the links API and the same on the portal, measured in
// turns; through the command; RSA-2048), then CSRs.
func benchFlows(o options) []flowSpec {
	prime := 2 * o.concurrency
	return []flowSpec{
		{keyType: pki.KeyECDSAP256, path: kindDownload, via: "api", certs: o.certs},
		portalFlow(o, pki.KeyECDSAP256, o.certs),
		{keyType: pki.KeyECDSAP256, path: kindDownload, via: "command", certs: max(1, o.certs/5), prime: prime},
		{keyType: pki.KeyRSA2048, path: kindDownload, via: "api", certs: max(1, o.certs/10), prime: prime},
		{keyType: pki.KeyECDSAP256, path: kindCSR, via: "api", certs: o.certs, prime: prime},
	}
}

// portalFlow is a local account's certificate on the portal: New
// certificate, then Create; primed, as its session pages are not warmed up.
func portalFlow(o options, kt pki.KeyType, certs int) flowSpec {
	return flowSpec{keyType: kt, path: kindDownload, via: "portal", certs: certs, prime: 2 * o.concurrency}
}

func (o options) validate() error {
	switch o.scenario {
	case "flow", "baseline", "burst", "signin", "inventory", "ocsp", "crl", "bench":
	default:
		return fmt.Errorf("-scenario must be flow, baseline, burst, signin, inventory, ocsp, crl or bench")
	}
	if _, err := pki.ParseKeyType(o.keyType); err != nil {
		return err
	}
	if o.path != string(kindDownload) && o.path != string(kindCSR) {
		return fmt.Errorf("-path must be download or csr")
	}
	if o.via != "api" && o.via != "command" && o.via != "portal" {
		return fmt.Errorf("-via must be api, command or portal")
	}
	if o.via == "portal" && o.path != string(kindDownload) {
		return fmt.Errorf("-via portal measures server keys only (-path download)")
	}
	if o.certs < 1 || o.concurrency < 1 || o.users < 1 || o.burst < 1 || o.rounds < 1 || o.ocsp < 1 || o.crlRevoked < 1 || o.signInRate < 1 {
		return fmt.Errorf("-n, -c, -users, -burst, -rounds, -ocsp, -crl-revoked and -signin-rate must be at least 1")
	}
	if o.certs < o.rounds || o.baseline < o.rounds {
		return fmt.Errorf("-n and -baseline must be at least -rounds")
	}
	if o.url != "" {
		if o.adminToken == "" {
			return fmt.Errorf("-url needs -admin-token")
		}
		if o.scenario == "burst" || o.scenario == "signin" || o.scenario == "inventory" || o.scenario == "crl" || o.scenario == "bench" || o.via == "portal" {
			return fmt.Errorf("-scenario %s -via %s needs the tool's own test bed (its profiles, its local accounts); leave out -url", o.scenario, o.via)
		}
		return nil
	}
	if o.serverDir == "" || o.bundle == "" {
		return fmt.Errorf("set MM_SERVER_DIR and CERTS_BUNDLE (as `make bench` does), or load a running server with -url and -admin-token")
	}
	return nil
}
