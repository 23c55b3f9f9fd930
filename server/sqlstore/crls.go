package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// crlTimeout bounds the transaction that signs a list: reading a hundred
// thousand revocations and writing the list take well under a second.
const crlTimeout = "30s"

// crlLock names the lock one CA's lists are signed under.
func crlLock(scope records.CRLScope) string {
	return "certs-crl/" + scope.Connector + "/" + scope.Issuer
}

const crlColumns = `number, this_update, next_update, entries, revision, covered`

func scanCRL(row scanner, withDER bool) (*records.CRL, error) {
	var (
		crl                    records.CRL
		thisUpdate, nextUpdate int64
	)
	dest := []any{&crl.Number, &thisUpdate, &nextUpdate, &crl.Entries, &crl.Revision, &crl.Covered}
	if withDER {
		dest = append(dest, &crl.DER)
	}
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	crl.ThisUpdate, crl.NextUpdate = fromMillis(thisUpdate), fromMillis(nextUpdate)
	return &crl, nil
}

// CurrentCRL returns what is known of a CA's list, without its bytes: nil
// when neither a list nor a revocation was ever recorded for it.
func (s *Store) CurrentCRL(scope records.CRLScope) (*records.CRL, error) {
	crl, err := currentCRL(s.db, scope)
	if err != nil {
		return nil, fmt.Errorf("read the revocation list of %s: %w", scope.Connector, err)
	}
	return crl, nil
}

func currentCRL(q querier, scope records.CRLScope) (*records.CRL, error) {
	crl, err := scanCRL(q.QueryRow(`SELECT `+crlColumns+` FROM certs_crls WHERE connector = $1 AND issuer = $2`,
		scope.Connector, scope.Issuer), false)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return crl, err
}

// CRLBytes returns the DER of a CA's list numbered number, or
// records.ErrNotFound when that is no longer its current one.
func (s *Store) CRLBytes(scope records.CRLScope, number int64) ([]byte, error) {
	var der []byte
	err := s.db.QueryRow(`SELECT der FROM certs_crls WHERE connector = $1 AND issuer = $2 AND number = $3`,
		scope.Connector, scope.Issuer, number).Scan(&der)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && der == nil) {
		return nil, records.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read the revocation list of %s: %w", scope.Connector, err)
	}
	return der, nil
}

// IssueCRL signs the next list of a CA when due says so, one signer per CA
// at a time, cluster-wide: under a lock of that CA's alone, it reads the
// current list and the CA's revision (due sees both), then the
// revocations, which are thus at least what that revision counts, and
// sign makes the list numbered after the current one from them. The list
// covers the revision read. It returns the list now current: the new one,
// with its bytes, or the one due left alone, without them.
//
// A list carries the CA's revoked certificates that have not expired
// before the previous list was signed, so that each expired one is on at
// least one list signed after its expiry (RFC 5280, 3.3), then leaves.
func (s *Store) IssueCRL(scope records.CRLScope, now time.Time, due func(current *records.CRL) bool,
	sign func(number int64, revoked []records.Revocation) (*records.CRL, error)) (*records.CRL, error) {
	tx, err := s.db.Begin()
	if err != nil {
		return nil, fmt.Errorf("sign the revocation list of %s: %w", scope.Connector, err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.Exec(`SET LOCAL statement_timeout = '` + crlTimeout + `'`); err != nil {
		return nil, err
	}
	if err := lockFor(tx, crlLock(scope)); err != nil {
		return nil, fmt.Errorf("sign the revocation list of %s: %w", scope.Connector, err)
	}
	current, err := currentCRL(tx, scope)
	if err != nil {
		return nil, fmt.Errorf("sign the revocation list of %s: %w", scope.Connector, err)
	}
	if !due(current) {
		return current, tx.Commit()
	}
	number, since := records.Next(current, now)
	revoked, err := revocations(tx, scope, since)
	if err != nil {
		return nil, err
	}
	signed, err := sign(number, revoked)
	if err != nil {
		return nil, err
	}
	next := records.Issued(signed, number, len(revoked), current)
	_, err = tx.Exec(`INSERT INTO certs_crls (connector, issuer, number, this_update, next_update, entries, der, covered)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (connector, issuer) DO UPDATE SET number = EXCLUDED.number, this_update = EXCLUDED.this_update,
			next_update = EXCLUDED.next_update, entries = EXCLUDED.entries, der = EXCLUDED.der, covered = EXCLUDED.covered`,
		scope.Connector, scope.Issuer, next.Number, millis(next.ThisUpdate), millis(next.NextUpdate), next.Entries, next.DER, next.Covered)
	if err != nil {
		return nil, fmt.Errorf("record the revocation list of %s: %w", scope.Connector, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("record the revocation list of %s: %w", scope.Connector, err)
	}
	return next, nil
}

// revocations reads a CA's revoked certificates that expire at since or
// later, as one value (the server's driver fetches each row with a round
// trip of its own): a line per certificate, serial, milliseconds and reason,
// in no particular order (a list's entries need none, and sorting a hundred
// thousand would cost a third of the read).
func revocations(q querier, scope records.CRLScope, since time.Time) ([]records.Revocation, error) {
	var text string
	err := q.QueryRow(`SELECT COALESCE(string_agg(serial || ' ' || COALESCE(revoked_at, created_at) || ' ' || revocation_reason, E'\n'), '')
		FROM certs_certificates WHERE connector = $1 AND issuer = $2 AND state = 'revoked' AND not_after >= $3`,
		scope.Connector, scope.Issuer, millis(since)).Scan(&text)
	if err != nil {
		return nil, fmt.Errorf("list the revocations of %s: %w", scope.Connector, err)
	}
	if text == "" {
		return nil, nil
	}
	out := make([]records.Revocation, 0, strings.Count(text, "\n")+1)
	for line := range strings.SplitSeq(text, "\n") {
		serial, rest, ok1 := strings.Cut(line, " ")
		at, reason, ok2 := strings.Cut(rest, " ")
		ms, err := strconv.ParseInt(at, 10, 64)
		if !ok1 || !ok2 || err != nil {
			return nil, fmt.Errorf("list the revocations of %s: unreadable line %q", scope.Connector, line)
		}
		out = append(out, records.Revocation{Serial: serial, RevokedAt: ms, Reason: reason})
	}
	return out, nil
}

// ImportCRL records a list signed by an earlier version (kept in the KV
// store) unless the CA has a list numbered as high already, so that
// numbering goes on from it: relying parties keep the list with the
// highest number they saw.
func (s *Store) ImportCRL(scope records.CRLScope, crl *records.CRL) error {
	tx, err := s.db.Begin()
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if err := lockFor(tx, crlLock(scope)); err != nil {
		return err
	}
	// It covers nothing: the next signing reads every revocation.
	_, err = tx.Exec(`INSERT INTO certs_crls AS l (connector, issuer, number, this_update, next_update, entries, der, covered)
		VALUES ($1, $2, $3, $4, $5, 0, $6, -1)
		ON CONFLICT (connector, issuer) DO UPDATE SET number = EXCLUDED.number, this_update = EXCLUDED.this_update,
			next_update = EXCLUDED.next_update, der = EXCLUDED.der, covered = -1
		WHERE l.number < EXCLUDED.number`,
		scope.Connector, scope.Issuer, crl.Number, millis(crl.ThisUpdate), millis(crl.NextUpdate), crl.DER)
	if err != nil {
		return fmt.Errorf("import the revocation list of %s: %w", scope.Connector, err)
	}
	return tx.Commit()
}
