package enroll

import (
	"context"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/connector"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"

	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
)

// Inventory is what the core keeps: certificates, requests, revocation
// lists, the marks of used links and certified keys. In the plugin, the
// records are database tables and the link marks are in its KV store; the
// core's unit tests keep all of it in a KV store.
type Inventory interface {
	// RecordIssuance records a certificate and, when requestID is set,
	// closes the request it was issued for; the same certificate recorded
	// before is records.ErrAlreadyRecorded. With a quota, a certificate
	// its owner has no room for is *records.ErrOverQuota, decided
	// atomically with the record.
	RecordIssuance(c *records.Certificate, requestID string, now time.Time, quota *records.Quota) error
	CreateCertificate(c *records.Certificate) error
	GetCertificate(serial string) (*records.Certificate, error)
	// CertificateStanding is GetCertificate for an OCSP answer: at least
	// the connector, issuer, origin, state and revocation of the record.
	CertificateStanding(serial string) (*records.Certificate, error)
	ListCertificates(owner records.Principal) ([]*records.Certificate, error)
	UpdateCertificate(serial string, change func(*records.Certificate) error) (*records.Certificate, error)
	// SearchCertificates pages through an administrator's listing.
	SearchCertificates(filter records.CertificateFilter, now time.Time) (*records.CertificatePage, error)
	CountCertificates(now time.Time) (records.StateCounts, error)
	// PendingRevocations are revocations a CA has not accepted yet, the
	// soonest due for another try (RevocationRetryAt) first.
	PendingRevocations(limit int) ([]*records.Certificate, error)
	// CountOwned counts an owner's valid certificates of quota's profile,
	// and those issued since quota.Since; quota.Renews, and a certificate a
	// valid renewal made since quota.OverlapSince replaces, are not
	// counted. OverlapsEnded lists the valid certificates of a profile that
	// a valid renewal made before before replaces.
	CountOwned(owner records.Principal, quota records.Quota, now time.Time) (records.OwnerCounts, error)
	OverlapsEnded(profile string, before, now time.Time, limit int) ([]*records.Certificate, error)
	// RevokeCertificate records a revocation, atomically with what it
	// implies: for keyCompromise the key is never certified again (every
	// record of a certificate for it is records.ErrCompromisedKey) and its
	// other valid certificates are revoked with it; each CA list concerned
	// is marked behind. A certificate revoked before is
	// records.ErrAlreadyRevoked, unless it is now revoked for
	// keyCompromise.
	RevokeCertificate(order records.Revoke) (*records.Revoked, error)
	// CompromisedKey is the serial whose revocation marked a key
	// compromised, "" for a key that is not.
	CompromisedKey(fingerprint string) (string, error)
	// CompromisedValid lists valid certificates of compromised keys, which
	// should be none.
	CompromisedValid(limit int) ([]*records.Certificate, error)
	// CurrentCRL is what is known of a CA's list (its number, dates,
	// revision and what it covers), without its bytes; nil before its
	// first list or revocation. CRLBytes are the bytes of the list
	// numbered number, records.ErrNotFound once another replaced it.
	CurrentCRL(scope records.CRLScope) (*records.CRL, error)
	CRLBytes(scope records.CRLScope, number int64) ([]byte, error)
	// IssueCRL signs a CA's next list when due says so, one signer per CA
	// at a time, from revocations read after the revision the list then
	// covers (see the database store).
	IssueCRL(scope records.CRLScope, now time.Time, due func(current *records.CRL) bool,
		sign func(number int64, revoked []records.Revocation) (*records.CRL, error)) (*records.CRL, error)
	// DueReminders are valid certificates expiring between from and to
	// without the reminder days yet; ClaimReminder marks one sent, once.
	DueReminders(days int, from, to time.Time, limit int) ([]*records.Certificate, error)
	ClaimReminder(serial string, days int) (bool, error)

	CreateRequest(r *records.Request) error
	GetRequest(id string) (*records.Request, error)
	UpdateRequest(id string, now time.Time, change func(*records.Request) error) (*records.Request, error)
	MoveRequest(id string, now time.Time, from []records.RequestState, to records.RequestState, edit func(*records.Request) error) (*records.Request, error)
	ListRequests(owner records.Principal) ([]*records.Request, error)
	ListOpenRequests() ([]*records.Request, error)

	ClaimToken(id string, ttl time.Duration) (bool, error)
	ReleaseToken(id string) error
	TokenUsed(id string) (bool, error)

	ClaimKey(fingerprint string, holder records.KeyHolder, ttl time.Duration) (bool, records.KeyHolder, error)
	MoveKey(fingerprint string, from, to records.KeyHolder, ttl time.Duration) error
	ReleaseKey(fingerprint string, holder records.KeyHolder) error
}

