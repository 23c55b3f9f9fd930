//go:build e2e

package testbed

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	// DatabaseName is the database Mattermost uses.
	DatabaseName = "mattermost"
	// postgresSuperuser is created by initdb; local trust auth needs no password.
	postgresSuperuser = "postgres"
	// unixSocketPathMax is sun_path's size on Linux minus the terminating NUL.
	unixSocketPathMax = 107
)

// PostgresOptions configures StartPostgresWithOptions.
type PostgresOptions struct {
	// Dir is the data directory. An existing cluster in it is reused as is.
	Dir string
	// Port to listen on (127.0.0.1). Zero picks a free one.
	Port int
	// NoFsync trades crash safety for speed: fine for throw-away test clusters.
	NoFsync bool
}

// Postgres is a running PostgreSQL server started by this package.
type Postgres struct {
	Dir     string
	Port    int
	LogPath string

	binDir string
	cmd    *exec.Cmd
	done   chan struct{}
}

// StartPostgres starts a throw-away PostgreSQL cluster in dir on a free port.
func StartPostgres(dir string) (*Postgres, error) {
	return StartPostgresWithOptions(PostgresOptions{Dir: dir, NoFsync: true})
}

// StartPostgresWithOptions initialises the cluster if dir holds none, starts
// the server on 127.0.0.1 with its Unix socket in dir, and makes sure the
// Mattermost database exists.
//
// The postmaster runs as our direct child (not daemonised by pg_ctl) so it
// can be stopped by its own PID and dies with us if we are killed before
// our cleanup runs. Stop sends SIGINT, which is exactly `pg_ctl stop -m fast`.
func StartPostgresWithOptions(opts PostgresOptions) (*Postgres, error) {
	if opts.Dir == "" {
		return nil, fmt.Errorf("postgres: no data directory given")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	binDir, err := postgresBinDir()
	if err != nil {
		return nil, err
	}
	port := opts.Port
	if port == 0 {
		if port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	socket := filepath.Join(dir, ".s.PGSQL."+strconv.Itoa(port))
	if len(socket) > unixSocketPathMax {
		return nil, fmt.Errorf("postgres: socket path %s is longer than %d bytes: use a shorter data directory", socket, unixSocketPathMax)
	}

	owner, err := clusterOwner()
	if err != nil {
		return nil, err
	}
	if err := prepareDataDir(dir, owner, binDir); err != nil {
		return nil, err
	}

	pg := &Postgres{
		Dir:     dir,
		Port:    port,
		LogPath: filepath.Join(dir, "postgres.log"),
		binDir:  binDir,
		done:    make(chan struct{}),
	}
	if err := pg.start(owner, opts.NoFsync); err != nil {
		return nil, err
	}
	if err := pg.ensureDatabase(DatabaseName); err != nil {
		_ = pg.Stop()
		return nil, err
	}
	return pg, nil
}

// DSN is the connection string Mattermost uses.
func (pg *Postgres) DSN() string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable&connect_timeout=10", postgresSuperuser, pg.Port, DatabaseName)
}

// PID of the postmaster.
func (pg *Postgres) PID() int {
	if pg.cmd == nil || pg.cmd.Process == nil {
		return 0
	}
	return pg.cmd.Process.Pid
}

// Exited is closed when the postmaster has ended, for whatever reason.
func (pg *Postgres) Exited() <-chan struct{} { return pg.done }

// Stop shuts the server down fast (SIGINT: roll back open transactions,
// checkpoint, exit) and kills it if it does not exit within 30 s.
func (pg *Postgres) Stop() error {
	if pg == nil {
		return nil
	}
	if err := stopProcess(pg.cmd, pg.done, syscall.SIGINT, 30*time.Second); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}

// LogTail returns the last lines of the server log, for failure messages.
func (pg *Postgres) LogTail(lines int) string {
	return fileTail(pg.LogPath, lines)
}

// clusterOwner is the OS user the cluster belongs to: initdb and postgres
// refuse to run as root, so root hands the cluster to the "postgres" user
// the Debian package creates. Nil means the current (non-root) user.
func clusterOwner() (*user.User, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	owner, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("postgres: running as root needs the OS user \"postgres\" (apt-get install postgresql): %w", err)
	}
	return owner, nil
}

