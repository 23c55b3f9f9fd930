//go:build e2e

// Command devserver runs PostgreSQL and Mattermost on loopback with the
// plugin installed, for trying it by hand (`make run`). Data lives in
// RUN_DIR and survives restarts. Ctrl-C stops both servers.
//
// Environment: MM_SERVER_DIR (built server), CERTS_BUNDLE (plugin bundle),
// RUN_DIR (data directory); optional MM_PORT and PG_PORT, DEX_BIN (a
// Dex for the portal's single sign-on) and CERTS_HOST_PAGE (the built host
// page served at /, which runs the plugin's webapp bundle; by default
// webapp/host/dist when it has been built).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/clientcerts/mattermost-plugin-certs/e2e/testbed"
	"github.com/clientcerts/mattermost-plugin-certs/server/mailer/smtptest"
)

const (
	defaultMattermostPort = 8065
	// Mattermost's own default for its metrics listener.
	defaultMetricsPort = 8067
	// Not 5432, so a system PostgreSQL can keep its usual port.
	defaultPostgresPort = 5433

	teamName = "demo"
	// Fixed, printed credentials: this server listens on loopback only.
	adminUsername = "admin"
	adminPassword = "Admin-passw0rd!"
	demoUsername  = "demo"
	demoPassword  = "Demo-passw0rd!"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "devserver: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	serverDir, bundle, runDir := os.Getenv("MM_SERVER_DIR"), os.Getenv("CERTS_BUNDLE"), os.Getenv("RUN_DIR")
	if serverDir == "" || bundle == "" || runDir == "" {
		return fmt.Errorf("MM_SERVER_DIR, CERTS_BUNDLE and RUN_DIR must be set (use `make run`)")
	}
	runDir, err := filepath.Abs(runDir)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bundle); err != nil {
		return fmt.Errorf("plugin bundle: %w (run `make dist`)", err)
	}
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return err
	}
	// As root, the cluster belongs to user postgres, which must reach it.
	if err := os.Chmod(runDir, 0o755); err != nil {
		return err
	}
	mmPort, err := choosePort("MM_PORT", defaultMattermostPort)
	if err != nil {
		return err
	}
	pgPort, err := choosePort("PG_PORT", defaultPostgresPort)
	if err != nil {
		return err
	}
	metricsPort, err := choosePort("METRICS_PORT", defaultMetricsPort)
	if err != nil {
		return err
	}
	auditFile := filepath.Join(runDir, "mattermost", "audit.log")
	hostPage := testbed.HostPageDir(os.Getenv("CERTS_HOST_PAGE"), filepath.Join("webapp", "host", "dist"))

	// Stop on Ctrl-C/SIGTERM from here on, including during start-up.
	ctx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSignals()

	fmt.Printf("Starting PostgreSQL (data in %s)...\n", filepath.Join(runDir, "postgres"))
	pg, err := testbed.StartPostgresWithOptions(testbed.PostgresOptions{Dir: filepath.Join(runDir, "postgres"), Port: pgPort})
	if err != nil {
		return err
	}
	defer stop("PostgreSQL", pg.PID(), pg.Stop)

	fmt.Printf("Starting Mattermost (files in %s)...\n", filepath.Join(runDir, "mattermost"))
	mm, err := testbed.StartMattermostContext(ctx, testbed.MattermostOptions{
		ServerDir:  serverDir,
		WorkDir:    filepath.Join(runDir, "mattermost"),
		DataSource: pg.DSN(),
		Port:       mmPort,
		HostPage:   hostPage,
		// The plugin's audit records and metrics, as an admin would see
		// them; neither needs a licence.
		Env: []string{
			"MM_EXPERIMENTALAUDITSETTINGS_FILEENABLED=true",
			"MM_EXPERIMENTALAUDITSETTINGS_FILENAME=" + auditFile,
			"MM_METRICSSETTINGS_ENABLE=true",
			fmt.Sprintf("MM_METRICSSETTINGS_LISTENADDRESS=127.0.0.1:%d", metricsPort),
		},
	})
	if err != nil {
		return err
	}
	defer stop("Mattermost", mm.PID(), mm.Stop)

	mailDir := filepath.Join(runDir, "mail")
	mail, err := startMailSink(ctx, mm, mailDir)
	if err != nil {
		return err
	}
	defer func() { _ = mail.Close() }()

	dex, err := startDex(runDir, mm)
	if err != nil {
		return err
	}
	if dex != nil {
		defer dex.Stop()
	}
	townSquareID, err := provision(ctx, mm, bundle)
	if err != nil {
		return err
	}
	if err := provisionPortal(ctx, mm, dex); err != nil {
		return err
	}
	printWelcome(mm, pg, runDir, townSquareID, mailDir, auditFile, metricsPort, hostPage != "")
	printPortal(mm, dex)

	select {
	case <-ctx.Done():
		fmt.Println("\nStopping...")
	case <-mm.Exited():
		return fmt.Errorf("mattermost exited unexpectedly; log tail:\n%s", mm.LogTail(40))
	case <-pg.Exited():
		return fmt.Errorf("postgres exited unexpectedly; log tail:\n%s", pg.LogTail(40))
	}
	return nil
}

