//go:build e2e

package testbed

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
)

// MattermostOptions configures StartMattermost. Two servers can share one
// database and one FileDir as long as each has its own WorkDir and Port.
type MattermostOptions struct {
	// ServerDir holds bin/mattermost and i18n/, templates/, fonts/ (client/ optional).
	ServerDir string
	// WorkDir is this server's own directory: config, logs, socket, plugins.
	WorkDir string
	// DataSource is the PostgreSQL DSN (see Postgres.DSN).
	DataSource string
	// Port to listen on (127.0.0.1). Zero picks a free one.
	Port int
	// FileDir stores uploaded files; defaults to WorkDir/data.
	FileDir string
	// PluginDir and ClientPluginDir default to WorkDir/plugins and WorkDir/client/plugins.
	PluginDir       string
	ClientPluginDir string
	// Env holds extra KEY=value settings; they override the defaults below.
	Env []string
	// StartTimeout bounds the wait for /api/v4/system/ping; default 120 s.
	StartTimeout time.Duration
	// HostPage, if set, is a directory laid out like the server's client
	// directory (webapp/host/dist: root.html and certs-host/): its entries are
	// copied into WorkDir/client, so the site's pages (/) serve the host page
	// that runs the plugins' webapp bundles and /static/certs-host/ its
	// script. It must not hold plugins/, where the server unpacks bundles.
	HostPage string
}

// Mattermost is a running Mattermost server started by this package.
type Mattermost struct {
	URL        string // SiteURL, e.g. http://127.0.0.1:8065
	Port       int
	WorkDir    string
	SocketPath string // local mode socket
	LogPath    string // JSON console log

	cmd  *exec.Cmd
	done chan struct{}
}

// StartMattermost prepares the working directory, starts the server and waits
// until it answers /api/v4/system/ping.
func StartMattermost(opts MattermostOptions) (*Mattermost, error) {
	return StartMattermostContext(context.Background(), opts)
}

// StartMattermostContext is StartMattermost with a context that can cut the
// wait short (e.g. Ctrl-C); the server is then stopped.
func StartMattermostContext(ctx context.Context, opts MattermostOptions) (*Mattermost, error) {
	if opts.ServerDir == "" || opts.WorkDir == "" || opts.DataSource == "" {
		return nil, fmt.Errorf("mattermost: ServerDir, WorkDir and DataSource are required")
	}
	serverDir, err := filepath.Abs(opts.ServerDir)
	if err != nil {
		return nil, fmt.Errorf("mattermost: %w", err)
	}
	workDir, err := filepath.Abs(opts.WorkDir)
	if err != nil {
		return nil, fmt.Errorf("mattermost: %w", err)
	}
	binary := filepath.Join(serverDir, "bin", "mattermost")
	if _, err := os.Stat(binary); err != nil {
		return nil, fmt.Errorf("mattermost: no server binary (run `make mattermost`): %w", err)
	}
	port := opts.Port
	if port == 0 {
		if port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	mm := &Mattermost{
		URL:        fmt.Sprintf("http://127.0.0.1:%d", port),
		Port:       port,
		WorkDir:    workDir,
		SocketPath: filepath.Join(workDir, "mattermost.sock"),
		LogPath:    filepath.Join(workDir, "mattermost.log"),
		done:       make(chan struct{}),
	}
	if len(mm.SocketPath) > unixSocketPathMax {
		return nil, fmt.Errorf("mattermost: local mode socket path %s is longer than %d bytes: use a shorter working directory", mm.SocketPath, unixSocketPathMax)
	}
	configPath, err := prepareWorkDir(serverDir, workDir, opts.HostPage)
	if err != nil {
		return nil, err
	}
	// A socket left by a killed server makes local mode fail to listen.
	_ = os.Remove(mm.SocketPath)

	fileDir := defaultString(opts.FileDir, filepath.Join(workDir, "data"))
	pluginDir := defaultString(opts.PluginDir, filepath.Join(workDir, "plugins"))
	clientPluginDir := defaultString(opts.ClientPluginDir, filepath.Join(workDir, "client", "plugins"))
	for _, dir := range []string{fileDir, pluginDir, clientPluginDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("mattermost: %w", err)
		}
	}

	settings := []string{
		"MM_SQLSETTINGS_DRIVERNAME=postgres",
		"MM_SQLSETTINGS_DATASOURCE=" + opts.DataSource,
		"MM_SERVICESETTINGS_LISTENADDRESS=" + fmt.Sprintf("127.0.0.1:%d", port),
		"MM_SERVICESETTINGS_SITEURL=" + mm.URL,
		"MM_SERVICESETTINGS_ENABLELOCALMODE=true",
		"MM_SERVICESETTINGS_LOCALMODESOCKETLOCATION=" + mm.SocketPath,
		"MM_SERVICESETTINGS_ENABLEDEVELOPER=true",
		"MM_SERVICESETTINGS_ENABLEUSERACCESSTOKENS=true",
		"MM_SERVICESETTINGS_ENABLEBOTACCOUNTCREATION=true",
		"MM_SERVICESETTINGS_ENABLESECURITYFIXALERT=false",
		"MM_TEAMSETTINGS_ENABLEOPENSERVER=true",
		// Each test makes users of its own in one team; the default limit
		// is 50.
		"MM_TEAMSETTINGS_MAXUSERSPERTEAM=10000",
		"MM_EMAILSETTINGS_REQUIREEMAILVERIFICATION=false",
		"MM_EMAILSETTINGS_SENDEMAILNOTIFICATIONS=false",
		"MM_PLUGINSETTINGS_ENABLE=true",
		"MM_PLUGINSETTINGS_ENABLEUPLOADS=true",
		"MM_PLUGINSETTINGS_REQUIREPLUGINSIGNATURE=false",
		"MM_PLUGINSETTINGS_ENABLEMARKETPLACE=false",
		"MM_PLUGINSETTINGS_AUTOMATICPREPACKAGEDPLUGINS=false",
		"MM_PLUGINSETTINGS_DIRECTORY=" + pluginDir,
		"MM_PLUGINSETTINGS_CLIENTDIRECTORY=" + clientPluginDir,
		"MM_FILESETTINGS_DIRECTORY=" + fileDir,
		"MM_LOGSETTINGS_ENABLEDIAGNOSTICS=false",
		"MM_LOGSETTINGS_ENABLECONSOLE=true",
		"MM_LOGSETTINGS_CONSOLEJSON=true",
		"MM_LOGSETTINGS_CONSOLELEVEL=INFO",
		// Console output already goes to LogPath; no second copy elsewhere.
		"MM_LOGSETTINGS_ENABLEFILE=false",
		"MM_NOTIFICATIONLOGSETTINGS_ENABLEFILE=false",
	}
	env := mergeEnv(os.Environ(), append(settings, opts.Env...))

	logFile, err := os.OpenFile(mm.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("mattermost: opening log: %w", err)
	}
	defer logFile.Close() // the child holds its own copy

	cmd := exec.Command(binary, "server", "--config", configPath)
	cmd.Dir = workDir // i18n/, templates/, fonts/, client/ are looked up here first
	cmd.Env = env
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("mattermost: starting %s: %w", binary, err)
	}
	mm.cmd = cmd
	go func() {
		_ = cmd.Wait()
		close(mm.done)
	}()

	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = 120 * time.Second
	}
	if err := mm.waitForPing(ctx, timeout); err != nil {
		_ = mm.Stop()
		return nil, err
	}
	return mm, nil
}

