package enrollment

import (
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/attest"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"
)

// MaxUploadBytes bounds an upload (a CSR with its attestation, or a
// certificate to register), multipart or JSON overhead included: a CSR is
// at most pki.MaxCSRBytes, an attestation chain at most
// attest.MaxUploadBytes.
const MaxUploadBytes = 4 * (pki.MaxCSRBytes + attest.MaxUploadBytes)

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

func csrPageFor(s *app.Snapshot, grant *enroll.Grant, token, uploadErr string) csrPage {
	prof := grant.Profile
	subject := s.Core.SubjectFor(grant.Requester, prof)
	labels := make([]string, 0, len(prof.KeyTypes))
	for _, kt := range prof.AcceptedKeyTypes() {
		labels = append(labels, kt.Label())
	}
	return csrPage{
		Username:            grant.Requester.Username,
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
		ExpiresAt:           grant.Claims.ExpiresAt.UTC().Format(time.RFC1123),
		Error:               uploadErr,
	}
}

// handleCSRPage shows the upload form. Like the issue page, GET never
// consumes the link.
func (h *Routes) handleCSRPage(w http.ResponseWriter, r *http.Request) error {
	token := r.URL.Query().Get("token")
	s, grant, err := h.checkLink(r, token, linktoken.PurposeCSR)
	if err != nil {
		return err
	}
	if err := s.Core.CheckUnused(grant); err != nil {
		return err
	}
	return h.pages.Render(w, http.StatusOK, "csr", csrPageFor(s, grant, token, ""))
}

// handleCSRSubmit has the upload checked and, if it passes, the link
// consumed and the CSR signed. An upload that is refused shows the form
// again with the reason: the link still works.
func (h *Routes) handleCSRSubmit(w http.ResponseWriter, r *http.Request) error {
	if err := parseUploadForm(r); err != nil {
		return err
	}
	token := r.PostFormValue("token")
	s, grant, err := h.checkLink(r, token, linktoken.PurposeCSR)
	if err != nil {
		return err
	}
	upload, err := uploadFromForm(r)
	if err != nil {
		return err
	}
	outcome, err := s.Core.SubmitCSR(r.Context(), grant, upload)
	if e := enroll.AsError(err); e != nil && e != enroll.ErrLinkUsed && (e.Code == enroll.CodeRefused || e.Code == enroll.CodeConflict) && !web.WantsJSON(r) {
		refusal := e.Message
		if hint := h.pages.Hint(web.AsError(e)); hint != "" {
			refusal += " " + hint
		}
		return h.pages.Render(w, web.StatusOf[e.Code], "csr", csrPageFor(s, grant, token, refusal))
	}
	if err != nil {
		return err
	}
	if web.WantsJSON(r) {
		return respondJSON(w, http.StatusCreated, outcome)
	}
	return h.renderOutcome(w, grant.Requester, outcome)
}

// renderSigned shows a certificate signed for the requester's own key.
func (h *Routes) renderSigned(w http.ResponseWriter, owner *enroll.Requester, signed *enroll.Signed) error {
	record := signed.Record
	certPEM := signed.CertificatePEM()
	page := csrIssuedPage{
		Serial:         record.Serial,
		Subject:        record.Subject,
		NotAfter:       record.NotAfter.UTC().Format(time.RFC1123),
		Base:           enroll.FileBase(owner.Username),
		CertificatePEM: string(certPEM),
		CertPEMURL:     template.URL(dataURL("application/x-pem-file", certPEM)),   // #nosec G203 -- our own base64
		CertDERURL:     template.URL(dataURL("application/pkix-cert", record.DER)), // #nosec G203 -- our own base64
		CAURL:          h.Current.Site().CAChainURL(record.Connector),
	}
	if record.Attestation != nil {
		page.Attested = enroll.AttestationLabel(record.Attestation)
	}
	return h.pages.Render(w, http.StatusOK, "csr_issued", page)
}

// csrAPIRequest is the JSON body of POST /api/v1/csr. CSR is PEM, or DER in
// base64; Attestation is PEM.
type csrAPIRequest struct {
	Profile     string `json:"profile"`
	CSR         string `json:"csr"`
	Attestation string `json:"attestation"`
}

// readCSRRequest reads a CSR upload from JSON or multipart.
func readCSRRequest(w http.ResponseWriter, r *http.Request) (string, enroll.Upload, error) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxUploadBytes)
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		if err := parseUploadForm(r); err != nil {
			return "", enroll.Upload{}, err
		}
		upload, err := uploadFromForm(r)
		return r.PostFormValue("profile"), upload, err
	}
	var body csrAPIRequest
	if err := web.DecodeOptionalJSON(r, &body); err != nil {
		return "", enroll.Upload{}, err
	}
	return body.Profile, enroll.Upload{CSR: textOrBase64(body.CSR), Attestation: textOrBase64(body.Attestation)}, nil
}

// handleSignCSR signs a CSR for the signed-in user, for the webapp and for
// automation: JSON or multipart, the same checks as the upload page.
func (h *Routes) handleSignCSR(w http.ResponseWriter, r *http.Request, caller records.Principal) error {
	profileName, upload, err := readCSRRequest(w, r)
	if err != nil {
		return err
	}
	s, requester, err := h.Callers.Resolve(caller)
	if err != nil {
		return err
	}
	outcome, err := s.Core.SignCSR(r.Context(), requester, profileName, upload)
	if err != nil {
		return err
	}
	return respondJSON(w, http.StatusCreated, outcome)
}

// parseUploadForm reads a multipart (or URL-encoded) upload, bounded.
func parseUploadForm(r *http.Request) error {
	err := r.ParseMultipartForm(MaxUploadBytes)
	if errors.Is(err, http.ErrNotMultipart) {
		err = r.ParseForm()
	}
	var tooLarge *http.MaxBytesError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &tooLarge):
		return &web.Error{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("The upload is larger than %d KiB; a certificate request with its attestation is far smaller.", tooLarge.Limit>>10), Hint: "Go back and upload the request alone."}
	}
	return &web.Error{Status: http.StatusBadRequest, Message: "The upload could not be read.", Hint: "Go back and try again.", Err: err}
}

// uploadFromForm takes the CSR and attestation from a parsed form: a file,
// or pasted text.
func uploadFromForm(r *http.Request) (enroll.Upload, error) {
	csr, err := formFileOrText(r, "csr")
	if err != nil {
		return enroll.Upload{}, err
	}
	attestation, err := formFileOrText(r, "attestation")
	if err != nil {
		return enroll.Upload{}, err
	}
	return enroll.Upload{CSR: csr, Attestation: attestation}, nil
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
			return nil, &web.Error{Status: http.StatusBadRequest, Message: "The uploaded file could not be read.", Err: err}
		}
		data, err := io.ReadAll(io.LimitReader(file, MaxUploadBytes))
		_ = file.Close()
		if err != nil {
			return nil, &web.Error{Status: http.StatusBadRequest, Message: "The uploaded file could not be read.", Err: err}
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
