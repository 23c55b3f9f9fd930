package sqlstore

import (
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

const certificateColumns = `serial, issuer, connector, owner, subject, common_name, emails, key_fingerprint, key_type,
	fingerprint, origin, attestation, profile, not_before, not_after, state, revoked_at, revocation_reason, revoked_by,
	registered_by, revocable_at_ca, der, created_at, revocation_pending, renews, email_changed_at, version`

// retryColumns are the job's account of a revocation pending at the CA
// (see records.Certificate): read with the record and changed by
// UpdateCertificate, never set by an insert, as a new certificate has none.
const retryColumns = `revocation_attempts, revocation_retry_at, revocation_ca_answer, revocation_notice_at`

// selectColumns are the columns a read takes, in scanCertificate's order.
const selectColumns = certificateColumns + `, ` + retryColumns

// certificateValues are the columns of c, in certificateColumns' order
// (version aside).
func certificateValues(c *records.Certificate) ([]any, error) {
	emails, err := jsonValue(nonNil(c.Emails))
	if err != nil {
		return nil, err
	}
	attestation, err := nullableJSON(c.Attestation)
	if err != nil {
		return nil, err
	}
	return []any{c.Serial, c.Issuer, c.Connector, string(c.Owner), c.Subject, c.CommonName, emails, c.KeyFingerprint, c.KeyType,
		c.Fingerprint, c.Origin, attestation, c.Profile, millis(c.NotBefore), millis(c.NotAfter), string(c.State), nullMillis(c.RevokedAt),
		c.RevocationReason, c.RevokedBy, c.RegisteredBy, c.RevocableAtCA, c.DER, millis(c.CreatedAt), c.RevocationPending,
		c.Renews, nullMillis(c.EmailChangedAt)}, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func scanCertificate(row scanner) (*records.Certificate, int, error) {
	var (
		c                   records.Certificate
		owner, state        string
		emails, attestation []byte
		revokedAt           sql.NullInt64
		emailChangedAt      sql.NullInt64
		notBefore, notAfter int64
		createdAt           int64
		version             int
		retryAt, noticeAt   sql.NullInt64
	)
	err := row.Scan(&c.Serial, &c.Issuer, &c.Connector, &owner, &c.Subject, &c.CommonName, &emails, &c.KeyFingerprint, &c.KeyType,
		&c.Fingerprint, &c.Origin, &attestation, &c.Profile, &notBefore, &notAfter, &state, &revokedAt, &c.RevocationReason,
		&c.RevokedBy, &c.RegisteredBy, &c.RevocableAtCA, &c.DER, &createdAt, &c.RevocationPending, &c.Renews, &emailChangedAt, &version,
		&c.RevocationAttempts, &retryAt, &c.RevocationCAAnswer, &noticeAt)
	if err != nil {
		return nil, 0, err
	}
	c.Owner, c.State, c.RevokedAt = records.Principal(owner), records.CertState(state), timePtr(revokedAt)
	c.EmailChangedAt = timePtr(emailChangedAt)
	c.RevocationRetryAt, c.RevocationNoticeAt = timePtr(retryAt), timePtr(noticeAt)
	c.NotBefore, c.NotAfter, c.CreatedAt = fromMillis(notBefore), fromMillis(notAfter), fromMillis(createdAt)
	if err := fromJSON(emails, &c.Emails); err != nil {
		return nil, 0, err
	}
	if len(c.Emails) == 0 {
		c.Emails = nil
	}
	if len(attestation) > 0 {
		c.Attestation = &records.Attestation{}
		if err := fromJSON(attestation, c.Attestation); err != nil {
			return nil, 0, err
		}
	}
	return &c, version, nil
}

// insertCertificate is the statement that records a certificate; $1..$26
// are its columns.
const insertCertificate = `INSERT INTO certs_certificates (` + certificateColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, 1)`

// CreateCertificate records a certificate; a serial already recorded is
// records.ErrDuplicateSerial.
func (s *Store) CreateCertificate(c *records.Certificate) error {
	if c.Serial == "" || c.Owner == "" {
		return errors.New("a certificate record needs a serial and an owner")
	}
	values, err := certificateValues(c)
	if err != nil {
		return err
	}
	values = append(values, millis(s.now()))
	_, err = s.db.Exec(`WITH cert AS (`+insertCertificate+` RETURNING serial, owner)
		INSERT INTO certs_events (at, kind, owner, serial) SELECT $27, 'certificate.recorded', owner, serial FROM cert`, values...)
	switch {
	case isUniqueViolation(err):
		return records.ErrDuplicateSerial
	case isCompromisedKey(err):
		return records.ErrCompromisedKey
	}
	return err
}

// RecordIssuance records a certificate and, when requestID is set, closes
// that request as issued with it, and writes the event: one statement, so
// all of it happens or none. A certificate already recorded under its serial
// with the same fingerprint (a delivery held since it was issued) is
// records.ErrAlreadyRecorded, its request closed all the same; another
// certificate under a recorded serial is records.ErrDuplicateSerial, and
// closes nothing. A request that cannot be closed (it expired meanwhile,
// or is not there) is *records.ErrTransition, with the certificate
// recorded all the same.
//
// With a quota, the owner's certificates are counted and the certificate
// recorded in one transaction, under a lock on the owner, so that of two
// enrollments racing for the last place one gets it and the other
// *records.ErrOverQuota. The lock costs two round trips more, paid only
// where a limit is set.
func (s *Store) RecordIssuance(c *records.Certificate, requestID string, now time.Time, quota *records.Quota) error {
	if c.Serial == "" || c.Owner == "" {
		return errors.New("a certificate record needs a serial and an owner")
	}
	values, err := certificateValues(c)
	if err != nil {
		return err
	}
	values = append(values, millis(now), requestID)
	if quota == nil {
		return recordIssuance(s.db, c, requestID, values)
	}
	tx, err := s.db.Begin()
	if err != nil {
		return fmt.Errorf("record the certificate: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := lockFor(tx, "certs-quota/"+string(c.Owner)); err != nil {
		return fmt.Errorf("record the certificate: %w", err)
	}
	counts, err := countOwned(tx, c.Owner, *quota, now)
	if err != nil {
		return err
	}
	if !quota.Allows(counts) {
		return &records.ErrOverQuota{Quota: *quota, Counts: counts}
	}
	err = recordIssuance(tx, c, requestID, values)
	var unclosed *records.ErrTransition
	if err != nil && !errors.As(err, &unclosed) && !errors.Is(err, records.ErrAlreadyRecorded) {
		return err
	}
	if commitErr := tx.Commit(); commitErr != nil {
		return fmt.Errorf("record the certificate: %w", commitErr)
	}
	return err
}

func recordIssuance(q querier, c *records.Certificate, requestID string, values []any) error {
	var (
		inserted, closed int
		existing         sql.NullString
		requestState     sql.NullString
	)
	err := q.QueryRow(`WITH cert AS (`+insertCertificate+` ON CONFLICT (serial) DO NOTHING RETURNING serial, owner),
		event AS (INSERT INTO certs_events (at, kind, owner, serial, request_id, detail)
			SELECT $27, 'certificate.issued', owner, serial, $28,
				CASE WHEN $25 <> '' THEN jsonb_build_object('renews', $25::text) ELSE '{}'::jsonb END FROM cert),
		request AS (UPDATE certs_requests SET state = 'issued', serial = $1, pending_key = NULL, pending_key_copies = '[]',
			updated_at = $27, version = version + 1
			WHERE $28 <> '' AND id = $28 AND state IN ('approved', 'waiting_ca')
				AND (EXISTS (SELECT 1 FROM cert) OR EXISTS (SELECT 1 FROM certs_certificates WHERE serial = $1 AND fingerprint = $10))
			RETURNING id)
		SELECT (SELECT COUNT(*) FROM cert), (SELECT COUNT(*) FROM request),
			(SELECT fingerprint FROM certs_certificates WHERE serial = $1),
			(SELECT state FROM certs_requests WHERE id = $28)`, values...).Scan(&inserted, &closed, &existing, &requestState)
	switch {
	case isUniqueViolation(err):
		return records.ErrDuplicateSerial
	case isCompromisedKey(err):
		return records.ErrCompromisedKey
	case err != nil:
		return fmt.Errorf("record the certificate: %w", err)
	}
	if inserted == 0 && existing.String != c.Fingerprint {
		return records.ErrDuplicateSerial
	}
	if inserted == 0 && (requestID == "" || closed == 1) {
		return records.ErrAlreadyRecorded
	}
	if requestID != "" && closed == 0 {
		return &records.ErrTransition{From: records.RequestState(requestState.String), To: records.RequestIssued}
	}
	return nil
}

// GetCertificate returns the certificate with serial, or records.ErrNotFound.
func (s *Store) GetCertificate(serial string) (*records.Certificate, error) {
	c, _, err := s.getCertificate(serial)
	return c, err
}

func (s *Store) getCertificate(serial string) (*records.Certificate, int, error) {
	c, version, err := scanCertificate(s.db.QueryRow(`SELECT `+selectColumns+` FROM certs_certificates WHERE serial = $1`, serial))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, records.ErrNotFound
	}
	return c, version, err
}

// CertificateStanding returns where the certificate with serial stands, as
// an OCSP responder needs it: a record with its connector, issuer, origin,
// state and revocation only (no DER, names or attestation), read in a
// narrow row; records.ErrNotFound when there is none.
func (s *Store) CertificateStanding(serial string) (*records.Certificate, error) {
	c := records.Certificate{Serial: serial}
	var (
		state     string
		revokedAt sql.NullInt64
		createdAt int64
	)
	err := s.db.QueryRow(`SELECT connector, issuer, origin, state, revocable_at_ca, revoked_at, revocation_reason, created_at
		FROM certs_certificates WHERE serial = $1`, serial).Scan(&c.Connector, &c.Issuer, &c.Origin, &state, &c.RevocableAtCA,
		&revokedAt, &c.RevocationReason, &createdAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, records.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read certificate %s: %w", serial, err)
	}
	c.State, c.RevokedAt, c.CreatedAt = records.CertState(state), timePtr(revokedAt), fromMillis(createdAt)
	return &c, nil
}

// ListCertificates returns an owner's certificates, oldest first.
func (s *Store) ListCertificates(owner records.Principal) ([]*records.Certificate, error) {
	list, err := s.listCertificates(`WHERE owner = $1 ORDER BY created_at, serial LIMIT $2`, "c.created_at, c.serial", string(owner), maxList)
	if len(list) == 0 {
		list = nil
	}
	return list, err
}

// UpdateCertificate changes a certificate with a conditional update: change
// sees the current record and may edit it, or return an error to leave it
// alone; what identifies the certificate is kept as recorded (see
// records.Certificate.KeepIdentity). Of two writers, the second sees the
// first's change. A revocation writes its event in the same statement.
func (s *Store) UpdateCertificate(serial string, change func(*records.Certificate) error) (*records.Certificate, error) {
	for range updateAttempts {
		current, version, err := s.getCertificate(serial)
		if err != nil {
			return nil, err
		}
		recorded := *current
		if err := change(current); err != nil {
			return nil, err
		}
		current.KeepIdentity(&recorded)
		kind := ""
		if current.State != recorded.State {
			kind = "certificate." + string(current.State)
		}
		emails, err := jsonValue(nonNil(current.Emails))
		if err != nil {
			return nil, err
		}
		attestation, err := nullableJSON(current.Attestation)
		if err != nil {
			return nil, err
		}
		var updated int
		err = s.db.QueryRow(`WITH cert AS (UPDATE certs_certificates SET connector = $2, subject = $3, common_name = $4, emails = $5,
				key_fingerprint = $6, key_type = $7, origin = $8, attestation = $9, profile = $10, state = $11, revoked_at = $12,
				revocation_reason = $13, revoked_by = $14, registered_by = $15, revocable_at_ca = $16, revocation_pending = $20,
				email_changed_at = $21, revocation_attempts = $22, revocation_retry_at = $23, revocation_ca_answer = $24,
				revocation_notice_at = $25, version = version + 1
				WHERE serial = $1 AND version = $17 RETURNING serial, owner, revoked_by),
			event AS (INSERT INTO certs_events (at, kind, owner, serial, actor)
				SELECT $18, $19, owner, serial, revoked_by FROM cert WHERE $19 <> '')
			SELECT COUNT(*) FROM cert`,
			current.Serial, current.Connector, current.Subject, current.CommonName, emails, current.KeyFingerprint, current.KeyType,
			current.Origin, attestation, current.Profile, string(current.State), nullMillis(current.RevokedAt), current.RevocationReason,
			current.RevokedBy, current.RegisteredBy, current.RevocableAtCA, version, millis(s.now()), kind, current.RevocationPending,
			nullMillis(current.EmailChangedAt), current.RevocationAttempts, nullMillis(current.RevocationRetryAt), current.RevocationCAAnswer,
			nullMillis(current.RevocationNoticeAt)).Scan(&updated)
		if err != nil {
			return nil, fmt.Errorf("update certificate %s: %w", serial, err)
		}
		if updated == 1 {
			return current, nil
		}
	}
	return nil, fmt.Errorf("update certificate %s: changed by others %d times in a row", serial, updateAttempts)
}

// certificateJSON is a certificates row as PostgreSQL's json_agg writes it:
// a listing comes back as one value, so that the server's driver, which
// fetches each row with a round trip of its own, makes one for a page.
type certificateJSON struct {
	Serial           string          `json:"serial"`
	Issuer           string          `json:"issuer"`
	Connector        string          `json:"connector"`
	Owner            string          `json:"owner"`
	Subject          string          `json:"subject"`
	CommonName       string          `json:"common_name"`
	Emails           []string        `json:"emails"`
	KeyFingerprint   string          `json:"key_fingerprint"`
	KeyType          string          `json:"key_type"`
	Fingerprint      string          `json:"fingerprint"`
	Origin           string          `json:"origin"`
	Attestation      json.RawMessage `json:"attestation"`
	Profile          string          `json:"profile"`
	NotBefore        int64           `json:"not_before"`
	NotAfter         int64           `json:"not_after"`
	State            string          `json:"state"`
	RevokedAt        *int64          `json:"revoked_at"`
	RevocationReason string          `json:"revocation_reason"`
	RevokedBy        string          `json:"revoked_by"`
	RegisteredBy     string          `json:"registered_by"`
	RevocableAtCA    bool            `json:"revocable_at_ca"`
	DER              string          `json:"der"` // bytea: \x and hex
	CreatedAt        int64           `json:"created_at"`
	Pending          bool            `json:"revocation_pending"`
	Renews           string          `json:"renews"`
	EmailChangedAt   *int64          `json:"email_changed_at"`
	Attempts         int             `json:"revocation_attempts"`
	RetryAt          *int64          `json:"revocation_retry_at"`
	CAAnswer         string          `json:"revocation_ca_answer"`
	NoticeAt         *int64          `json:"revocation_notice_at"`
}

func (j *certificateJSON) record() (*records.Certificate, error) {
	der, err := hex.DecodeString(strings.TrimPrefix(j.DER, `\x`))
	if err != nil {
		return nil, fmt.Errorf("certificate %s: read its DER: %w", j.Serial, err)
	}
	c := &records.Certificate{
		Serial: j.Serial, Issuer: j.Issuer, Connector: j.Connector, Owner: records.Principal(j.Owner), Subject: j.Subject,
		CommonName: j.CommonName, Emails: j.Emails, KeyFingerprint: j.KeyFingerprint, KeyType: j.KeyType, Fingerprint: j.Fingerprint,
		Origin: j.Origin, Profile: j.Profile, NotBefore: fromMillis(j.NotBefore), NotAfter: fromMillis(j.NotAfter),
		State: records.CertState(j.State), RevocationReason: j.RevocationReason, RevokedBy: j.RevokedBy, RegisteredBy: j.RegisteredBy,
		RevocableAtCA: j.RevocableAtCA, DER: der, CreatedAt: fromMillis(j.CreatedAt), RevocationPending: j.Pending, Renews: j.Renews,
		RevocationAttempts: j.Attempts, RevocationRetryAt: millisPtr(j.RetryAt), RevocationCAAnswer: j.CAAnswer,
		RevocationNoticeAt: millisPtr(j.NoticeAt),
	}
	if len(c.Emails) == 0 {
		c.Emails = nil
	}
	if j.RevokedAt != nil {
		at := fromMillis(*j.RevokedAt)
		c.RevokedAt = &at
	}
	if j.EmailChangedAt != nil {
		at := fromMillis(*j.EmailChangedAt)
		c.EmailChangedAt = &at
	}
	if len(j.Attestation) > 0 && string(j.Attestation) != "null" {
		c.Attestation = &records.Attestation{}
		if err := json.Unmarshal(j.Attestation, c.Attestation); err != nil {
			return nil, fmt.Errorf("certificate %s: read its attestation: %w", j.Serial, err)
		}
	}
	return c, nil
}

// millisPtr is a nullable time of a JSON row.
func millisPtr(ms *int64) *time.Time {
	if ms == nil {
		return nil
	}
	t := fromMillis(*ms)
	return &t
}

// listCertificates runs a query over certs_certificates (its WHERE, ORDER
// BY and LIMIT in rest) and returns its rows in order, in one round trip.
func (s *Store) listCertificates(rest, order string, args ...any) ([]*records.Certificate, error) {
	return listCertificatesWith(s.db, rest, order, args...)
}

func listCertificatesWith(q querier, rest, order string, args ...any) ([]*records.Certificate, error) {
	var data []byte
	err := q.QueryRow(`SELECT COALESCE(json_agg(c ORDER BY `+order+`), '[]') FROM (SELECT `+selectColumns+
		` FROM certs_certificates `+rest+`) c`, args...).Scan(&data)
	if err != nil {
		return nil, fmt.Errorf("list certificates: %w", err)
	}
	return decodeCertificates(data)
}

// decodeCertificates reads certificate rows that json_agg wrote.
func decodeCertificates(data []byte) ([]*records.Certificate, error) {
	var rows []certificateJSON
	if err := json.Unmarshal(data, &rows); err != nil {
		return nil, fmt.Errorf("read certificates: %w", err)
	}
	out := make([]*records.Certificate, 0, len(rows))
	for i := range rows {
		c, err := rows[i].record()
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}