// provision makes the accounts, team and plugin exist, whatever state the
// persistent database is in; the local mode socket needs no login. It
// returns the id of the demo team's town square, for the command example.
func provision(ctx context.Context, mm *testbed.Mattermost, bundle string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	local := mm.LocalClient()
	admin, err := testbed.EnsureUser(ctx, local, adminUsername, adminPassword, model.SystemAdminRoleId+" "+model.SystemUserRoleId)
	if err != nil {
		return "", err
	}
	demo, err := testbed.EnsureUser(ctx, local, demoUsername, demoPassword, model.SystemUserRoleId)
	if err != nil {
		return "", err
	}
	team, err := testbed.EnsureTeam(ctx, local, teamName, "Demo")
	if err != nil {
		return "", err
	}
	for _, user := range []*model.User{admin, demo} {
		if err := testbed.EnsureTeamMember(ctx, local, team.Id, user.Id); err != nil {
			return "", err
		}
	}
	adminSession, err := mm.Login(ctx, adminUsername, adminPassword)
	if err != nil {
		return "", err
	}
	manifest, err := mm.DeployPlugin(ctx, adminSession.Client, bundle)
	if err != nil {
		return "", err
	}
	fmt.Printf("Plugin %s %s deployed from %s\n", manifest.Id, manifest.Version, bundle)
	townSquare, _, err := local.GetChannelByName(ctx, model.DefaultChannelName, team.Id, "")
	if err != nil {
		return "", fmt.Errorf("finding town square of team %s: %w", teamName, err)
	}
	return townSquare.Id, nil
}

// startMailSink runs an SMTP server on loopback as the server's mail relay,
// so certificate emails (`/cert download --email`) and notifications can be
// seen: each message is saved as an .eml file in dir and announced.
func startMailSink(ctx context.Context, mm *testbed.Mattermost, dir string) (*smtptest.Server, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	sink, err := smtptest.Start(smtptest.Options{})
	if err != nil {
		return nil, err
	}
	patch := &model.Config{EmailSettings: model.EmailSettings{
		SMTPServer:         model.NewPointer(sink.Host()),
		SMTPPort:           model.NewPointer(strconv.Itoa(sink.Port())),
		ConnectionSecurity: model.NewPointer(model.ConnSecurityNone),
		EnableSMTPAuth:     model.NewPointer(false),
		FeedbackEmail:      model.NewPointer("certificates@localhost.test"),
	}}
	patchCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, _, err := mm.LocalClient().PatchConfig(patchCtx, patch); err != nil {
		_ = sink.Close()
		return nil, fmt.Errorf("pointing the server's SMTP settings at the mail sink: %w", err)
	}
	go func() {
		for seen := 1; ; seen++ {
			received, err := sink.WaitForMessages(seen, 365*24*time.Hour)
			if err != nil || ctx.Err() != nil {
				return
			}
			msg := received[seen-1]
			path := filepath.Join(dir, fmt.Sprintf("%03d.eml", seen))
			if err := os.WriteFile(path, msg.Data, 0o644); err != nil {
				fmt.Fprintf(os.Stderr, "devserver: saving an email: %v\n", err)
				continue
			}
			fmt.Printf("Mail to %s saved in %s\n", strings.Join(msg.To, ", "), path)
		}
	}()
	return sink, nil
}

