package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pkg/errors"

	"github.com/clientcerts/mattermost-plugin-certs/server/attest"
	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

// maxUploadBytes bounds a CSR upload with its attestation, multipart or
// JSON overhead included: a CSR is at most pki.MaxCSRBytes, an attestation
// chain at most attest.MaxUploadBytes.
const maxUploadBytes = 4 * (pki.MaxCSRBytes + attest.MaxUploadBytes)

// csrPage is the upload page.
type csrPage struct {
	Username            string
	Profile             string
	Description         string
	CommonName          string
	Emails              []string
	KeyTypes            string
	Validity            int
	RequiresApproval    bool
	NamesMustMatch      bool
	Attestation         bool
	AttestationRequired bool
	Token               string
	ExpiresAt           string
	// Error is why the last upload was refused; the link still works.
	Error string
}

// csrIssuedPage shows a certificate signed for the user's own key.
type csrIssuedPage struct {
	Serial         string
	Subject        string
	NotAfter       string
	Attested       string
	Base           string
	CertificatePEM string
	CertPEMURL     template.URL
	CertDERURL     template.URL
	CAURL          string
}

// csrResponse is the JSON form of a certificate signed for a CSR.
type csrResponse struct {
	Serial   string    `json:"serial"`
	Subject  string    `json:"subject"`
	NotAfter time.Time `json:"not_after"`
	// CertificatePEM is the certificate and its chain; CertificateDER the
	// certificate alone.
	CertificatePEM string `json:"certificate_pem"`
	CertificateDER string `json:"certificate_der"`
	Attested       bool   `json:"attested"`
	DeviceSerial   string `json:"device_serial,omitempty"`
}

func (p *Plugin) csrPageFor(link *linkRequest, token, uploadErr string) csrPage {
	prof := link.profile
	subject := subjectFor(link.user, prof)
	labels := make([]string, 0, len(prof.KeyTypes))
	for _, kt := range prof.AcceptedKeyTypes() {
		labels = append(labels, kt.Label())
	}
	return csrPage{
		Username:            link.user.Username,
		Profile:             prof.Name,
		Description:         prof.Description,
		CommonName:          subject.CommonName,
		Emails:              subject.Emails,
		KeyTypes:            strings.Join(labels, ", "),
		Validity:            prof.ValidityDays,
		RequiresApproval:    prof.RequiresApproval,
		NamesMustMatch:      prof.CSRNames == profile.CSRNamesMatch,
		Attestation:         prof.Attestation != profile.AttestationIgnore,
		AttestationRequired: prof.Attestation == profile.AttestationRequire,
		Token:               token,
		ExpiresAt:           link.claims.ExpiresAt.UTC().Format(time.RFC1123),
		Error:               uploadErr,
	}
}

// handleCSRPage shows the upload form. Like the issue page, GET never
// consumes the link.
func (p *Plugin) handleCSRPage(w http.ResponseWriter, r *http.Request) error {
	token := r.URL.Query().Get("token")
	link, err := p.checkLink(r, token, linktoken.PurposeCSR)
	if err != nil {
		return err
	}
	if err := p.checkLinkUnused(link); err != nil {
		return err
	}
	return p.renderPage(w, http.StatusOK, "csr", p.csrPageFor(link, token, ""))
}

// handleCSRSubmit checks the upload, then consumes the link and has the CSR
// signed. An upload that is refused leaves the link usable, so the user can
// fix the request and send it again.
func (p *Plugin) handleCSRSubmit(w http.ResponseWriter, r *http.Request) error {
	if err := parseUploadForm(r); err != nil {
		return err
	}
	token := r.PostFormValue("token")
	link, err := p.checkLink(r, token, linktoken.PurposeCSR)
	if err != nil {
		return err
	}
	upload, err := uploadFromForm(r)
	if err != nil {
		return err
	}
	// A used link is found by the claim below; a refusal looks first, so
	// that a used link is not offered the form again.
	refused := func(status int, err error) error {
		if usedErr := p.checkLinkUnused(link); usedErr != nil {
			return usedErr
		}
		if wantsJSON(r) {
			return &httpError{Status: status, Message: err.Error()}
		}
		return p.renderPage(w, status, "csr", p.csrPageFor(link, token, err.Error()))
	}
	checked, err := p.checkCSR(link.services, link.user, link.profile, link.connector, upload)
	var refusal *csrRefusal
	if errors.As(err, &refusal) {
		return refused(http.StatusUnprocessableEntity, err)
	}
	if err != nil {
		return err
	}

	marks := []string{link.claims.ID}
	markTTL := link.claims.ExpiresAt.Sub(p.now()) + tokenMarkGrace
	if err := p.claimAll(marks, markTTL); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), issueTimeout)
	defer cancel()
	outcome, err := p.enrollCSR(ctx, link.services, link.user, link.profile, link.connector, checked, marks)
	var duplicate *errDuplicateKey
	switch {
	case errors.As(err, &duplicate):
		return refused(http.StatusConflict, err)
	case err != nil:
		p.API.LogWarn("A certificate could not be issued for a CSR", "user_id", link.user.Id, "profile", link.profile.Name,
			"connector", link.connector.Name(), "error", err.Error())
		return issuanceError(err)
	}
	return p.respondCSROutcome(w, wantsJSON(r), link.user, link.profile, link.connector, outcome)
}

