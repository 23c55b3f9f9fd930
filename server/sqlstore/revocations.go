package sqlstore

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// qualifiedColumns are the columns a read takes (selectColumns) of the
// table named as alias, for a statement that joins it.
func qualifiedColumns(alias string) string {
	fields := strings.Split(selectColumns, ",")
	for i, field := range fields {
		fields[i] = alias + "." + strings.TrimSpace(field)
	}
	return strings.Join(fields, ", ")
}

// revokeStatement revokes a certificate and, for keyCompromise, marks its
// key and revokes the key's other valid certificates; it writes an event
// for each certificate revoked and adds one to the revision of each CA's
// list per certificate of that CA: one statement, so all of it happens or
// none. A certificate revoked before for another reason may be revoked
// again for keyCompromise: its list entry takes the new reason, its key is
// marked, and it keeps its revocation time.
//
// $1 serial, $2 when (ms), $3 by, $4 reason, $5 pending at the CA, $6 the
// remote connectors (a JSON array), $7 now (ms).
var revokeStatement = `WITH cert AS (
		UPDATE certs_certificates SET state = 'revoked', revoked_at = COALESCE(revoked_at, $2), revoked_by = $3,
			revocation_reason = $4, revocation_pending = CASE WHEN state = 'issued' THEN $5 ELSE revocation_pending END,
			version = version + 1
		WHERE serial = $1 AND (state = 'issued' OR ($4 = 'keyCompromise' AND revocation_reason <> 'keyCompromise'))
		RETURNING ` + selectColumns + `),
	compromised AS (
		INSERT INTO certs_compromised_keys (key_fingerprint, serial, reported_at)
		SELECT key_fingerprint, serial, $2 FROM cert WHERE $4 = 'keyCompromise' AND key_fingerprint <> ''
		ON CONFLICT (key_fingerprint) DO NOTHING),
	siblings AS (
		UPDATE certs_certificates s SET state = 'revoked', revoked_at = $2, revoked_by = $3, revocation_reason = 'keyCompromise',
			revocation_pending = (s.connector IN (SELECT jsonb_array_elements_text($6::jsonb)) AND (s.origin <> 'imported' OR s.revocable_at_ca)),
			version = s.version + 1
		FROM cert WHERE $4 = 'keyCompromise' AND cert.key_fingerprint <> '' AND s.key_fingerprint = cert.key_fingerprint
			AND s.serial <> cert.serial AND s.state = 'issued' AND s.not_after >= $7
		RETURNING ` + qualifiedColumns("s") + `),
	revoked AS (
		SELECT serial, owner, connector, issuer, revoked_by FROM cert
		UNION ALL SELECT serial, owner, connector, issuer, revoked_by FROM siblings),
	events AS (
		INSERT INTO certs_events (at, kind, owner, serial, actor) SELECT $2, 'certificate.revoked', owner, serial, revoked_by FROM revoked),
	marks AS (
		INSERT INTO certs_crls AS l (connector, issuer, revision)
		SELECT connector, issuer, COUNT(*) FROM revoked WHERE connector <> '' GROUP BY connector, issuer
		ON CONFLICT (connector, issuer) DO UPDATE SET revision = l.revision + EXCLUDED.revision
		RETURNING connector, issuer, revision)
	SELECT (SELECT COALESCE(json_agg(c), '[]') FROM cert c), (SELECT COALESCE(json_agg(s), '[]') FROM siblings s),
		(SELECT COALESCE(json_agg(json_build_array(connector, issuer, revision)), '[]') FROM marks),
		(SELECT state || ' ' || revocation_reason FROM certs_certificates WHERE serial = $1)`

