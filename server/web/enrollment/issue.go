package enrollment

import (
	"encoding/base64"
	"html/template"
	"net/http"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"
)

// checkLink validates a link token without consuming it, for the
// principal signed in to this browser, if any.
func (h *Routes) checkLink(r *http.Request, token string, purpose linktoken.Purpose) (*app.Snapshot, *enroll.Grant, error) {
	s, err := h.Current.Get()
	if err != nil {
		return nil, nil, &web.Error{Status: http.StatusServiceUnavailable, Message: err.Error(), Hint: "Try again later or contact your administrator."}
	}
	session, err := h.session(r)
	if err != nil {
		return nil, nil, err
	}
	grant, err := s.Core.CheckLink(token, purpose, session)
	if err != nil {
		return nil, nil, err
	}
	return s, grant, nil
}

// handleIssuePage shows what the link will create. It never consumes the
// token: link previews and mail scanners fetch links with GET.
func (h *Routes) handleIssuePage(w http.ResponseWriter, r *http.Request) error {
	s, grant, err := h.checkLink(r, r.URL.Query().Get("token"), linktoken.PurposeIssue)
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
	return h.pages.Render(w, http.StatusOK, "confirm", confirmPage{
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
func (h *Routes) handleIssueSubmit(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return &web.Error{Status: http.StatusBadRequest, Message: "The form could not be read.", Next: enroll.NextNewLink, Err: err}
	}
	s, grant, err := h.checkLink(r, r.PostForm.Get("token"), linktoken.PurposeIssue)
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
	if web.WantsJSON(r) {
		return respondJSON(w, http.StatusOK, outcome)
	}
	return h.renderOutcome(w, grant.Requester, outcome)
}

// respondJSON answers any enrollment in JSON: the certificate issued, with
// status issued, or the request that waits (202). A CSR's certificate is
// always a 201, whichever route signed it.
func respondJSON(w http.ResponseWriter, issued int, outcome *enroll.Outcome) error {
	switch {
	case outcome.Request != nil:
		web.WriteJSON(w, http.StatusAccepted, WaitingOf(outcome.Request))
	case outcome.Signed != nil:
		web.WriteJSON(w, http.StatusCreated, IssuanceOf(outcome))
	default:
		web.WriteJSON(w, issued, IssuanceOf(outcome))
	}
	return nil
}

// renderOutcome shows any enrollment on a page: the PKCS#12 file, the
// certificate of the requester's own key, or where their request stands.
func (h *Routes) renderOutcome(w http.ResponseWriter, owner *enroll.Requester, outcome *enroll.Outcome) error {
	switch {
	case outcome.Request != nil:
		return h.renderWaiting(w, outcome.Request)
	case outcome.Signed != nil:
		return h.renderSigned(w, owner, outcome.Signed)
	}
	issued := outcome.Issued
	return h.pages.Render(w, http.StatusOK, "issued", issuedPage{
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
		CAURL:      h.Current.Site().CAChainURL(issued.Record.Connector),
		EmailedTo:  outcome.EmailedTo,
		EmailError: outcome.EmailError,
	})
}

// renderWaiting tells the requester their request waits, for an approver
// or for the CA.
func (h *Routes) renderWaiting(w http.ResponseWriter, req *records.Request) error {
	if req.State == records.RequestPending {
		return h.pages.RenderMessage(w, http.StatusAccepted, "Waiting for approval",
			"Your request "+req.ID+" for a certificate of profile "+req.Profile+" is waiting for an approver.",
			"You will get a message in Mattermost with a link to collect the certificate once it is approved.")
	}
	return h.pages.RenderMessage(w, http.StatusAccepted, "Waiting for the certificate authority",
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
