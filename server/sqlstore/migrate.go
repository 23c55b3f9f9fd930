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
// named NNNNNN_name.up.sql.
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
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %d (%s) is out of sequence", m.version, m.name)
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
// one node of a cluster migrates while the others wait. Each migration runs
// in one transaction with its version row (PostgreSQL's DDL is
// transactional), so a failure leaves the schema at the previous version,
// never half-changed. It returns the version the schema is at.
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
	current, err := schemaVersion(db)
	if err != nil {
		return 0, err
	}
	if current > len(all) {
		return current, fmt.Errorf("the database schema is at version %d, newer than this plugin knows (%d): install the newer plugin version again", current, len(all))
	}
	for _, m := range all[current:] {
		if err := apply(db, m, now()); err != nil {
			return current, fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
		}
		current = m.version
	}
	return current, nil
}

func schemaVersion(db *sql.DB) (int, error) {
	var version sql.NullInt64
	if err := db.QueryRow(`SELECT MAX(version) FROM ` + migrationsTable).Scan(&version); err != nil {
		return 0, fmt.Errorf("read the schema version: %w", err)
	}
	return int(version.Int64), nil
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
