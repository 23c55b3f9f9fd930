package main

import (
	"encoding/base64"
	"html/template"
	"net/http"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

// checkLink validates a link token without consuming it, for the account
// signed in to this browser, if any.
func (p *Plugin) checkLink(r *http.Request, token string, purpose linktoken.Purpose) (*app.Snapshot, *enroll.Grant, error) {
	s, err := p.current.Get()
	if err != nil {
		return nil, nil, &web.Error{Status: http.StatusServiceUnavailable, Message: err.Error(), Hint: "Try again later or contact your administrator."}
	}
	var session records.Principal
	if userID := r.Header.Get(web.MattermostUserHeader); userID != "" {
		session = sessionPrincipal(userID)
	}
	grant, err := s.Core.CheckLink(token, purpose, session)
	if err != nil {
		return nil, nil, err
	}
	return s, grant, nil
}

// handleIssuePage shows what the link will create. It never consumes the
// token: link previews and mail scanners fetch links with GET.
func (p *Plugin) handleIssuePage(w http.ResponseWriter, r *http.Request) error {
	s, grant, err := p.checkLink(r, r.URL.Query().Get("token"), linktoken.PurposeIssue)
	if err != nil {
		return err
	}
	if err := s.Core.CheckUnused(grant); err != nil {
		return err
	}
	prof := grant.Profile
	subject := s.Core.SubjectFor(grant.Requester, prof)
	ownKey := grant.CollectsCSR()
	keyType := prof.GeneratedKeyType()
	if ownKey {
		keyType = pki.KeyType(grant.Request.KeyType)
	}
	return p.pages.Render(w, http.StatusOK, "confirm", confirmPage{
		OwnKey:      ownKey,
		Username:    grant.Requester.Username,
		Profile:     prof.Name,
		Description: prof.Description,
		CommonName:  subject.CommonName,
		Emails:      subject.Emails,
		KeyType:     keyType.Label(),
		Validity:    prof.ValidityDays,
		Formats:     p12Choices(s.Core.PKCS12Format),
		Email:       emailChoice(s.Config, grant.Requester),
		Token:       r.URL.Query().Get("token"),
		ExpiresAt:   grant.Claims.ExpiresAt.UTC().Format(time.RFC1123),
		SubmitLabel: "Create certificate",
	})
}

// issueResponse is the JSON form of a certificate with a server-made key.
type issueResponse struct {
	Serial     string `json:"serial"`
	Filename   string `json:"filename"`
	Passphrase string `json:"passphrase"`
	// PKCS12 is the file, in standard base64 (as encoding/json writes
	// bytes: straight into the answer, with no copy to escape).
	PKCS12   []byte    `json:"pkcs12"`
	NotAfter time.Time `json:"not_after"`
	// CertificatePEM is the certificate and its chain; KeyPEM the key,
	// encrypted with the passphrase, when the form asked key_pem=true;
	// CertificateDER the certificate alone, in base64.
	CertificatePEM string `json:"certificate_pem"`
	KeyPEM         string `json:"key_pem,omitempty"`
	CertificateDER []byte `json:"certificate_der"`
	// EmailedTo is where the PKCS#12 was emailed; EmailError why it was
	// not, when the user asked for it.
	EmailedTo  string `json:"emailed_to,omitempty"`
	EmailError string `json:"email_error,omitempty"`
}

func issueResponseOf(outcome *enroll.Outcome) issueResponse {
	issued := outcome.Issued
	return issueResponse{
		Serial:     issued.Record.Serial,
		Filename:   issued.Filename,
		Passphrase: issued.Passphrase,
		PKCS12:     issued.PKCS12,
		NotAfter:   issued.Record.NotAfter,

		CertificatePEM: string(issued.CertificatePEM),
		KeyPEM:         string(issued.KeyPEM),
		CertificateDER: issued.Record.DER,
		EmailedTo:      outcome.EmailedTo,
		EmailError:     outcome.EmailError,
	}
}

// issueOptions reads what the requester chose on the page (or in a
// script's form): file format, a PEM copy of the key, email.
func issueOptions(form func(string) string) (enroll.Options, error) {
	var opts enroll.Options
	// The admin's format is the default; the user may pick the other one
	// (AES for OpenSSL 3/NSS/Windows 10+, 3DES for macOS and older systems).
	if requested := form("format"); requested != "" {
		format, err := pki.ParsePKCS12Format(requested)
		if err != nil {
			return opts, &web.Error{Status: http.StatusBadRequest, Message: "Unknown file format; choose compatible or modern.", Hint: "Go back and choose a file format."}
		}
		opts.Format = format
	}
	opts.KeyPEM = formFlag(form("key_pem"))
	opts.Email = formFlag(form("email"))
	return opts, nil
}

// handleIssueSubmit consumes the token exactly once and creates the
// certificate. The response is the only place the key ever exists.
func (p *Plugin) handleIssueSubmit(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return &web.Error{Status: http.StatusBadRequest, Message: "The form could not be read.", Next: enroll.NextNewLink, Err: err}
	}
	s, grant, err := p.checkLink(r, r.PostForm.Get("token"), linktoken.PurposeIssue)
	if err != nil {
		return err
	}
	opts, err := issueOptions(r.PostForm.Get)
	if err != nil {
		return err
	}
	outcome, err := s.Core.RedeemLink(r.Context(), grant, opts)
	if err != nil {
		return err
	}
	return p.respondOutcome(w, web.WantsJSON(r), grant.Requester, outcome)
}

