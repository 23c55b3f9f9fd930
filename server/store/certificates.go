package store

import (
	"encoding/json"
	"time"

	"github.com/pkg/errors"
)

// CertState is where a certificate stands in its life.
type CertState string

const (
	CertIssued  CertState = "issued"
	CertRevoked CertState = "revoked"
)

// Certificate is the record of one issued certificate. It never holds a
// private key.
type Certificate struct {
	Serial           string     `json:"serial"`
	Owner            Principal  `json:"owner"`
	Subject          string     `json:"subject"`
	CommonName       string     `json:"common_name"`
	Emails           []string   `json:"emails,omitempty"`
	NotBefore        time.Time  `json:"not_before"`
	NotAfter         time.Time  `json:"not_after"`
	Connector        string     `json:"connector"`
	Profile          string     `json:"profile"`
	KeyType          string     `json:"key_type"`
	Fingerprint      string     `json:"fingerprint_sha256"`
	State            CertState  `json:"state"`
	CreatedAt        time.Time  `json:"created_at"`
	RevokedAt        *time.Time `json:"revoked_at,omitempty"`
	RevokedBy        string     `json:"revoked_by,omitempty"`
	RevocationReason string     `json:"revocation_reason,omitempty"`
	DER              []byte     `json:"der"`
	// Origin says where the key came from: OriginServerKey, OriginCSR or
	// OriginImported.
	Origin string `json:"origin,omitempty"`
	// RegisteredBy is the account that registered an imported
	// certificate; RevocableAtCA says revoking it reaches its CA (an admin
	// registered it: anyone may hold a copy of someone's certificate).
	RegisteredBy  string `json:"registered_by,omitempty"`
	RevocableAtCA bool   `json:"revocable_at_ca,omitempty"`
	// KeyFingerprint is the SHA-256 of the public key (SubjectPublicKeyInfo).
	KeyFingerprint string `json:"key_fingerprint,omitempty"`
	// Attestation records the hardware attestation of the key, if verified.
	Attestation *Attestation `json:"attestation,omitempty"`
}

// Where a certificate's key came from.
const (
	OriginServerKey = "server_key"
	OriginCSR       = "csr"
	OriginImported  = "imported"
)

// Attestation is a verified proof that a key was made in a hardware device.
type Attestation struct {
	Format          string `json:"format"`
	DeviceSerial    string `json:"device_serial,omitempty"`
	FirmwareVersion string `json:"firmware_version,omitempty"`
	PINPolicy       string `json:"pin_policy,omitempty"`
	TouchPolicy     string `json:"touch_policy,omitempty"`
	FormFactor      string `json:"form_factor,omitempty"`
	// Root is the subject of the trusted attestation root.
	Root string `json:"root"`
}

// StateAt is the state as users see it: an issued certificate past its
// NotAfter is expired.
func (c *Certificate) StateAt(now time.Time) string {
	if c.State == CertIssued && now.After(c.NotAfter) {
		return "expired"
	}
	return string(c.State)
}

func certificateKey(serial string) string { return "cert:" + serial }

func ownerIndexKey(owner Principal) string { return "owner:" + string(owner) + ":certs" }

// ErrDuplicateSerial means a record for the serial already exists.
var ErrDuplicateSerial = errors.New("a certificate with this serial is already recorded")

// CreateCertificate records a newly issued certificate and adds it to its
// owner's index.
func (s *Store) CreateCertificate(c *Certificate) error {
	if c.Serial == "" || c.Owner == "" {
		return errors.New("a certificate record needs a serial and an owner")
	}
	// Atomic with no old value: only if nothing is recorded under the serial.
	saved, err := s.kv.Set(certificateKey(c.Serial), c, setIfAbsent())
	if err != nil {
		return errors.Wrap(err, "save certificate record")
	}
	if !saved {
		return ErrDuplicateSerial
	}
	return s.addToIndex(ownerIndexKey(c.Owner), c.Serial)
}

// GetCertificate returns the record for serial, or ErrNotFound.
func (s *Store) GetCertificate(serial string) (*Certificate, error) {
	return getJSON[Certificate](s, certificateKey(serial), "certificate record "+serial)
}

// ListSerials returns the serials an owner holds, oldest first.
func (s *Store) ListSerials(owner Principal) ([]string, error) {
	var raw []byte
	if err := s.kv.Get(ownerIndexKey(owner), &raw); err != nil {
		return nil, errors.Wrap(err, "read certificate index")
	}
	return decodeIndex(raw)
}

// ListCertificates returns an owner's certificate records, oldest first.
func (s *Store) ListCertificates(owner Principal) ([]*Certificate, error) {
	serials, err := s.ListSerials(owner)
	if err != nil {
		return nil, err
	}
	certs := make([]*Certificate, 0, len(serials))
	for _, serial := range serials {
		c, err := s.GetCertificate(serial)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	return certs, nil
}

// UpdateCertificate changes a record with a compare-and-set: change is given
// the current record and edits it, or returns an error to leave it as it is.
// The record as written is returned.
func (s *Store) UpdateCertificate(serial string, change func(*Certificate) error) (*Certificate, error) {
	return updateJSON(s, certificateKey(serial), "certificate record "+serial, change)
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
// serial with the same fingerprint (a delivery held since it was issued)
// counts as recorded.
func (s *Store) RecordIssuance(c *Certificate, requestID string, now time.Time) error {
	err := s.CreateCertificate(c)
	if errors.Is(err, ErrDuplicateSerial) {
		existing, getErr := s.GetCertificate(c.Serial)
		if getErr != nil || existing.Fingerprint != c.Fingerprint {
			return err
		}
		err = nil
	}
	if err != nil || requestID == "" {
		return err
	}
	_, err = s.MoveRequest(requestID, now, nil, RequestIssued, func(r *Request) error {
		r.Serial = c.Serial
		r.PendingKey, r.PendingKeyCopies = nil, nil
		return nil
	})
	return err
}
