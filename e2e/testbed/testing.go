//go:build e2e

package testbed

import (
	"testing"
)

// StartPostgresForTest starts a throw-away cluster in dir for one test and
// stops it when the test (and its subtests) end.
func StartPostgresForTest(t testing.TB, dir string) *Postgres {
	t.Helper()
	pg, err := StartPostgres(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := pg.Stop(); err != nil {
			t.Error(err)
		}
	})
	return pg
}

// StartMattermostForTest starts a server for one test and stops it when the
// test ends; on a failed test it logs the tail of the server log.
func StartMattermostForTest(t testing.TB, opts MattermostOptions) *Mattermost {
	t.Helper()
	mm, err := StartMattermost(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("Mattermost log tail (%s):\n%s", mm.LogPath, mm.LogTail(40))
		}
		if err := mm.Stop(); err != nil {
			t.Error(err)
		}
	})
	return mm
}

// ConnectWebSocketForTest opens a user's WebSocket for one test and closes it
// when the test ends.
func (mm *Mattermost) ConnectWebSocketForTest(t testing.TB, token string) *WebSocket {
	t.Helper()
	ws, err := mm.ConnectWebSocket(token)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ws.Close)
	return ws
}
