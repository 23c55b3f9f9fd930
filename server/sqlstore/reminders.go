package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// ClaimReminder records that the reminder days before a certificate
// expires is being sent; false when it was, here or on another node.
func (s *Store) ClaimReminder(serial string, days int) (bool, error) {
	var claimed string
	err := s.db.QueryRow(`INSERT INTO certs_reminders (serial, days, sent_at) VALUES ($1, $2, $3)
		ON CONFLICT (serial, days) DO NOTHING RETURNING serial`, serial, days, millis(s.now())).Scan(&claimed)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim a reminder: %w", err)
	}
	return true, nil
}

// DueReminders lists valid certificates that expire between from and to
// and have not had the reminder days yet: one indexed range, less those
// already reminded.
func (s *Store) DueReminders(days int, from, to time.Time, limit int) ([]*records.Certificate, error) {
	var list []*records.Certificate
	err := s.bounded(func(q querier) error {
		var err error
		list, err = listCertificatesWith(q, `WHERE state = 'issued' AND not_after > $1 AND not_after <= $2
			AND NOT EXISTS (SELECT 1 FROM certs_reminders r WHERE r.serial = certs_certificates.serial AND r.days = $3)
			ORDER BY not_after, serial LIMIT $4`, "c.not_after, c.serial", millis(from), millis(to), days, limit)
		return err
	})
	return list, err
}
