//go:build e2e

package sqlstore

import (
	"database/sql"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/clocktest"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll/inventorytest"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

var alice = records.MattermostUser("alice")

func TestMigrateFromAnEmptyDatabaseIsIdempotent(t *testing.T) {
	db := newDatabase(t)
	clock := clocktest.New(time.Now())
	version, err := Migrate(db, &sync.Mutex{}, clock.Now)
	require.NoError(t, err)
	all, err := migrations()
	require.NoError(t, err)
	assert.Equal(t, latestVersion(all), version)

	again, err := Migrate(db, &sync.Mutex{}, clock.Now)
	require.NoError(t, err)
	assert.Equal(t, version, again)
	var rows int
	require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM certs_schema_migrations`).Scan(&rows))
	assert.Equal(t, len(all), rows)
	for _, table := range []string{"certs_certificates", "certs_requests", "certs_key_claims", "certs_events"} {
		var exists bool
		require.NoError(t, db.QueryRow(`SELECT to_regclass($1) IS NOT NULL`, table).Scan(&exists))
		assert.True(t, exists, table)
	}
}

// A migration that fails leaves the schema at the version before it, with
// nothing of the failed one.
func TestFailedMigrationLeavesNoHalfSchema(t *testing.T) {
	db := newDatabase(t)
	clock := clocktest.New(time.Now())
	all, err := migrations()
	require.NoError(t, err)
	next := latestVersion(all) + 1
	broken := append(all, migration{version: next, name: "broken",
		sql: "CREATE TABLE certs_half (id INTEGER);\nCREATE TABLE certs_broken (id NOT A TYPE);\n"})
	version, err := migrate(db, &sync.Mutex{}, clock.Now, broken)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "broken")
	assert.Equal(t, latestVersion(all), version, "every migration before it applied")
	var half bool
	require.NoError(t, db.QueryRow(`SELECT to_regclass('certs_half') IS NOT NULL`).Scan(&half))
	assert.False(t, half, "the failed migration's first statement was rolled back")
	current, err := schemaVersion(db)
	require.NoError(t, err)
	assert.Equal(t, latestVersion(all), current)

	// A later, fixed plugin migrates from there.
	fixed := append(all, migration{version: next, name: "fixed", sql: "CREATE TABLE certs_half (id INTEGER);\n"})
	version, err = migrate(db, &sync.Mutex{}, clock.Now, fixed)
	require.NoError(t, err)
	assert.Equal(t, next, version)
}

// schemaVersion is the highest version the database has recorded.
func schemaVersion(db *sql.DB) (int, error) {
	var version sql.NullInt64
	if err := db.QueryRow(`SELECT MAX(version) FROM ` + migrationsTable).Scan(&version); err != nil {
		return 0, fmt.Errorf("read the schema version: %w", err)
	}
	return int(version.Int64), nil
}

// latestVersion is the highest version of a list of migrations.
func latestVersion(all []migration) int {
	return all[len(all)-1].version
}

// Migrations numbered with a gap (a change that took the number after one
// that had not landed yet) migrate; the one in the gap, once it lands, is
// applied to a database already past it. A version in the gap that the
// plugin does not know is refused, as a newer schema is.
func TestAMigrationThatLandsInAGapIsAppliedLater(t *testing.T) {
	db := newDatabase(t)
	clock := clocktest.New(time.Now())
	all, err := migrations()
	require.NoError(t, err)
	last := latestVersion(all)
	early := migration{version: last + 1, name: "early", sql: "CREATE TABLE certs_early (id INTEGER);\n"}
	late := migration{version: last + 2, name: "late", sql: "CREATE TABLE certs_late (id INTEGER);\n"}

	version, err := migrate(db, &sync.Mutex{}, clock.Now, append(slices.Clone(all), late))
	require.NoError(t, err)
	assert.Equal(t, last+2, version)

	_, err = migrate(db, &sync.Mutex{}, clock.Now, all)
	require.Error(t, err, "a plugin that knows neither")
	assert.Contains(t, err.Error(), "newer than this plugin knows")

	version, err = migrate(db, &sync.Mutex{}, clock.Now, append(slices.Clone(all), early, late))
	require.NoError(t, err)
	assert.Equal(t, last+2, version)
	var exists bool
	require.NoError(t, db.QueryRow(`SELECT to_regclass('certs_early') IS NOT NULL`).Scan(&exists))
	assert.True(t, exists, "the migration in the gap was applied")
	var rows int
	require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM certs_schema_migrations WHERE version > $1`, last).Scan(&rows))
	assert.Equal(t, 2, rows)

	_, err = migrate(db, &sync.Mutex{}, clock.Now, append(slices.Clone(all), late))
	require.Error(t, err, "a plugin that does not know the one in the gap")
	assert.Contains(t, err.Error(), fmt.Sprintf("version %d, which this plugin does not know", last+1))
}

