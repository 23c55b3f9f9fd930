package enroll

import (
	"context"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

// Inventory is what the core keeps: certificates, requests, the marks of
// used links and certified keys. Today the KV store holds all of it; the
// certificate and request records move to database tables next, behind the
// same operations.
type Inventory interface {
	// RecordIssuance records a certificate and, when requestID is set,
	// closes the request it was issued for.
	RecordIssuance(c *store.Certificate, requestID string, now time.Time) error
	CreateCertificate(c *store.Certificate) error
	GetCertificate(serial string) (*store.Certificate, error)
	ListCertificates(owner store.Principal) ([]*store.Certificate, error)
	UpdateCertificate(serial string, change func(*store.Certificate) error) (*store.Certificate, error)

	CreateRequest(r *store.Request) error
	GetRequest(id string) (*store.Request, error)
	UpdateRequest(id string, now time.Time, change func(*store.Request) error) (*store.Request, error)
	MoveRequest(id string, now time.Time, from []store.RequestState, to store.RequestState, edit func(*store.Request) error) (*store.Request, error)
	ListRequests(owner store.Principal) ([]*store.Request, error)
	ListOpenRequests() ([]*store.Request, error)

	ClaimToken(id string, ttl time.Duration) (bool, error)
	ReleaseToken(id string) error
	TokenUsed(id string) (bool, error)

	ClaimKey(fingerprint string, holder store.KeyHolder, ttl time.Duration) (bool, store.KeyHolder, error)
	MoveKey(fingerprint string, from, to store.KeyHolder, ttl time.Duration) error
	ReleaseKey(fingerprint string, holder store.KeyHolder) error
}

// Link is a single-use link token the core minted; the front door that
// hands it out makes it a URL.
type Link struct {
	Token     string
	Purpose   linktoken.Purpose
	Profile   string
	Request   string
	ExpiresAt time.Time
}

// Notifier tells people what happened. Each method is best effort: a
// message that cannot be sent is the notifier's to log, never a reason to
// undo what it reports.
type Notifier interface {
	// CertificateIssued tells the owner a certificate was made in their
	// name, so one they did not ask for does not go unnoticed.
	CertificateIssued(owner *Requester, c *store.Certificate)
	// CertificateRegistered tells the owner someone else registered a
	// certificate for them.
	CertificateRegistered(owner, by *Requester, c *store.Certificate)
	// ApprovalNeeded asks each approver to decide req, and returns where it
	// asked, so that every copy can be closed once someone decides.
	ApprovalNeeded(req *store.Request, owner *Requester, prof *profile.Profile, approvers []string) []store.ApprovalPost
	// RequestClosed updates every approver's copy of req: decided,
	// withdrawn, expired.
	RequestClosed(req *store.Request, text string)
	// RequestApproved tells the owner, with a link that collects it.
	RequestApproved(owner *Requester, req *store.Request, approvers []string, pickup *Link)
	// RequestDenied tells the owner who said no, and why.
	RequestDenied(owner *Requester, req *store.Request, by string)
	// WaitingForCA tells the owner the CA holds their request.
	WaitingForCA(owner *Requester, req *store.Request)
	// CertificateReady tells the owner the CA issued a request it held.
	CertificateReady(owner *Requester, req *store.Request, pickup *Link)
	// RequestExpired tells the owner their request ran out of time.
	RequestExpired(owner *Requester, req *store.Request)
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