func prepareDataDir(dir string, owner *user.User, binDir string) error {
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); err == nil {
		return nil // an existing cluster: reuse it
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("postgres: creating %s: %w", dir, err)
	}
	initdb := []string{filepath.Join(binDir, "initdb"),
		"-D", dir, "--username=" + postgresSuperuser, "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-sync"}
	if owner != nil {
		uid, gid := ownerIDs(owner)
		if err := os.Chown(dir, uid, gid); err != nil {
			return fmt.Errorf("postgres: handing %s to user postgres: %w", dir, err)
		}
		// A data directory under a root-only (0700) parent is unreachable for
		// the postgres user: say so instead of letting initdb fail obscurely.
		if out, err := exec.Command("runuser", "-u", owner.Username, "--", "test", "-w", dir).CombinedOutput(); err != nil {
			return fmt.Errorf("postgres: user postgres cannot write %s (are its parent directories searchable by others, e.g. chmod o+x?): %v %s", dir, err, out)
		}
		initdb = append([]string{"runuser", "-u", owner.Username, "--"}, initdb...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, initdb[0], initdb[1:]...).CombinedOutput(); err != nil {
		return fmt.Errorf("postgres: initdb in %s failed: %w\n%s", dir, err, out)
	}
	return nil
}

func (pg *Postgres) start(owner *user.User, noFsync bool) error {
	if pidFile, err := os.ReadFile(filepath.Join(pg.Dir, "postmaster.pid")); err == nil {
		// A leftover pid file of a crashed server is harmless (postgres checks the
		// PID), but a live one means another server owns this directory.
		if pid, convErr := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(pidFile), "\n", 2)[0])); convErr == nil && pid > 0 && syscall.Kill(pid, 0) == nil {
			return fmt.Errorf("postgres: %s is already in use by a running server (pid %d); stop it first, e.g. runuser -u postgres -- %s -D %s stop -m fast",
				pg.Dir, pid, filepath.Join(pg.binDir, "pg_ctl"), pg.Dir)
		}
	}
	logFile, err := os.OpenFile(pg.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("postgres: opening log: %w", err)
	}
	defer logFile.Close() // the child holds its own copy

	args := []string{
		"-D", pg.Dir,
		"-p", strconv.Itoa(pg.Port),
		"-k", pg.Dir,
		"-c", "listen_addresses=127.0.0.1",
		// Two Mattermost servers on one database each keep a pool of connections.
		"-c", "max_connections=300",
	}
	if noFsync {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	cmd := exec.Command(filepath.Join(pg.binDir, "postgres"), args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = childProcAttr()
	if owner != nil {
		uid, gid := ownerIDs(owner)
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
		cmd.Env = append(os.Environ(), "HOME="+owner.HomeDir, "USER="+owner.Username)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("postgres: starting: %w", err)
	}
	pg.cmd = cmd
	go func() {
		_ = cmd.Wait()
		close(pg.done)
	}()

	deadline := time.Now().Add(60 * time.Second)
	for {
		probe := exec.Command(filepath.Join(pg.binDir, "pg_isready"), "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(pg.Port), "-U", postgresSuperuser)
		if probe.Run() == nil {
			return nil
		}
		select {
		case <-pg.done:
			return fmt.Errorf("postgres: exited during start-up (%s); log tail:\n%s", cmd.ProcessState, pg.LogTail(30))
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = pg.Stop()
			return fmt.Errorf("postgres: not ready on port %d after 60s; log tail:\n%s", pg.Port, pg.LogTail(30))
		}
	}
}

func (pg *Postgres) ensureDatabase(name string) error {
	out, err := pg.psql("postgres", fmt.Sprintf("SELECT 1 FROM pg_database WHERE datname = '%s'", name))
	if err != nil {
		return err
	}
	if strings.TrimSpace(out) == "1" {
		return nil
	}
	_, err = pg.psql("postgres", fmt.Sprintf(`CREATE DATABASE "%s" ENCODING 'UTF8'`, name))
	return err
}

func (pg *Postgres) psql(database, sql string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(pg.binDir, "psql"),
		"-h", "127.0.0.1", "-p", strconv.Itoa(pg.Port), "-U", postgresSuperuser,
		"-d", database, "-v", "ON_ERROR_STOP=1", "-tAc", sql)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("postgres: psql %q: %w\n%s", sql, err, out)
	}
	return string(out), nil
}

// postgresBinDir finds the server binaries: $PG_BIN, else the newest Debian
// /usr/lib/postgresql/<major>/bin (not on PATH there), else PATH.
func postgresBinDir() (string, error) {
	if dir := os.Getenv("PG_BIN"); dir != "" {
		return dir, nil
	}
	candidates, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(candidates, func(i, j int) bool { return majorOf(candidates[i]) > majorOf(candidates[j]) })
	for _, dir := range candidates {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	if initdb, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(initdb), nil
	}
	return "", fmt.Errorf("postgres: no initdb found (apt-get install postgresql, or set PG_BIN)")
}

func majorOf(binDir string) int {
	major, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return major
}

func ownerIDs(owner *user.User) (int, int) {
	uid, _ := strconv.Atoi(owner.Uid)
	gid, _ := strconv.Atoi(owner.Gid)
	return uid, gid
}
