//go:build e2e

// Package testbed starts the real components the end-to-end tests and the
// development server run against: PostgreSQL and a Mattermost server built
// from source, plus helpers to drive them through Mattermost's own clients.
package testbed

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// FreePort asks the kernel for a currently unused TCP port on 127.0.0.1.
func FreePort() (int, error) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer listener.Close()
	return listener.Addr().(*net.TCPAddr).Port, nil
}

// PortIsFree reports whether nothing listens on 127.0.0.1:port right now.
func PortIsFree(port int) bool {
	listener, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	listener.Close()
	return true
}

// PreferredPort returns preferred when it is free, otherwise any free port.
func PreferredPort(preferred int) (int, error) {
	if preferred > 0 && PortIsFree(preferred) {
		return preferred, nil
	}
	return FreePort()
}

// childProcAttr makes a started server die with the process that started it
// (if a test binary is killed, e.g. by `go test -timeout`, its cleanup never
// runs) and puts it in its own process group, so a Ctrl-C in the terminal
// reaches only us and we stop the servers in order (Mattermost before its
// database).
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}

// stopProcess sends signal to the process, waits up to grace for it to exit,
// then kills it. done must be closed once cmd.Wait has returned.
func stopProcess(cmd *exec.Cmd, done <-chan struct{}, signal syscall.Signal, grace time.Duration) error {
	if cmd == nil || cmd.Process == nil {
		return nil
	}
	select {
	case <-done:
		return nil // already exited
	default:
	}
	if err := cmd.Process.Signal(signal); err != nil {
		select {
		case <-done:
			return nil
		default:
		}
		return fmt.Errorf("signalling pid %d: %w", cmd.Process.Pid, err)
	}
	select {
	case <-done:
		return nil
	case <-time.After(grace):
	}
	if err := cmd.Process.Kill(); err != nil {
		return fmt.Errorf("killing pid %d after %s: %w", cmd.Process.Pid, grace, err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		return fmt.Errorf("pid %d did not exit after SIGKILL", cmd.Process.Pid)
	}
	return fmt.Errorf("pid %d ignored %s for %s and was killed", cmd.Process.Pid, signal, grace)
}

// fileTail returns at most the last maxLines lines of a file, for failure messages.
func fileTail(path string, maxLines int) string {
	content, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	content = bytes.TrimRight(content, "\n")
	lines := bytes.Split(content, []byte("\n"))
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