// respondCSROutcome shows a certificate signed for a CSR, or where its
// request stands.
func (p *Plugin) respondCSROutcome(w http.ResponseWriter, asJSON bool, user *model.User, prof *profile.Profile, conn connector.Connector, outcome *csrOutcome) error {
	if req := outcome.Request; req != nil {
		if req.State != store.RequestPending {
			return p.respondWaitingForCA(w, asJSON, user, conn, req)
		}
		if asJSON {
			writeJSON(w, http.StatusAccepted, map[string]any{"request_id": req.ID, "state": req.State, "profile": prof.Name})
			return nil
		}
		return p.renderPage(w, http.StatusAccepted, "error", errorPage{Status: http.StatusAccepted, Title: "Waiting for approval",
			Message: fmt.Sprintf("Your request %s for a %s certificate is waiting for an approver.", req.ID, prof.Name),
			Hint:    "You will get a message in Mattermost with a link to collect the certificate once it is approved."})
	}
	issued := outcome.Issued
	record := issued.Record
	p.API.LogInfo("Certificate issued for a CSR", "user_id", user.Id, "serial", record.Serial, "connector", record.Connector,
		"attested", record.Attestation != nil, "not_after", record.NotAfter.UTC().Format(time.RFC3339))
	p.notifyIssued(user, record)
	certPEM := issued.CertificatePEM()
	if asJSON {
		resp := csrResponse{
			Serial: record.Serial, Subject: record.Subject, NotAfter: record.NotAfter,
			CertificatePEM: string(certPEM), CertificateDER: base64.StdEncoding.EncodeToString(record.DER),
			Attested: record.Attestation != nil,
		}
		if record.Attestation != nil {
			resp.DeviceSerial = record.Attestation.DeviceSerial
		}
		writeJSON(w, http.StatusCreated, resp)
		return nil
	}
	page := csrIssuedPage{
		Serial:         record.Serial,
		Subject:        record.Subject,
		NotAfter:       record.NotAfter.UTC().Format(time.RFC1123),
		Base:           fileBase(user.Username),
		CertificatePEM: string(certPEM),
		CertPEMURL:     template.URL(dataURL("application/x-pem-file", certPEM)),   // #nosec G203 -- our own base64
		CertDERURL:     template.URL(dataURL("application/pkix-cert", record.DER)), // #nosec G203 -- our own base64
		CAURL:          p.siteURL() + "/plugins/" + manifest.Id + "/ca/" + conn.Name() + ".pem",
	}
	if record.Attestation != nil {
		page.Attested = attestationLabel(record.Attestation)
	}
	return p.renderPage(w, http.StatusOK, "csr_issued", page)
}

// collectCSRPickup delivers the certificate of an approved CSR request.
func (p *Plugin) collectCSRPickup(ctx context.Context, w http.ResponseWriter, r *http.Request, link *linkRequest, marks []string) error {
	issued, err := p.collectCSRRequest(ctx, link.services, link.user, link.profile, link.connector, link.request)
	var waiting *errWaitingForCA
	switch {
	case errors.As(err, &waiting):
		return p.respondWaitingForCA(w, wantsJSON(r), link.user, link.connector, waiting.Request)
	case err != nil:
		p.releaseAll(marks)
		p.API.LogWarn("An approved CSR could not be signed", "user_id", link.user.Id, "request", link.request.ID, "error", err.Error())
		return issuanceError(err)
	}
	p.markRequestIssued(link.request, issued.Record.Serial)
	return p.respondCSROutcome(w, wantsJSON(r), link.user, link.profile, link.connector, &csrOutcome{Issued: issued})
}

// csrAPIRequest is the JSON body of POST /api/v1/csr. CSR is PEM, or DER in
// base64; Attestation is PEM.
type csrAPIRequest struct {
	Profile     string `json:"profile"`
	CSR         string `json:"csr"`
	Attestation string `json:"attestation"`
}

