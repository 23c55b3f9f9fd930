package sqlstore

import (
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/*.up.sql
var migrationFiles embed.FS

// migration is one versioned change of the schema.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations are the schema's versions, in order, from the embedded files
// named NNNNNN_name.up.sql. Their numbers may leave a gap: a change made
// beside another may take the number after one that has not landed yet,
// and the one that lands later is applied then (see migrate). Each must
// therefore stand on its own, as adding a column does.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		base := strings.TrimSuffix(e.Name(), ".up.sql")
		number, name, ok := strings.Cut(base, "_")
		version, err := strconv.Atoi(number)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration file %q is not named NNNNNN_name.up.sql", e.Name())
		}
		text, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: version, name: name, sql: string(text)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version < 1 {
			return nil, fmt.Errorf("migration %d (%s) is numbered below 1", m.version, m.name)
		}
		if i > 0 && out[i-1].version == m.version {
			return nil, fmt.Errorf("migrations %s and %s are both numbered %d", out[i-1].name, m.name, m.version)
		}
	}
	return out, nil
}

// Locker is a lock held by one node of a cluster at a time.
type Locker interface {
	Lock()
	Unlock()
}

// migrationsTable records the schema versions applied.
const migrationsTable = "certs_schema_migrations"

// Migrate brings the schema up to the latest version, under lock so that
// one node of a cluster migrates while the others wait: every migration
// whose version the database has not recorded is applied, in order, so one
// numbered below the schema's version is applied too when it comes. Each
// migration runs in one transaction with its version row (PostgreSQL's DDL
// is transactional), so a failure leaves the schema as it was before it,
// never half-changed. A database with a version this plugin does not know
// is refused. It returns the highest version the schema is at.
func Migrate(db *sql.DB, lock Locker, now func() time.Time) (int, error) {
	all, err := migrations()
	if err != nil {
		return 0, err
	}
	return migrate(db, lock, now, all)
}

func migrate(db *sql.DB, lock Locker, now func() time.Time, all []migration) (int, error) {
	lock.Lock()
	defer lock.Unlock()
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS ` + migrationsTable + ` (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at BIGINT NOT NULL)`); err != nil {
		return 0, fmt.Errorf("create %s: %w", migrationsTable, err)
	}
	applied, err := appliedVersions(db)
	if err != nil {
		return 0, err
	}
	known := map[int]bool{}
	latest := 0
	for _, m := range all {
		known[m.version] = true
		latest = max(latest, m.version)
	}
	current := 0
	done := map[int]bool{}
	for _, version := range applied {
		current = max(current, version)
		done[version] = true
	}
	for _, version := range applied {
		if version > latest {
			return current, fmt.Errorf("the database schema is at version %d, newer than this plugin knows (%d): install the newer plugin version again", version, latest)
		}
		if !known[version] {
			return current, fmt.Errorf("the database schema has version %d, which this plugin does not know: install the plugin version that made it again", version)
		}
	}
	for _, m := range all {
		if done[m.version] {
			continue
		}
		if err := apply(db, m, now()); err != nil {
			return current, fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
		}
		current = max(current, m.version)
	}
	return current, nil
}

// appliedVersions are the versions the database has recorded, in order.
func appliedVersions(db *sql.DB) ([]int, error) {
	var list string
	// One row, so one round trip over the server's driver.
	if err := db.QueryRow(`SELECT COALESCE(string_agg(version::text, ' ' ORDER BY version), '') FROM ` + migrationsTable).Scan(&list); err != nil {
		return nil, fmt.Errorf("read the schema versions: %w", err)
	}
	var versions []int
	for _, field := range strings.Fields(list) {
		version, err := strconv.Atoi(field)
		if err != nil {
			return nil, fmt.Errorf("read the schema versions: %q is not a version", field)
		}
		versions = append(versions, version)
	}
	return versions, nil
}

func apply(db *sql.DB, m migration, at time.Time) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	for _, statement := range statements(m.sql) {
		if _, err := tx.Exec(statement); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(`INSERT INTO `+migrationsTable+` (version, name, applied_at) VALUES ($1, $2, $3)`, m.version, m.name, millis(at)); err != nil {
		return err
	}
	return tx.Commit()
}

// statements splits a migration into its statements, one per Exec: the
// server's driver may not take several at once. A statement ends with a
// semicolon at the end of a line, outside a $$-quoted function body;
// comment lines are dropped.
func statements(script string) []string {
	var out []string
	var current strings.Builder
	inBody := false
	for _, line := range strings.Split(script, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || (!inBody && strings.HasPrefix(trimmed, "--")) {
			continue
		}
		current.WriteString(line)
		current.WriteString("\n")
		if strings.Count(line, "$$")%2 == 1 {
			inBody = !inBody
		}
		if !inBody && strings.HasSuffix(trimmed, ";") {
			out = append(out, strings.TrimSpace(current.String()))
			current.Reset()
		}
	}
	if rest := strings.TrimSpace(current.String()); rest != "" {
		out = append(out, rest)
	}
	return out
}