// respondOutcome answers any enrollment: the PKCS#12 file, the certificate
// of the requester's own key, or where their request stands.
func (p *Plugin) respondOutcome(w http.ResponseWriter, asJSON bool, owner *enroll.Requester, outcome *enroll.Outcome) error {
	switch {
	case outcome.Request != nil:
		return p.respondRequest(w, asJSON, outcome.Request)
	case outcome.Signed != nil:
		return p.respondSigned(w, asJSON, owner, outcome.Signed)
	}
	issued := outcome.Issued
	if asJSON {
		web.WriteJSON(w, http.StatusOK, issueResponseOf(outcome))
		return nil
	}
	return p.pages.Render(w, http.StatusOK, "issued", issuedPage{
		Username:   owner.Username,
		Serial:     issued.Record.Serial,
		Subject:    issued.Record.Subject,
		NotAfter:   issued.Record.NotAfter.UTC().Format(time.RFC1123),
		Passphrase: issued.Passphrase,
		Filename:   issued.Filename,
		DataURL:    template.URL(dataURL("application/x-pkcs12", issued.PKCS12)), // #nosec G203 -- our own base64, not user input
		Base:       enroll.FileBase(owner.Username),
		CertPEMURL: template.URL(dataURL("application/x-pem-file", issued.CertificatePEM)), // #nosec G203 -- our own base64
		KeyPEMURL:  keyPEMURL(issued.KeyPEM),
		CertDERURL: template.URL(dataURL("application/pkix-cert", issued.Record.DER)), // #nosec G203 -- our own base64
		CAURL:      p.site().CAChainURL(issued.Record.Connector),
		EmailedTo:  outcome.EmailedTo,
		EmailError: outcome.EmailError,
	})
}

// respondRequest tells the requester their request waits, for an
// approver or for the CA.
func (p *Plugin) respondRequest(w http.ResponseWriter, asJSON bool, req *records.Request) error {
	if asJSON {
		web.WriteJSON(w, http.StatusAccepted, map[string]any{"request_id": req.ID, "state": req.State, "profile": req.Profile})
		return nil
	}
	if req.State == records.RequestPending {
		return p.pages.RenderMessage(w, http.StatusAccepted, "Waiting for approval",
			"Your request "+req.ID+" for a certificate of profile "+req.Profile+" is waiting for an approver.",
			"You will get a message in Mattermost with a link to collect the certificate once it is approved.")
	}
	return p.pages.RenderMessage(w, http.StatusAccepted, "Waiting for the certificate authority",
		"The certificate authority must approve this request ("+req.ID+").",
		"You will get a message in Mattermost with a link to collect the certificate when it does.")
}

// formFlag reads a yes/no form field: a ticked checkbox, or true in
// scripts.
func formFlag(v string) bool {
	return v == "on" || v == "true" || v == "1"
}

// keyPEMURL offers the key's PEM copy, if the user asked for one.
func keyPEMURL(keyPEM []byte) template.URL {
	if keyPEM == nil {
		return ""
	}
	return template.URL(dataURL("application/x-pem-file", keyPEM)) // #nosec G203 -- our own base64
}

func dataURL(mediaType string, data []byte) string {
	return "data:" + mediaType + ";base64," + base64.StdEncoding.EncodeToString(data)
}
