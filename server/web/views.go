package web

import (
	"encoding/pem"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// CertificateView is a certificate record as every JSON route shows it:
// the user's, the admin's, whichever door.
type CertificateView struct {
	Serial           string     `json:"serial"`
	Subject          string     `json:"subject"`
	Emails           []string   `json:"emails,omitempty"`
	NotBefore        time.Time  `json:"not_before"`
	NotAfter         time.Time  `json:"not_after"`
	State            string     `json:"state"`
	Connector        string     `json:"connector"`
	Profile          string     `json:"profile"`
	KeyType          string     `json:"key_type"`
	Fingerprint      string     `json:"fingerprint_sha256"`
	CreatedAt        time.Time  `json:"created_at"`
	RevokedAt        *time.Time `json:"revoked_at,omitempty"`
	RevocationReason string     `json:"revocation_reason,omitempty"`
	// RevocationPending: revoked here, not yet accepted by the CA (it could
	// not be reached, or refused; the plugin keeps telling it).
	RevocationPending bool   `json:"revocation_pending,omitempty"`
	CertificatePEM    string `json:"certificate_pem"`
	// Origin: server_key, csr or imported.
	Origin      string               `json:"origin,omitempty"`
	Attestation *records.Attestation `json:"attestation,omitempty"`
	// Renews is the certificate this one replaced.
	Renews string `json:"renews,omitempty"`
	// EmailChangedAt: the owner's email changed since it was issued; it
	// names the old one and should be renewed.
	EmailChangedAt *time.Time `json:"email_changed_at,omitempty"`
}

// ViewOf is the view of c, in its state at now.
func ViewOf(c *records.Certificate, now time.Time) CertificateView {
	return CertificateView{
		Serial: c.Serial, Subject: c.Subject, Emails: c.Emails,
		NotBefore: c.NotBefore, NotAfter: c.NotAfter, State: c.StateAt(now),
		Connector: c.Connector, Profile: c.Profile, KeyType: c.KeyType, Fingerprint: c.Fingerprint,
		CreatedAt: c.CreatedAt, RevokedAt: c.RevokedAt, RevocationReason: c.RevocationReason, RevocationPending: c.RevocationPending,
		CertificatePEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.DER})),
		Origin:         c.Origin, Attestation: c.Attestation, Renews: c.Renews, EmailChangedAt: c.EmailChangedAt,
	}
}
