//go:build e2e

package sqlstore

import (
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/e2e/testbed"
	"github.com/clientcerts/mattermost-plugin-certs/server/clocktest"
)

// The store's tests run against a real PostgreSQL, started once for the
// package; each test gets a database of its own.

var pg *testbed.Postgres

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sqlst")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if pg, err = testbed.StartPostgres(dir); err != nil {
		fmt.Fprintln(os.Stderr, "sqlstore tests need PostgreSQL:", err)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	_ = pg.Stop()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// strictDriver is lib/pq with the one limit of the server's database
// driver: the plugin reaches PostgreSQL over RPC, whose encoding carries
// only numbers, strings, byte slices, booleans and nil. A time.Time
// argument there breaks the connection; here it fails the test.
type strictDriver struct{ pq.Driver }

func (d strictDriver) Open(name string) (driver.Conn, error) {
	conn, err := d.Driver.Open(name)
	if err != nil {
		return nil, err
	}
	return strictConn{conn}, nil
}

type strictConn struct{ driver.Conn }

func (strictConn) CheckNamedValue(nv *driver.NamedValue) error {
	v, err := driver.DefaultParameterConverter.ConvertValue(nv.Value)
	if err != nil {
		return err
	}
	switch v.(type) {
	case nil, int64, float64, bool, []byte, string:
		nv.Value = v
		return nil
	}
	return fmt.Errorf("argument $%d is a %T, which the server's database driver cannot carry", nv.Ordinal, v)
}

func init() { sql.Register("postgres-strict", strictDriver{}) }

// newDatabase creates an empty database and returns a handle to it.
func newDatabase(t testing.TB) *sql.DB {
	t.Helper()
	admin, err := sql.Open("postgres", pg.DSN())
	require.NoError(t, err)
	defer admin.Close()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "t_" + hex.EncodeToString(b)
	_, err = admin.Exec("CREATE DATABASE " + name)
	require.NoError(t, err)
	db, err := sql.Open("postgres-strict", fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", pg.Port, name))
	require.NoError(t, err)
	db.SetMaxOpenConns(20)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// newHandle opens a second pool on db's database: another server.
func newHandle(t testing.TB, db *sql.DB) *sql.DB {
	t.Helper()
	var name string
	require.NoError(t, db.QueryRow(`SELECT current_database()`).Scan(&name))
	other, err := sql.Open("postgres-strict", fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", pg.Port, name))
	require.NoError(t, err)
	other.SetMaxOpenConns(20)
	t.Cleanup(func() { _ = other.Close() })
	return other
}

// newTestStore is a migrated store over a fresh database.
func newTestStore(t testing.TB) (*Store, *clocktest.Clock, *sql.DB) {
	t.Helper()
	db := newDatabase(t)
	clock := clocktest.New(time.Date(2031, time.March, 4, 5, 6, 7, 0, time.UTC))
	_, err := Migrate(db, &sync.Mutex{}, clock.Now)
	require.NoError(t, err)
	return New(db, clock.Now), clock, db
}

// events are the kinds of the events recorded, oldest first.
func events(t testing.TB, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT kind FROM certs_events ORDER BY id`)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var kind string
		require.NoError(t, rows.Scan(&kind))
		out = append(out, kind)
	}
	return out
}
