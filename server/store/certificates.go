package store

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"

	"github.com/pkg/errors"
)

func certificateKey(serial string) string { return "cert:" + serial }

func ownerIndexKey(owner records.Principal) string { return "owner:" + string(owner) + ":certs" }

// CreateCertificate records a newly issued certificate and adds it to its
// owner's index.
func (s *Store) CreateCertificate(c *records.Certificate) error {
	if c.Serial == "" || c.Owner == "" {
		return errors.New("a certificate record needs a serial and an owner")
	}
	if err := s.refuseCompromised(c); err != nil {
		return err
	}
	// A new record has no account of revocation retries, as the database
	// inserts none: only UpdateCertificate writes one.
	record := *c
	record.RevocationAttempts, record.RevocationRetryAt, record.RevocationCAAnswer, record.RevocationNoticeAt = 0, nil, "", nil
	// Atomic with no old value: only if nothing is recorded under the serial.
	saved, err := s.kv.Set(certificateKey(c.Serial), &record, setIfAbsent())
	if err != nil {
		return errors.Wrap(err, "save certificate record")
	}
	if !saved {
		return records.ErrDuplicateSerial
	}
	return s.addToIndex(ownerIndexKey(c.Owner), c.Serial)
}

// GetCertificate returns the record for serial, or records.ErrNotFound.
func (s *Store) GetCertificate(serial string) (*records.Certificate, error) {
	return getJSON[records.Certificate](s, certificateKey(serial), "certificate record "+serial)
}

// CertificateStanding returns the record for serial, as the database
// store's CertificateStanding answers (the KV layout has no narrower read).
func (s *Store) CertificateStanding(serial string) (*records.Certificate, error) {
	return s.GetCertificate(serial)
}

// ListSerials returns the serials an owner holds, oldest first.
func (s *Store) ListSerials(owner records.Principal) ([]string, error) {
	var raw []byte
	if err := s.kv.Get(ownerIndexKey(owner), &raw); err != nil {
		return nil, errors.Wrap(err, "read certificate index")
	}
	return decodeIndex(raw)
}

// ListCertificates returns an owner's certificate records, oldest first.
func (s *Store) ListCertificates(owner records.Principal) ([]*records.Certificate, error) {
	serials, err := s.ListSerials(owner)
	if err != nil {
		return nil, err
	}
	certs := make([]*records.Certificate, 0, len(serials))
	for _, serial := range serials {
		c, err := s.GetCertificate(serial)
		if errors.Is(err, records.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	// By time, as the database; certificates recorded at one instant stay
	// in the order they were recorded, where the database orders them by
	// serial (the plugin's tests record several at one frozen instant).
	slices.SortStableFunc(certs, func(a, b *records.Certificate) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return certs, nil
}

// UpdateCertificate changes a record with a compare-and-set: change is given
// the current record and edits it, or returns an error to leave it as it is.
// What identifies the certificate is kept as recorded (see
// records.Certificate.KeepIdentity). The record as written is returned.
func (s *Store) UpdateCertificate(serial string, change func(*records.Certificate) error) (*records.Certificate, error) {
	return updateJSON(s, certificateKey(serial), "certificate record "+serial, func(c *records.Certificate) error {
		recorded := *c
		if err := change(c); err != nil {
			return err
		}
		c.KeepIdentity(&recorded)
		return nil
	})
}

func decodeIndex(raw []byte) ([]string, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var serials []string
	if err := json.Unmarshal(raw, &serials); err != nil {
		return nil, errors.Wrap(err, "decode certificate index")
	}
	return serials, nil
}

// RecordIssuance records a certificate and, when requestID is set, closes
// that request as issued with it. A certificate already recorded under its
// serial with the same fingerprint (a delivery held since it was issued) is
// records.ErrAlreadyRecorded, its request closed all the same. A request
// that cannot be closed (it expired meanwhile, or is not there) is
// *records.ErrTransition, with the certificate recorded all the same.
//
// With a quota, the owner's certificates are counted and the certificate
// recorded under a lock on the owner, as the database store does, so that
// of two enrollments racing for the last place one gets it and the other
// *records.ErrOverQuota.
func (s *Store) RecordIssuance(c *records.Certificate, requestID string, now time.Time, quota *records.Quota) error {
	if c.Serial == "" || c.Owner == "" {
		return errors.New("a certificate record needs a serial and an owner")
	}
	if quota != nil {
		unlock, err := s.lock("quota:" + string(c.Owner))
		if err != nil {
			return err
		}
		defer unlock()
		counts, err := s.CountOwned(c.Owner, *quota, now)
		if err != nil {
			return err
		}
		if !quota.Allows(counts) {
			return &records.ErrOverQuota{Quota: *quota, Counts: counts}
		}
	}
	err := s.CreateCertificate(c)
	var recordedBefore error
	if errors.Is(err, records.ErrDuplicateSerial) {
		existing, getErr := s.GetCertificate(c.Serial)
		if getErr != nil || existing.Fingerprint != c.Fingerprint {
			return err
		}
		err, recordedBefore = nil, records.ErrAlreadyRecorded
	}
	if err != nil {
		return err
	}
	if requestID == "" {
		return recordedBefore
	}
	_, err = s.MoveRequest(requestID, now, nil, records.RequestIssued, func(r *records.Request) error {
		r.Serial = c.Serial
		r.PendingKey, r.PendingKeyCopies = nil, nil
		return nil
	})
	if errors.Is(err, records.ErrNotFound) {
		return &records.ErrTransition{To: records.RequestIssued}
	}
	if err != nil {
		return err
	}
	return recordedBefore
}
