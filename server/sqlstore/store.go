// Package sqlstore keeps the certificate inventory in tables of the
// Mattermost database (PostgreSQL): certificates, requests, the claim on
// each certified key, and events. Every change that touches several rows is
// one statement or one transaction; a change two nodes may race is a
// conditional update (a version column) or a unique constraint. It is
// reached through database/sql: in the plugin over the server's own
// database driver, in tests straight to PostgreSQL.
package sqlstore

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lib/pq"
)

// maxList bounds every listing: the server's driver runs queries without
// their contexts, so no query may grow without bound.
const maxList = 10000

// updateAttempts bounds how often a conditional update is retried after
// another writer changed the row first.
const updateAttempts = 20

// Store is the inventory in the database.
type Store struct {
	db  *sql.DB
	now func() time.Time
}

// New returns the inventory over db, whose schema Migrate has brought up to
// date.
func New(db *sql.DB, now func() time.Time) *Store {
	return &Store{db: db, now: now}
}

// isUniqueViolation reports a unique constraint refusing a row.
func isUniqueViolation(err error) bool {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		return pqErr.Code == "23505"
	}
	// Over the server's driver the error arrives as text.
	return err != nil && (strings.Contains(err.Error(), "23505") || strings.Contains(err.Error(), "duplicate key value violates unique constraint"))
}

// jsonValue is v as JSON for a JSONB column.
func jsonValue(v any) (string, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(data), nil
}

// nullableJSON is v as JSON, or NULL when v is nil.
func nullableJSON[T any](v *T) (any, error) {
	if v == nil {
		return nil, nil
	}
	return jsonValue(v)
}

// fromJSON reads a JSONB column into v; NULL leaves it as it is.
func fromJSON(data []byte, v any) error {
	if len(data) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("read a JSON column: %w", err)
	}
	return nil
}

// millis is a time as the tables keep it: milliseconds since 1970. Times
// travel as numbers because the server's database driver cannot carry a
// time.Time.
func millis(t time.Time) int64 { return t.UnixMilli() }

// fromMillis is a time from the tables, in UTC.
func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func nullMillis(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMilli()
}

func timePtr(ms sql.NullInt64) *time.Time {
	if !ms.Valid {
		return nil
	}
	v := fromMillis(ms.Int64)
	return &v
}

// scanner is a row or rows.
type scanner interface {
	Scan(dest ...any) error
}

// slowQueryTimeout bounds a query that reads many rows (an admin listing,
// the counts). The server's driver runs queries without their contexts, so
// the bound is PostgreSQL's own, set for one transaction.
const slowQueryTimeout = "10s"

// bounded runs fn in a transaction whose statements PostgreSQL stops after
// slowQueryTimeout.
func (s *Store) bounded(fn func(q querier) error) error {
	tx, err := s.db.Begin()
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.Exec(`SET LOCAL statement_timeout = '` + slowQueryTimeout + `'`); err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// lockFor takes the advisory lock named name until tx ends: two
// transactions that take the same name run one after the other. The
// certificate insert trigger of migration 5 takes "certs-key/<fingerprint>"
// the same way.
func lockFor(tx *sql.Tx, name string) error {
	_, err := tx.Exec(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, name)
	return err
}

// querier is a database or a transaction.
type querier interface {
	QueryRow(query string, args ...any) *sql.Row
}
