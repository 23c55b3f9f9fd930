package enrollment

import (
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"
)

// The JSON answers of the door: one shape per thing, whichever route gives
// it.

// IssuanceView is a certificate just issued, as every route that issues
// answers: the page's form posted by a script (POST /issue, POST /csr),
// POST /api/v1/enrollments and POST /api/v1/csr. A field that does not
// apply to how the key came is left out.
type IssuanceView struct {
	Serial   string    `json:"serial"`
	Subject  string    `json:"subject"`
	NotAfter time.Time `json:"not_after"`
	// CertificatePEM is the certificate and its chain, issuing CA first;
	// CertificateDER the certificate alone, in standard base64 (as
	// encoding/json writes bytes).
	CertificatePEM string `json:"certificate_pem"`
	CertificateDER []byte `json:"certificate_der"`

	// A key the server made: the PKCS#12 file (base64), its name and
	// passphrase, and the key as encrypted PEM when it was asked for.
	Filename   string `json:"filename,omitempty"`
	Passphrase string `json:"passphrase,omitempty"`
	PKCS12     []byte `json:"pkcs12,omitempty"`
	KeyPEM     string `json:"key_pem,omitempty"`

	// A CSR: whether a device attested its key (present, true or false,
	// for every CSR), and the device's serial number.
	Attested     *bool  `json:"attested,omitempty"`
	DeviceSerial string `json:"device_serial,omitempty"`

	// EmailedTo is where the PKCS#12 file was emailed; EmailError why it
	// was not, when the requester asked for it.
	EmailedTo  string `json:"emailed_to,omitempty"`
	EmailError string `json:"email_error,omitempty"`
}

// IssuanceOf is the view of an outcome that issued a certificate: a key
// the server made (outcome.Issued) or a CSR signed (outcome.Signed).
func IssuanceOf(outcome *enroll.Outcome) IssuanceView {
	var view IssuanceView
	switch {
	case outcome.Issued != nil:
		issued := outcome.Issued
		view = issuanceOfRecord(issued.Record, issued.CertificatePEM)
		view.Filename, view.Passphrase, view.PKCS12 = issued.Filename, issued.Passphrase, issued.PKCS12
		view.KeyPEM = string(issued.KeyPEM)
	case outcome.Signed != nil:
		record := outcome.Signed.Record
		view = issuanceOfRecord(record, outcome.Signed.CertificatePEM())
		attested := record.Attestation != nil
		view.Attested = &attested
		if attested {
			view.DeviceSerial = record.Attestation.DeviceSerial
		}
	}
	view.EmailedTo, view.EmailError = outcome.EmailedTo, outcome.EmailError
	return view
}

func issuanceOfRecord(record *records.Certificate, certPEM []byte) IssuanceView {
	return IssuanceView{Serial: record.Serial, Subject: record.Subject, NotAfter: record.NotAfter,
		CertificatePEM: string(certPEM), CertificateDER: record.DER}
}

// WaitingView is a request that waits, for an approver or for the CA, as
// every route that may start one answers it (202).
type WaitingView struct {
	RequestID string `json:"request_id"`
	State     string `json:"state"`
	Profile   string `json:"profile"`
}

// WaitingOf is the view of a request that waits.
func WaitingOf(req *records.Request) WaitingView {
	return WaitingView{RequestID: req.ID, State: string(req.State), Profile: req.Profile}
}

// LinkView is a single-use link, as POST /api/v1/links and a renewal
// answer it (201).
type LinkView struct {
	URL string `json:"url"`
	// Kind is "download" (the page makes the key) or "csr" (the upload
	// page).
	Kind      string    `json:"kind"`
	ExpiresAt time.Time `json:"expires_at"`
	Profile   string    `json:"profile"`
	// Renews is the certificate a renewal's link replaces.
	Renews string `json:"renews,omitempty"`
}

// LinkOf is the view of link, whose URL is u.
func LinkOf(link *enroll.Link, u string) LinkView {
	kind := "download"
	if link.Purpose == linktoken.PurposeCSR {
		kind = "csr"
	}
	return LinkView{URL: u, Kind: kind, ExpiresAt: link.ExpiresAt, Profile: link.Profile, Renews: link.Renews}
}

// ProfileView is a profile as the API shows it to a user who may use it:
// what it gives, and what the enroll modal needs to ask for it.
type ProfileView struct {
	Name         string   `json:"name"`
	Description  string   `json:"description,omitempty"`
	Default      bool     `json:"default"`
	ValidityDays int      `json:"validity_days"`
	KeyType      string   `json:"key_type"`
	ExtKeyUsages []string `json:"ext_key_usages"`
	// KeyTypes are the key types a CSR may have, the first the one the
	// server makes.
	KeyTypes []string `json:"key_types"`
	// ServerKey says whether the server may make the key; a profile that
	// requires attestation takes only CSRs.
	ServerKey bool `json:"server_key"`
	// Attestation is the profile's attestation policy for CSRs: ignore,
	// verify_if_present or require.
	Attestation      string `json:"attestation"`
	RequiresApproval bool   `json:"requires_approval"`
	// Approvers are the usernames who decide its requests; none means the
	// system admins.
	Approvers []string `json:"approvers,omitempty"`
	// Email is how the server's PKCS#12 files may be emailed: off,
	// allowed (on request) or default (unless declined).
	Email string `json:"email"`
	// PKCS12Format is the file format the server uses unless asked for
	// the other one: compatible (3DES) or modern (AES-256).
	PKCS12Format string `json:"pkcs12_format"`
	// Subject is the caller's names in this profile's certificates: a CSR
	// made for it asks for this common name and these email addresses.
	Subject SubjectView `json:"subject"`
}

// SubjectView is the names a certificate gives its holder.
type SubjectView struct {
	CommonName string   `json:"common_name"`
	Emails     []string `json:"emails"`
}

// RequestView is a request as the API lists it.
type RequestView struct {
	ID        string `json:"id"`
	Profile   string `json:"profile"`
	State     string `json:"state"`
	CreatedAt string `json:"created_at"`
	Reason    string `json:"reason,omitempty"`
	Serial    string `json:"serial,omitempty"`
}

// RequestOf is the view of req.
func RequestOf(req *records.Request) RequestView {
	return RequestView{ID: req.ID, Profile: req.Profile, State: string(req.State),
		CreatedAt: req.CreatedAt.UTC().Format("2006-01-02T15:04:05Z"), Reason: req.Reason, Serial: req.Serial}
}

// RevocationView is a revoked certificate as the API answers a
// revocation: the record, and how far the revocation got.
type RevocationView struct {
	web.CertificateView
	// Reach: "ca" (its CA's list and OCSP say revoked), "pending" (its CA
	// is told as soon as it answers), "records_only" (its holder
	// registered it: an administrator must revoke it at its CA) or
	// "unmanaged" (a CA the plugin does not talk to).
	Reach string `json:"reach"`
	// RevokedWith are the other certificates of a compromised key,
	// revoked with it.
	RevokedWith []string `json:"revoked_with,omitempty"`
}

// RevocationOf is the view of a revocation, at now.
func RevocationOf(revoked *enroll.Revoked, now time.Time) RevocationView {
	view := RevocationView{CertificateView: web.ViewOf(revoked.Record, now), Reach: string(revoked.Reach())}
	for _, sibling := range revoked.Siblings {
		view.RevokedWith = append(view.RevokedWith, sibling.Serial)
	}
	return view
}