// Link is a single-use link token the core minted; the front door that
// hands it out makes it a URL.
type Link struct {
	Token   string
	Purpose linktoken.Purpose
	Profile string
	Request string
	// Renews is the certificate a renewal link replaces.
	Renews    string
	ExpiresAt time.Time
}

// Notifier tells the people of one kind of principal what happened. The
// core asks the notifier of the kind of whoever it tells
// (Ports.Notifiers): the owner's for what concerns the owner, each
// approver's for what approvers decide. Each method is best effort: a
// message that cannot be sent is the notifier's to log, never a reason to
// undo what it reports.
type Notifier interface {
	// CertificateIssued tells the owner a certificate was made in their
	// name, so one they did not ask for does not go unnoticed.
	CertificateIssued(owner *Requester, c *records.Certificate)
	// CertificateRevoked tells the owner an administrator revoked one of
	// their certificates.
	CertificateRevoked(owner *Requester, c *records.Certificate, by *Requester)
	// RenewalOverlapEnded tells the owner a certificate they renewed is
	// revoked now that its renewal's overlap is over.
	RenewalOverlapEnded(owner *Requester, replaced *records.Certificate)
	// KeyCompromised tells an owner of a key revoked as compromised
	// (reported) which of their certificates were revoked with it (theirs,
	// reported among them when it is theirs), and that the key is never
	// certified again.
	KeyCompromised(owner *Requester, reported *records.Certificate, theirs []*records.Certificate)
	// CertificateRegistered tells the owner someone else registered a
	// certificate for them.
	CertificateRegistered(owner, by *Requester, c *records.Certificate)
	// ApprovalNeeded asks each of approvers (principals of the notifier's
	// kind) to decide req, and returns where it asked, so that every copy
	// can be closed once someone decides. subject is what the certificate
	// would name.
	ApprovalNeeded(req *records.Request, owner *Requester, prof *profile.Profile, subject connector.Subject, approvers []records.Principal) []records.ApprovalNotice
	// RequestClosed updates the copies of req this notifier made (asked):
	// decided, withdrawn, expired.
	RequestClosed(req *records.Request, asked []records.ApprovalNotice, text string)
	// RequestApproved tells the owner, with a link that collects it.
	RequestApproved(owner *Requester, req *records.Request, approvers []string, pickup *Link)
	// RequestDenied tells the owner who said no, and why.
	RequestDenied(owner *Requester, req *records.Request, by string)
	// WaitingForCA tells the owner the CA holds their request.
	WaitingForCA(owner *Requester, req *records.Request)
	// CertificateReady tells the owner the CA issued a request it held.
	CertificateReady(owner *Requester, req *records.Request, pickup *Link)
	// ExpiryReminder tells the owner a certificate expires soon, with a way
	// to renew it.
	ExpiryReminder(owner *Requester, c *records.Certificate, daysLeft int)
	// RequestExpired tells the owner their request ran out of time.
	RequestExpired(owner *Requester, req *records.Request)
	// EmailChanged tells the owner a certificate names an email they no
	// longer have, with a way to renew it.
	EmailChanged(owner *Requester, c *records.Certificate)
}

// AdminNotifier tells the administrators what needs their hand, wherever
// they are reached (Ports.Admins).
type AdminNotifier interface {
	// KeyCompromised tells them a key was revoked as compromised
	// (reported), which certificates were revoked with it, and that the
	// key is never certified again.
	KeyCompromised(reported *records.Certificate, alsoRevoked []*records.Certificate)
	// RevocationNotAccepted tells them that c's CA has not accepted its
	// revocation for RevocationNoticeAfter (what it answered last is
	// c.RevocationCAAnswer), so that they revoke it at the CA by hand or
	// mend what the CA refuses. Sent once for a certificate.
	RevocationNotAccepted(c *records.Certificate)
}

// Mailer sends a certificate by email.
type Mailer interface {
	// SendCertificate mails the PKCS#12 file of issued to its owner. Its
	// error says why in words for the owner (*MailError).
	SendCertificate(ctx context.Context, owner *Requester, issued *Issued) error
}

// Logger is the log the core writes to: the server's, with key/value
// pairs. No secret and no key ever goes into it.
type Logger interface {
	LogInfo(msg string, keyValuePairs ...any)
	LogWarn(msg string, keyValuePairs ...any)
	LogError(msg string, keyValuePairs ...any)
}

// Clock is the time; tests set it.
type Clock func() time.Time