// RevokeCertificate records a revocation (see revokeStatement): a
// certificate not recorded is records.ErrNotFound, one revoked before
// records.ErrAlreadyRevoked. A revocation for keyCompromise holds the
// key's lock (the one every certificate insert takes, see migration 5)
// from before it reads the key's other certificates until it commits.
func (s *Store) RevokeCertificate(order records.Revoke) (*records.Revoked, error) {
	remote, err := jsonValue(nonNil(order.RemoteConnectors))
	if err != nil {
		return nil, err
	}
	args := []any{order.Serial, millis(order.At), order.By, order.Reason, order.PendingAtCA, remote, millis(s.now())}
	if order.Reason != records.ReasonKeyCompromise {
		return revoke(s.db, args)
	}
	tx, err := s.db.Begin()
	if err != nil {
		return nil, fmt.Errorf("revoke certificate %s: %w", order.Serial, err)
	}
	defer func() { _ = tx.Rollback() }()
	var fingerprint string
	err = tx.QueryRow(`SELECT key_fingerprint FROM certs_certificates WHERE serial = $1`, order.Serial).Scan(&fingerprint)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, records.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("revoke certificate %s: %w", order.Serial, err)
	}
	if fingerprint != "" {
		err = lockFor(tx, "certs-key/"+fingerprint)
	}
	if err != nil {
		return nil, fmt.Errorf("revoke certificate %s: %w", order.Serial, err)
	}
	revoked, err := revoke(tx, args)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("revoke certificate %s: %w", order.Serial, err)
	}
	return revoked, nil
}

func revoke(q querier, args []any) (*records.Revoked, error) {
	var (
		certJSON, siblingsJSON, marksJSON []byte
		before                            sql.NullString
	)
	if err := q.QueryRow(revokeStatement, args...).Scan(&certJSON, &siblingsJSON, &marksJSON, &before); err != nil {
		return nil, fmt.Errorf("revoke certificate %s: %w", args[0], err)
	}
	certs, err := decodeCertificates(certJSON)
	if err != nil {
		return nil, err
	}
	if len(certs) == 0 {
		if !before.Valid {
			return nil, records.ErrNotFound
		}
		return nil, records.ErrAlreadyRevoked
	}
	siblings, err := decodeCertificates(siblingsJSON)
	if err != nil {
		return nil, err
	}
	var rows [][3]json.RawMessage
	if err := json.Unmarshal(marksJSON, &rows); err != nil {
		return nil, fmt.Errorf("read the revocation list marks: %w", err)
	}
	out := &records.Revoked{Certificate: certs[0], Siblings: siblings}
	for _, row := range rows {
		var mark records.CRLMark
		if err := errors.Join(json.Unmarshal(row[0], &mark.Scope.Connector), json.Unmarshal(row[1], &mark.Scope.Issuer),
			json.Unmarshal(row[2], &mark.Revision)); err != nil {
			return nil, fmt.Errorf("read the revocation list marks: %w", err)
		}
		out.Marks = append(out.Marks, mark)
	}
	return out, nil
}

// isCompromisedKey reports the insert trigger refusing a compromised key;
// over the server's driver the error arrives as text.
func isCompromisedKey(err error) bool {
	return err != nil && strings.Contains(err.Error(), "certs: compromised key")
}

// CompromisedKey returns the serial of the certificate whose revocation
// for keyCompromise marked a public key, "" when none did.
func (s *Store) CompromisedKey(fingerprint string) (string, error) {
	var serial string
	err := s.db.QueryRow(`SELECT serial FROM certs_compromised_keys WHERE key_fingerprint = $1`, fingerprint).Scan(&serial)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read compromised keys: %w", err)
	}
	return serial, nil
}

// CompromisedValid lists valid certificates of keys revoked as
// compromised: none, as every revocation for keyCompromise revokes the
// key's other certificates; the job checks it, for records made before
// that rule was kept here.
func (s *Store) CompromisedValid(limit int) ([]*records.Certificate, error) {
	return s.listCertificates(`WHERE state = 'issued' AND not_after >= $1 AND key_fingerprint <> ''
		AND key_fingerprint IN (SELECT key_fingerprint FROM certs_compromised_keys) ORDER BY serial LIMIT $2`, "c.serial", millis(s.now()), limit)
}
