package records

import (
	"errors"
	"time"
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
	Serial string `json:"serial"`
	// Issuer is the SHA-256, in hex, of the issuer's name as the
	// certificate carries it: with Serial it names the certificate as CRLs
	// and OCSP do.
	Issuer      string     `json:"issuer,omitempty"`
	Owner       Principal  `json:"owner"`
	Subject     string     `json:"subject"`
	CommonName  string     `json:"common_name"`
	Emails      []string   `json:"emails,omitempty"`
	NotBefore   time.Time  `json:"not_before"`
	NotAfter    time.Time  `json:"not_after"`
	Connector   string     `json:"connector"`
	Profile     string     `json:"profile"`
	KeyType     string     `json:"key_type"`
	Fingerprint string     `json:"fingerprint_sha256"`
	State       CertState  `json:"state"`
	CreatedAt   time.Time  `json:"created_at"`
	RevokedAt   *time.Time `json:"revoked_at,omitempty"`
	// RevokedBy is who revoked it: a principal, or the word of the job
	// that did (ActorOf tells them apart).
	RevokedBy        string `json:"revoked_by,omitempty"`
	RevocationReason string `json:"revocation_reason,omitempty"`
	// RevocationPending says the certificate's CA has not accepted the
	// revocation yet (it could not be reached, or it refused); a job tells
	// it again until it does.
	RevocationPending bool `json:"revocation_pending,omitempty"`
	// RevocationAttempts counts the job's tries to tell the CA since,
	// RevocationRetryAt is when it tries next (nil: at its next run), and
	// RevocationCAAnswer is what the CA answered last, in words for an
	// administrator (never a secret). RevocationNoticeAt is when the
	// administrators were told the CA has not accepted it.
	RevocationAttempts int        `json:"revocation_attempts,omitempty"`
	RevocationRetryAt  *time.Time `json:"revocation_retry_at,omitempty"`
	RevocationCAAnswer string     `json:"revocation_ca_answer,omitempty"`
	RevocationNoticeAt *time.Time `json:"revocation_notice_at,omitempty"`
	DER                []byte     `json:"der"`
	// Origin says where the key came from: OriginServerKey, OriginCSR or
	// OriginImported.
	Origin string `json:"origin,omitempty"`
	// RegisteredBy is the principal that registered an imported
	// certificate; RevocableAtCA says revoking it reaches its CA (an admin
	// registered it: anyone may hold a copy of someone's certificate).
	RegisteredBy  string `json:"registered_by,omitempty"`
	RevocableAtCA bool   `json:"revocable_at_ca,omitempty"`
	// KeyFingerprint is the SHA-256 of the public key (SubjectPublicKeyInfo).
	KeyFingerprint string `json:"key_fingerprint,omitempty"`
	// Attestation records the hardware attestation of the key, if verified.
	Attestation *Attestation `json:"attestation,omitempty"`
	// Renews is the serial of the certificate this one was issued to
	// replace.
	Renews string `json:"renews,omitempty"`
	// EmailChangedAt is when the owner's email was found to differ from
	// the one the certificate names: it should be renewed.
	EmailChangedAt *time.Time `json:"email_changed_at,omitempty"`
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

// KeepIdentity restores in c what identifies the certificate recorded as
// it was: its serial, issuer, owner, fingerprint, validity, DER, when it
// was recorded and what it renews. A store's UpdateCertificate never
// changes them, whatever the change did.
func (c *Certificate) KeepIdentity(recorded *Certificate) {
	c.Serial, c.Issuer, c.Owner, c.Fingerprint = recorded.Serial, recorded.Issuer, recorded.Owner, recorded.Fingerprint
	c.NotBefore, c.NotAfter, c.DER = recorded.NotBefore, recorded.NotAfter, recorded.DER
	c.CreatedAt, c.Renews = recorded.CreatedAt, recorded.Renews
}

// ErrDuplicateSerial means a record for the serial already exists.
var ErrDuplicateSerial = errors.New("a certificate with this serial is already recorded")

// ErrAlreadyRecorded is a certificate recorded before, the same one (a
// delivery held since it was issued, made again): nothing was written, and
// nothing is wrong.
var ErrAlreadyRecorded = errors.New("the certificate was recorded before")

// CertificateFilter selects certificates for an administrator's listing.
type CertificateFilter struct {
	// Owner, when set, keeps one owner's.
	Owner Principal
	// Profile, when set, keeps one profile's.
	Profile string
	// State keeps one state as users see it (StateAt): "issued" (valid),
	// "expired" or "revoked"; "" keeps every state.
	State string
	// ExpiringBefore keeps valid certificates that expire before it, in
	// the order they expire.
	ExpiringBefore *time.Time
	// After is the cursor the previous page ended with; "" starts at the
	// beginning.
	After string
	// Limit bounds the page.
	Limit int
}

// ErrInvalidFilter is a listing a store cannot make: an unknown state, or a
// cursor it did not give.
var ErrInvalidFilter = errors.New("invalid certificate filter")

// CertificatePage is one page of a listing; Next is the cursor of the
// following one, "" after the last.
type CertificatePage struct {
	Certificates []*Certificate
	Next         string
}

// OwnerCounts are what one owner holds of one profile: valid certificates,
// and certificates issued since a time, of the profile and of all of them.
// A valid certificate that a valid renewal replaced, within the renewal's
// overlap, is not counted as active: the two are one place.
type OwnerCounts struct {
	Active    int
	Recent    int
	RecentAll int
}

// Quota is what a profile, and the server, allow one owner, checked where a
// certificate is recorded so that two enrollments racing for the last place
// cannot both have it. Zero limits are no limit.
type Quota struct {
	Profile string
	// Active is the most valid certificates of the profile at once.
	Active int
	// PerDay is the most of the profile issued since Since, PerDayAll the
	// most of every profile.
	PerDay    int
	PerDayAll int
	Since     time.Time
	// Renews is the certificate the new one replaces: it does not count.
	Renews string
	// OverlapSince bounds a renewal's overlap: a valid certificate that a
	// valid renewal made since then replaces takes no place of its own,
	// unless that renewal is the one being renewed now (a renewal of a
	// renewal does not free a third place).
	OverlapSince time.Time
}

// Allows reports whether counts leave room for one more certificate.
func (q *Quota) Allows(counts OwnerCounts) bool {
	return (q.Active == 0 || counts.Active < q.Active) && (q.PerDay == 0 || counts.Recent < q.PerDay) &&
		(q.PerDayAll == 0 || counts.RecentAll < q.PerDayAll)
}

// ErrOverQuota is a certificate its owner has no room for.
type ErrOverQuota struct {
	Quota  Quota
	Counts OwnerCounts
}

func (e *ErrOverQuota) Error() string {
	return "the owner has no room for another certificate of profile " + e.Quota.Profile
}

// StateCounts are how many certificates are in each state as users see it.
type StateCounts struct {
	Issued  int `json:"issued"`
	Expired int `json:"expired"`
	Revoked int `json:"revoked"`
}