// PID of the server process.
func (mm *Mattermost) PID() int {
	if mm.cmd == nil || mm.cmd.Process == nil {
		return 0
	}
	return mm.cmd.Process.Pid
}

// Exited is closed when the server process has ended, for whatever reason.
func (mm *Mattermost) Exited() <-chan struct{} { return mm.done }

// Stop sends SIGTERM and kills the server if it is still running after 30 s.
func (mm *Mattermost) Stop() error {
	if mm == nil {
		return nil
	}
	if err := stopProcess(mm.cmd, mm.done, syscall.SIGTERM, 30*time.Second); err != nil {
		return fmt.Errorf("mattermost: %w", err)
	}
	return nil
}

// LogTail returns the last lines of the server log, for failure messages.
func (mm *Mattermost) LogTail(lines int) string {
	return fileTail(mm.LogPath, lines)
}

// Client returns a fresh, unauthenticated REST client for this server.
func (mm *Mattermost) Client() *model.Client4 {
	return model.NewAPIv4Client(mm.URL)
}

// LocalClient returns a client that talks over the local mode socket: it
// acts with system-admin rights and needs no login.
func (mm *Mattermost) LocalClient() *model.Client4 {
	return model.NewAPIv4SocketClient(mm.SocketPath)
}

// WebSocketURL is the base URL model.NewWebSocketClient4 expects.
func (mm *Mattermost) WebSocketURL() string {
	return "ws" + strings.TrimPrefix(mm.URL, "http")
}

