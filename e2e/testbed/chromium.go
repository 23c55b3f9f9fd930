//go:build e2e

package testbed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumPath is where Debian's chromium package puts the browser.
const ChromiumPath = "/usr/bin/chromium"

// chromiumStartTimeout bounds the start of the browser and its first tab.
const chromiumStartTimeout = 30 * time.Second

// Chromium is a headless Chromium started by this package and driven over the
// DevTools protocol (a pipe, no debugging port).
type Chromium struct {
	// Ctx is the browser's first tab; chromedp.NewContext(Ctx, ...) opens more.
	Ctx         context.Context
	Dir         string // everything the browser writes: profile, crash handler data, log
	UserDataDir string // Dir/profile
	LogPath     string // the browser's own stdout and stderr

	pid         int
	log         *os.File
	cancelTab   context.CancelFunc
	cancelAlloc context.CancelFunc
}

// StartChromium starts the browser with everything it writes in dir (a fresh
// profile: dir must be new or empty) and opens its first tab. The flags keep it off
// the network: no QUIC, no background requests, no component updates, no sync.
func StartChromium(dir string, width, height int) (*Chromium, error) {
	if _, err := os.Stat(ChromiumPath); err != nil {
		return nil, fmt.Errorf("chromium: %w (Debian package chromium)", err)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	profile := filepath.Join(dir, "profile")
	if err := os.MkdirAll(profile, 0o700); err != nil {
		return nil, fmt.Errorf("chromium: %w", err)
	}
	logPath := filepath.Join(dir, "chromium.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("chromium: %w", err)
	}

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(ChromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.WindowSize(width, height),
		chromedp.UserDataDir(profile),
		// Debian's build starts crash handlers that keep their reports
		// under $XDG_CONFIG_HOME/chromium: keep them in dir too (and so
		// findable by their command line when the browser is stopped).
		chromedp.Env("XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "XDG_CACHE_HOME="+filepath.Join(dir, "cache")),
		chromedp.CombinedOutput(logFile),
		chromedp.ModifyCmdFunc(func(cmd *exec.Cmd) {
			// Die with the test binary even if it is killed (see childProcAttr).
			cmd.SysProcAttr = childProcAttr()
		}),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	c := &Chromium{Ctx: tabCtx, Dir: dir, UserDataDir: profile, LogPath: logPath, log: logFile, cancelTab: cancelTab, cancelAlloc: cancelAlloc}

	// The first action starts the browser; a browser that never answers
	// is killed, which ends the action.
	watchdog := time.AfterFunc(chromiumStartTimeout, cancelAlloc)
	err = chromedp.Do(tabCtx)
	stopped := !watchdog.Stop()
	if err != nil {
		if stopped {
			err = fmt.Errorf("no answer within %s: %w", chromiumStartTimeout, err)
		}
		_ = c.Stop()
		return nil, fmt.Errorf("starting %s: %w\n%s", ChromiumPath, err, fileTail(logPath, 20))
	}
	if b := chromedp.FromContext(tabCtx).Browser; b != nil && b.Process() != nil {
		c.pid = b.Process().Pid
	}
	return c, nil
}

// PID is the browser's main process.
func (c *Chromium) PID() int { return c.pid }

// Stop closes the browser (gracefully, then by force) and makes sure none of
// its processes is left: a process still running with Dir in its command line
// was started by this browser, and is killed and reported.
func (c *Chromium) Stop() error {
	if c == nil {
		return nil
	}
	closeCtx, cancel := context.WithTimeout(c.Ctx, 10*time.Second)
	_ = chromedp.Cancel(closeCtx) // graceful Browser.close; errors are fine once it is gone
	cancel()
	c.cancelTab()
	c.cancelAlloc() // kills the main process if it is still there, and waits for it
	defer c.log.Close()

	// Renderers, the zygote and the network service carry --user-data-dir,
	// the crash handlers (which detach from the browser) their database in
	// Dir; they all exit with the browser, normally within a moment.
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := processesMentioning(c.Dir + "/")
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			for _, pid := range left {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			return fmt.Errorf("chromium (pid %d): processes %v were still running after the browser closed; killed", c.pid, left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// processesMentioning lists the processes with an argument that contains s.
func processesMentioning(s string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, entry := range entries {
		pid, err := strconv.Atoi(entry.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		// A zombie has an empty command line: only live processes match.
		cmdline, err := os.ReadFile(filepath.Join("/proc", entry.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmdline, []byte(s)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// ChromiumMissing says why the browser tests cannot run here, or "" if they can.
func ChromiumMissing() string {
	if _, err := os.Stat(ChromiumPath); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return ChromiumPath + " is not installed (Debian package chromium; `make deps` installs it)"
		}
		return err.Error()
	}
	return ""
}