// choosePort honours the environment variable if set, else prefers the
// usual port and falls back to any free one.
func choosePort(variable string, preferred int) (int, error) {
	if value := os.Getenv(variable); value != "" {
		port, err := strconv.Atoi(value)
		if err != nil || port <= 0 || port > 65535 {
			return 0, fmt.Errorf("%s=%q is not a port number", variable, value)
		}
		if !testbed.PortIsFree(port) {
			return 0, fmt.Errorf("%s=%d is already in use", variable, port)
		}
		return port, nil
	}
	return testbed.PreferredPort(preferred)
}

func stop(name string, pid int, stopFunc func() error) {
	if err := stopFunc(); err != nil {
		fmt.Fprintf(os.Stderr, "devserver: %v\n", err)
		return
	}
	fmt.Printf("%s (pid %d) stopped\n", name, pid)
}

func printWelcome(mm *testbed.Mattermost, pg *testbed.Postgres, runDir, townSquareID, mailDir, auditFile string, metricsPort int, hostPage bool) {
	url := mm.URL
	page := "(REST API and plugin pages; this server build has no web UI)"
	browserSteps := ""
	if hostPage {
		page = "(open it in a browser: a host page runs the plugin's web app)"
		browserSteps = fmt.Sprintf(` In a browser: open %s/, sign in as %s / %s, press the certificate button
 in the channel header (or type /cert enroll), and Create: the modal gives the file.
 Slash commands work in the command box too (/cert download, /cert list).

`, url, demoUsername, demoPassword)
	}
	fmt.Printf(`
================================================================
 Mattermost with the Client Certificates plugin is running
================================================================
 URL:         %[1]s/   %[16]s
 Admin:       %[2]s / %[3]s
 Demo user:   %[4]s / %[5]s   (team "%[6]s")
 Data:        %[7]s   (kept between runs)
 Logs:        %[8]s
              %[9]s
 PostgreSQL:  127.0.0.1:%[10]d, database %[11]s, user postgres (trust)
 Mail:        every email the server sends is saved in %[13]s
 Audit:       %[14]s   (issuance, revocation, decisions, settings)
 Metrics:     http://127.0.0.1:%[15]d/plugins/certs/metrics   (Prometheus)

%[17]s Try the flow as the demo user:

   # 1. Log in: the session token is in the Token response header
   TOKEN=$(curl -si -X POST %[1]s/api/v4/users/login \
       -d '{"login_id":"%[4]s","password":"%[5]s"}' \
     | awk 'tolower($1)=="token:" {print $2}' | tr -d '\r')

   # 2. Ask the plugin for a one-time link (what /cert download sends)
   LINK=$(curl -s -X POST -H "Authorization: Bearer $TOKEN" \
       %[1]s/plugins/certs/api/v1/links | sed -n 's/.*"url":"\([^"]*\)".*/\1/p')
   echo "$LINK"    # open it in a browser to see the page

   # 3. Redeem it (once) as JSON and save the PKCS#12 file
   curl -s -H 'Accept: application/json' -d "token=${LINK#*token=}" \
       %[1]s/plugins/certs/issue > issued.json
   sed -n 's/.*"pkcs12":"\([^"]*\)".*/\1/p' issued.json | base64 -d > %[4]s.p12
   PASS=$(sed -n 's/.*"passphrase":"\([^"]*\)".*/\1/p' issued.json); echo "passphrase: $PASS"

   # 4. Look inside, and fetch the CA chain to trust
   openssl pkcs12 -in %[4]s.p12 -passin "pass:$PASS" -nokeys | openssl x509 -noout -subject -ext extendedKeyUsage
   curl -s %[1]s/plugins/certs/ca.pem -o ca.pem

 Slash commands (the reply is an ephemeral post, delivered on the WebSocket):
   curl -s -X POST -H "Authorization: Bearer $TOKEN" %[1]s/api/v4/commands/execute \
       -d '{"channel_id":"%[12]s","command":"/cert list"}'
   (also "/cert download --email": the file arrives in the mail folder)

 Your own key: sign a CSR made by OpenSSL
   openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -noenc -keyout my.key \
       -subj /CN=%[4]s -out my.csr
   curl -s -H "Authorization: Bearer $TOKEN" -F csr=@my.csr %[1]s/plugins/certs/api/v1/csr
`, url, adminUsername, adminPassword, demoUsername, demoPassword, teamName,
		runDir, mm.LogPath, pg.LogPath, pg.Port, testbed.DatabaseName, townSquareID, mailDir, auditFile, metricsPort, page, browserSteps)
}