func (mm *Mattermost) waitForPing(ctx context.Context, timeout time.Duration) error {
	httpClient := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, mm.URL+"/api/v4/system/ping", nil)
		resp, err := httpClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("ping answered %s", resp.Status)
		}
		lastErr = err
		select {
		case <-mm.done:
			return fmt.Errorf("mattermost: exited during start-up (%s); log tail:\n%s", mm.cmd.ProcessState, mm.LogTail(40))
		case <-ctx.Done():
			return fmt.Errorf("mattermost: start-up interrupted: %w", ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
	return fmt.Errorf("mattermost: no successful ping on %s within %s (last: %v); log tail:\n%s", mm.URL, timeout, lastErr, mm.LogTail(40))
}

// prepareWorkDir creates WorkDir with a config file (kept if present, so a
// persistent server keeps its settings) and links the server's read-only
// assets into it. client/ is a real directory so that each server gets its
// own client/plugins while sharing the rest; the host page's files, if any,
// are copied in next to them.
func prepareWorkDir(serverDir, workDir, hostPage string) (string, error) {
	configDir := filepath.Join(workDir, "config")
	if err := os.MkdirAll(configDir, 0o755); err != nil {
		return "", fmt.Errorf("mattermost: %w", err)
	}
	configPath := filepath.Join(configDir, "config.json")
	if _, err := os.Stat(configPath); os.IsNotExist(err) {
		// Mattermost fills in every default and writes them back.
		if err := os.WriteFile(configPath, []byte("{}\n"), 0o600); err != nil {
			return "", fmt.Errorf("mattermost: %w", err)
		}
	}
	for _, asset := range []string{"i18n", "templates", "fonts"} {
		if err := linkInto(filepath.Join(serverDir, asset), filepath.Join(workDir, asset)); err != nil {
			return "", err
		}
	}
	clientDir := filepath.Join(workDir, "client")
	if err := os.MkdirAll(clientDir, 0o755); err != nil {
		return "", fmt.Errorf("mattermost: %w", err)
	}
	entries, err := os.ReadDir(filepath.Join(serverDir, "client"))
	if err != nil && !os.IsNotExist(err) {
		return "", fmt.Errorf("mattermost: %w", err)
	}
	for _, entry := range entries {
		if entry.Name() == "plugins" {
			continue
		}
		if err := linkInto(filepath.Join(serverDir, "client", entry.Name()), filepath.Join(clientDir, entry.Name())); err != nil {
			return "", err
		}
	}
	if hostPage != "" {
		if err := copyHostPage(hostPage, clientDir); err != nil {
			return "", err
		}
	}
	return configPath, nil
}

// HostPageDir picks the built host page: the named directory (an error in
// it shows when the server starts), else fallback if it holds a root.html,
// else "".
func HostPageDir(named, fallback string) string {
	if named != "" {
		return named
	}
	if _, err := os.Stat(filepath.Join(fallback, "root.html")); err == nil {
		if abs, err := filepath.Abs(fallback); err == nil {
			return abs
		}
	}
	return ""
}

// copyHostPage copies the host page's files (root.html and its static
// folder) into the server's client directory, replacing earlier copies. They
// are copies, not links: the server rewrites its root.html in place when the
// site has a subpath.
func copyHostPage(hostPage, clientDir string) error {
	dir, err := filepath.Abs(hostPage)
	if err != nil {
		return fmt.Errorf("mattermost: host page: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "root.html")); err != nil {
		return fmt.Errorf("mattermost: host page %s has no root.html (npm run build:host in webapp/): %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("mattermost: host page: %w", err)
	}
	for _, entry := range entries {
		if entry.Name() == "plugins" {
			return fmt.Errorf("mattermost: host page %s must not hold plugins/, the server's own", dir)
		}
		dst := filepath.Join(clientDir, entry.Name())
		if err := os.RemoveAll(dst); err != nil {
			return fmt.Errorf("mattermost: %w", err)
		}
		src := filepath.Join(dir, entry.Name())
		if entry.IsDir() {
			err = os.CopyFS(dst, os.DirFS(src))
		} else {
			var data []byte
			if data, err = os.ReadFile(src); err == nil {
				err = os.WriteFile(dst, data, 0o644)
			}
		}
		if err != nil {
			return fmt.Errorf("mattermost: copying the host page: %w", err)
		}
	}
	return nil
}

// linkInto points link at target, replacing a stale link but never a real file.
func linkInto(target, link string) error {
	if _, err := os.Stat(target); err != nil {
		return fmt.Errorf("mattermost: server directory lacks %s: %w", filepath.Base(target), err)
	}
	if existing, err := os.Readlink(link); err == nil {
		if existing == target {
			return nil
		}
		if err := os.Remove(link); err != nil {
			return fmt.Errorf("mattermost: %w", err)
		}
	} else if _, statErr := os.Lstat(link); statErr == nil {
		return nil // a real copy placed there on purpose
	}
	if err := os.Symlink(target, link); err != nil {
		return fmt.Errorf("mattermost: linking %s: %w", link, err)
	}
	return nil
}

// mergeEnv returns base with overrides applied; later overrides win.
func mergeEnv(base, overrides []string) []string {
	index := map[string]int{}
	merged := make([]string, 0, len(base)+len(overrides))
	for _, kv := range append(append([]string{}, base...), overrides...) {
		key, _, _ := strings.Cut(kv, "=")
		if i, ok := index[key]; ok {
			merged[i] = kv
			continue
		}
		index[key] = len(merged)
		merged = append(merged, kv)
	}
	return merged
}

func defaultString(value, fallback string) string {
	if value != "" {
		return value
	}
	return fallback
}