// handleSignCSR signs a CSR for the signed-in user, for the webapp and for
// automation: JSON or multipart, the same checks as the upload page.
func (p *Plugin) handleSignCSR(w http.ResponseWriter, r *http.Request, userID string) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxUploadBytes)
	var body csrAPIRequest
	var upload csrUpload
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		if err := parseUploadForm(r); err != nil {
			return err
		}
		var err error
		if upload, err = uploadFromForm(r); err != nil {
			return err
		}
		body.Profile = r.PostFormValue("profile")
	} else {
		if err := decodeOptionalJSON(r, &body); err != nil {
			return err
		}
		upload = csrUpload{CSR: textOrBase64(body.CSR), Attestation: textOrBase64(body.Attestation)}
	}
	s, err := p.getServices()
	if err != nil {
		return &httpError{Status: http.StatusServiceUnavailable, Message: err.Error()}
	}
	prof, err := p.profileFor(s, userID, body.Profile)
	if err != nil {
		return &httpError{Status: http.StatusForbidden, Message: err.Error()}
	}
	_, conn, _ := s.profileNamed(prof.Name)
	user, appErr := p.API.GetUser(userID)
	if appErr != nil {
		return appErr
	}
	checked, err := p.checkCSR(s, user, prof, conn, upload)
	var refusal *csrRefusal
	if errors.As(err, &refusal) {
		return &httpError{Status: http.StatusUnprocessableEntity, Message: err.Error()}
	}
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), issueTimeout)
	defer cancel()
	outcome, err := p.enrollCSR(ctx, s, user, prof, conn, checked, nil)
	var duplicate *errDuplicateKey
	switch {
	case errors.As(err, &duplicate):
		return &httpError{Status: http.StatusConflict, Message: err.Error()}
	case err != nil:
		p.API.LogWarn("A certificate could not be issued for a CSR", "user_id", userID, "profile", prof.Name, "connector", conn.Name(), "error", err.Error())
		return issuanceError(err)
	}
	return p.respondCSROutcome(w, true, user, prof, conn, outcome)
}

// parseUploadForm reads a multipart (or URL-encoded) upload, bounded.
func parseUploadForm(r *http.Request) error {
	err := r.ParseMultipartForm(maxUploadBytes)
	if errors.Is(err, http.ErrNotMultipart) {
		err = r.ParseForm()
	}
	var tooLarge *http.MaxBytesError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &tooLarge):
		return &httpError{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("The upload is larger than %d KiB; a certificate request with its attestation is far smaller.", tooLarge.Limit>>10), Hint: "Go back and upload the request alone."}
	}
	return &httpError{Status: http.StatusBadRequest, Message: "The upload could not be read.", Hint: "Go back and try again.", Err: err}
}

// uploadFromForm takes the CSR and attestation from a parsed form: a file,
// or pasted text.
func uploadFromForm(r *http.Request) (csrUpload, error) {
	csr, err := formFileOrText(r, "csr")
	if err != nil {
		return csrUpload{}, err
	}
	attestation, err := formFileOrText(r, "attestation")
	if err != nil {
		return csrUpload{}, err
	}
	return csrUpload{CSR: csr, Attestation: attestation}, nil
}

// formFileOrText returns the file uploaded as name+"_file" (or as name), or
// else the text field name: PEM text, or DER in base64 (the pages read a
// chosen file into the text field).
func formFileOrText(r *http.Request, name string) ([]byte, error) {
	for _, field := range []string{name + "_file", name} {
		file, _, err := r.FormFile(field)
		if errors.Is(err, http.ErrMissingFile) || errors.Is(err, http.ErrNotMultipart) {
			continue
		}
		if err != nil {
			return nil, &httpError{Status: http.StatusBadRequest, Message: "The uploaded file could not be read.", Err: err}
		}
		data, err := io.ReadAll(io.LimitReader(file, maxUploadBytes))
		_ = file.Close()
		if err != nil {
			return nil, &httpError{Status: http.StatusBadRequest, Message: "The uploaded file could not be read.", Err: err}
		}
		if len(data) > 0 {
			return data, nil
		}
	}
	return textOrBase64(r.PostFormValue(name)), nil
}

// textOrBase64 reads a JSON field that holds PEM text or base64 DER.
func textOrBase64(v string) []byte {
	v = strings.TrimSpace(v)
	if v == "" || strings.HasPrefix(v, "-----BEGIN") {
		return []byte(v)
	}
	if der, err := base64.StdEncoding.DecodeString(v); err == nil {
		return der
	}
	// Not base64 either: let the parser say what is wrong with it.
	return []byte(v)
}