func TestSchemaNewerThanThePluginIsRefused(t *testing.T) {
	db := newDatabase(t)
	clock := clocktest.New(time.Now())
	_, err := Migrate(db, &sync.Mutex{}, clock.Now)
	require.NoError(t, err)
	_, err = db.Exec(`INSERT INTO certs_schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)`)
	require.NoError(t, err)
	_, err = Migrate(db, &sync.Mutex{}, clock.Now)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "newer than this plugin knows")
}

// Approve and deny racing on one request: exactly one decides it.
func TestRacingDecisionsDecideOnce(t *testing.T) {
	s, clock, db := newTestStore(t)
	require.NoError(t, s.CreateRequest(inventorytest.Request("r-1", alice, clock.Now())))
	var wg sync.WaitGroup
	results := make([]error, 20)
	for i := range results {
		to := records.RequestApproved
		if i%2 == 1 {
			to = records.RequestDenied
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, results[i] = s.MoveRequest("r-1", clock.Now(), []records.RequestState{records.RequestPending}, to, nil)
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range results {
		if err == nil {
			wins++
		}
	}
	assert.Equal(t, 1, wins)
	decisions := 0
	for _, kind := range events(t, db) {
		if kind == "request.approved" || kind == "request.denied" {
			decisions++
		}
	}
	assert.Equal(t, 1, decisions, "one decision, one event")
}

// Queries over many rows are stopped by PostgreSQL itself: the server's
// driver does not pass contexts on.
func TestSlowQueriesAreBoundedByTheDatabase(t *testing.T) {
	s, _, _ := newTestStore(t)
	var timeout string
	require.NoError(t, s.bounded(func(q querier) error {
		return q.QueryRow(`SHOW statement_timeout`).Scan(&timeout)
	}))
	assert.Equal(t, slowQueryTimeout, timeout)
	require.NoError(t, s.db.QueryRow(`SHOW statement_timeout`).Scan(&timeout))
	assert.Equal(t, "0", timeout, "only inside the transaction: the server's pool is left as it was")
}

// A database at the previous version is brought up to date with its data
// kept.
func TestMigrateFromThePreviousVersion(t *testing.T) {
	db := newDatabase(t)
	clock := clocktest.New(time.Date(2031, time.March, 4, 5, 6, 7, 0, time.UTC))
	all, err := migrations()
	require.NoError(t, err)
	require.Greater(t, len(all), 1)
	_, err = migrate(db, &sync.Mutex{}, clock.Now, all[:len(all)-1])
	require.NoError(t, err)
	// A row as the previous version wrote it (its columns only).
	_, err = db.Exec(`INSERT INTO certs_certificates (serial, issuer, connector, owner, subject, common_name, fingerprint,
		not_before, not_after, state, der, created_at) VALUES ('01', 'i', 'builtin', 'mm:alice', 'CN=alice', 'alice', 'fp', 0, $1, 'issued', '\x30', 0)`,
		clock.Now().Add(time.Hour).UnixMilli())
	require.NoError(t, err)

	version, err := Migrate(db, &sync.Mutex{}, clock.Now)
	require.NoError(t, err)
	assert.Equal(t, latestVersion(all), version)
	got, err := New(db, clock.Now).GetCertificate("01")
	require.NoError(t, err)
	assert.Equal(t, "01", got.Serial)
}
