package enroll

import (
	"fmt"

	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// KeySource is where the key of a new certificate comes from.
type KeySource int

const (
	// KeyAsRenewed is, for a renewal, the way the renewed certificate's
	// key came (a CSR's certificate is renewed with a new upload; a
	// server-made key with a new one, or an upload where the profile now
	// wants a hardware key); for a new certificate, KeyFromServer.
	KeyAsRenewed KeySource = iota
	// KeyFromServer: the server makes the key on the page the link opens,
	// and hands it out in a PKCS#12 file.
	KeyFromServer
	// KeyFromCSR: the requester uploads a certificate signing request for
	// a key of their own (a smart card, a YubiKey, OpenSSL).
	KeyFromCSR
)

// StartRequest is what a requester asks for to start an enrollment.
type StartRequest struct {
	// Profile names the profile, "" for the default; a renewal is of the
	// renewed certificate's profile.
	Profile string
	Key     KeySource
	// Renews is the serial of one of the requester's certificates the new
	// one replaces, "" for a new certificate.
	Renews string
}

// Start is how an enrollment goes on: a single-use link (to the page that
// makes the key, or to the upload page), or a request that waits for an
// approver.
type Start struct {
	Profile *profile.Profile
	Link    *Link
	Request *records.Request
	// Replaces is the certificate a renewal replaces.
	Replaces *records.Certificate
}

// StartEnrollment decides, for every door, how r gets a certificate: which
// profile, whether a key made by the server is allowed, whether an
// approver must decide first; and answers with a link or a request, or
// refuses. An upload's approver is asked once the CSR is read (SubmitCSR).
func (c *Core) StartEnrollment(r *Requester, sr StartRequest) (*Start, error) {
	start := &Start{}
	profileName, source := sr.Profile, sr.Key
	if sr.Renews != "" {
		old, err := c.ownCertificate(r, sr.Renews)
		if err != nil {
			return nil, err
		}
		start.Replaces, profileName = old, old.Profile
	}
	prof, _, err := c.ProfileFor(r, profileName)
	if err != nil {
		return nil, err
	}
	start.Profile = prof
	if source == KeyAsRenewed {
		source = KeyFromServer
		if old := start.Replaces; old != nil && (old.Origin == records.OriginCSR || !prof.ServerKeysAllowed()) {
			source = KeyFromCSR
		}
	}
	renews := ""
	if start.Replaces != nil {
		renews = start.Replaces.Serial
	}
	purpose := linktoken.PurposeCSR
	if source == KeyFromServer {
		purpose = linktoken.PurposeIssue
		approval, err := c.serverKeyNeedsApproval(prof, start.Replaces)
		if err != nil {
			return nil, err
		}
		if approval {
			if start.Request, err = c.requestApproval(r, prof, nil, renews); err != nil {
				return nil, err
			}
			return start, nil
		}
	}
	if start.Link, err = c.mintLink(r, prof, purpose, renews); err != nil {
		return nil, err
	}
	return start, nil
}

// serverKeyNeedsApproval decides a certificate of prof with a key the
// server makes, replacing renews (nil for a new one): refused where the
// profile wants a key made in a hardware device; through an approver
// where the profile wants one, unless it lets a renewal skip them.
func (c *Core) serverKeyNeedsApproval(prof *profile.Profile, renews *records.Certificate) (bool, error) {
	if !prof.ServerKeysAllowed() {
		return false, &Error{Code: CodeForbidden, Next: NextUseCSR,
			Message: fmt.Sprintf("Certificates of profile %s need a key made in a hardware device.", prof.Name),
			Hint:    "Send a certificate signing request (CSR) for your device's key instead."}
	}
	return prof.RequiresApproval && !c.renewalSkipsApproval(prof, renews), nil
}
