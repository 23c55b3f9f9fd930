package enrollment

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"
)

// createLinkRequest is the optional body of POST /api/v1/links. Kind is
// "download" (the default: the server makes the key) or "csr" (a link to
// the upload page).
type createLinkRequest struct {
	Profile string `json:"profile"`
	Kind    string `json:"kind"`
}

// linkKinds are the kinds of link POST /api/v1/links makes.
var linkKinds = map[string]enroll.KeySource{"": enroll.KeyFromServer, "download": enroll.KeyFromServer, "csr": enroll.KeyFromCSR}

// handleCreateLink starts an enrollment, as /cert download and /cert csr
// do, for the webapp and for automation: a link (201), or a request that
// waits for an approver (202).
func (h *Routes) handleCreateLink(w http.ResponseWriter, r *http.Request, caller records.Principal) error {
	var body createLinkRequest
	if err := web.DecodeOptionalJSON(r, &body); err != nil {
		return err
	}
	key, ok := linkKinds[body.Kind]
	if !ok {
		return &web.Error{Status: http.StatusBadRequest, Message: `kind must be "download" or "csr"`}
	}
	s, requester, err := h.Callers.Resolve(caller)
	if err != nil {
		return err
	}
	start, err := s.Core.StartEnrollment(requester, enroll.StartRequest{Profile: body.Profile, Key: key})
	if err != nil {
		return err
	}
	return h.respondStart(w, start)
}

// respondStart answers an enrollment started: its link (201), or the
// request that waits (202).
func (h *Routes) respondStart(w http.ResponseWriter, start *enroll.Start) error {
	if start.Request != nil {
		web.WriteJSON(w, http.StatusAccepted, WaitingOf(start.Request))
		return nil
	}
	u, err := h.Current.Site().LinkURL(start.Link)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, LinkOf(start.Link, u))
	return nil
}

// enrollmentRequest is the body of POST /api/v1/enrollments: a CSR (PEM,
// or DER in base64) to have certified, or none for a key the server makes
// and returns as PKCS#12; with renews, the renewal of that certificate of
// the caller's (its profile, a new key).
type enrollmentRequest struct {
	Profile     string `json:"profile"`
	Renews      string `json:"renews"`
	CSR         string `json:"csr"`
	Attestation string `json:"attestation"`
	// Format is the PKCS#12 encryption: compatible or modern.
	Format string `json:"format"`
	KeyPEM bool   `json:"key_pem"`
	Email  bool   `json:"email"`
}

// field reads the body as the page's form would be read.
func (b *enrollmentRequest) field(name string) string {
	switch name {
	case "format":
		return b.Format
	case "key_pem":
		return strconv.FormatBool(b.KeyPEM)
	case "email":
		return strconv.FormatBool(b.Email)
	}
	return ""
}

// handleEnroll is the one JSON enrollment route, for the enroll modal and
// for automation: server key → PKCS#12 and passphrase (201), CSR →
// certificate (201), or a request that waits (202).
func (h *Routes) handleEnroll(w http.ResponseWriter, r *http.Request, caller records.Principal) error {
	var body enrollmentRequest
	if err := web.DecodeOptionalJSON(r, &body); err != nil {
		return err
	}
	s, requester, err := h.Callers.Resolve(caller)
	if err != nil {
		return err
	}
	opts, err := issueOptions(body.field)
	if err != nil {
		return err
	}
	var upload *enroll.Upload
	if strings.TrimSpace(body.CSR) != "" {
		upload = &enroll.Upload{CSR: textOrBase64(body.CSR), Attestation: textOrBase64(body.Attestation)}
	}
	var outcome *enroll.Outcome
	switch {
	case strings.TrimSpace(body.Renews) != "":
		outcome, err = h.renewNow(r, requester, s, body.Renews, upload, opts)
	case upload != nil:
		outcome, err = s.Core.SignCSR(r.Context(), requester, body.Profile, *upload)
	default:
		outcome, err = s.Core.Enroll(r.Context(), requester, body.Profile, opts)
	}
	if err != nil {
		return err
	}
	// A new certificate, like a signed CSR: 201.
	return respondJSON(w, http.StatusCreated, outcome)
}

// renewNow renews one of the caller's certificates at once: the renewal
// starts as POST …/renew starts it, and its link is served as its page
// would serve it.
func (h *Routes) renewNow(r *http.Request, requester *enroll.Requester, s *app.Snapshot, serial string,
	upload *enroll.Upload, opts enroll.Options) (*enroll.Outcome, error) {
	serial = pki.NormalizeSerial(serial)
	if serial == "" {
		return nil, &web.Error{Status: http.StatusBadRequest, Message: "renews is not a certificate serial"}
	}
	key := enroll.KeyFromServer
	if upload != nil {
		key = enroll.KeyFromCSR
	}
	renewal, err := s.Core.StartEnrollment(requester, enroll.StartRequest{Renews: serial, Key: key})
	if h.AuditRenewal != nil {
		h.AuditRenewal(requester, serial, renewal, err)
	}
	if err != nil {
		return nil, err
	}
	if renewal.Request != nil {
		return &enroll.Outcome{Request: renewal.Request}, nil
	}
	return s.Core.RedeemNow(r.Context(), requester, renewal.Link, upload, opts)
}

// handleCollectRequest is POST /api/v1/requests/{id}/collect: an approved
// request of the caller's, issued at once (201), with the options of
// POST /api/v1/enrollments for a key the server makes.
func (h *Routes) handleCollectRequest(w http.ResponseWriter, r *http.Request, caller records.Principal) error {
	var body enrollmentRequest
	if err := web.DecodeOptionalJSON(r, &body); err != nil {
		return err
	}
	opts, err := issueOptions(body.field)
	if err != nil {
		return err
	}
	s, requester, err := h.Callers.Resolve(caller)
	if err != nil {
		return err
	}
	outcome, err := s.Core.Collect(r.Context(), requester, mux.Vars(r)["id"], opts)
	if err != nil {
		return err
	}
	return respondJSON(w, http.StatusCreated, outcome)
}

// handleCancelRequest is POST /api/v1/requests/{id}/cancel: the caller
// withdraws a request of theirs that waits.
func (h *Routes) handleCancelRequest(w http.ResponseWriter, r *http.Request, caller records.Principal) error {
	s, requester, err := h.Callers.Resolve(caller)
	if err != nil {
		return err
	}
	req, err := s.Core.Cancel(requester, mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, RequestOf(req))
	return nil
}

// handleListProfiles is GET /api/v1/profiles: the profiles the caller may
// use.
func (h *Routes) handleListProfiles(w http.ResponseWriter, _ *http.Request, caller records.Principal) error {
	s, requester, err := h.Callers.Resolve(caller)
	if err != nil {
		return err
	}
	views := []ProfileView{}
	for _, prof := range s.Core.UsableProfiles(requester) {
		subject := s.Core.SubjectFor(requester, prof)
		keyTypes := make([]string, 0, len(prof.KeyTypes))
		for _, kt := range prof.AcceptedKeyTypes() {
			keyTypes = append(keyTypes, string(kt))
		}
		views = append(views, ProfileView{
			Name: prof.Name, Description: prof.Description, Default: prof.Name == s.Catalog.DefaultProfile,
			ValidityDays: prof.ValidityDays, KeyType: string(prof.GeneratedKeyType()), ExtKeyUsages: prof.ExtKeyUsages,
			KeyTypes: keyTypes, ServerKey: prof.ServerKeysAllowed(), Attestation: prof.Attestation,
			RequiresApproval: prof.RequiresApproval, Approvers: prof.Approvers,
			Email: s.Config.EmailDelivery, PKCS12Format: s.Config.PKCS12Format,
			Subject: SubjectView{CommonName: subject.CommonName, Emails: append([]string{}, subject.Emails...)},
		})
	}
	web.WriteJSON(w, http.StatusOK, views)
	return nil
}

// handleListCertificates is GET /api/v1/certificates: the caller's.
func (h *Routes) handleListCertificates(w http.ResponseWriter, _ *http.Request, caller records.Principal) error {
	s, err := h.Current.Get()
	if err != nil {
		return err
	}
	certs, err := s.Core.Certificates(caller)
	if err != nil {
		return err
	}
	now := h.Now()
	views := make([]web.CertificateView, 0, len(certs))
	for _, c := range certs {
		views = append(views, web.ViewOf(c, now))
	}
	web.WriteJSON(w, http.StatusOK, views)
	return nil
}

// handleListRequests is GET /api/v1/requests: the caller's.
func (h *Routes) handleListRequests(w http.ResponseWriter, _ *http.Request, caller records.Principal) error {
	s, err := h.Current.Get()
	if err != nil {
		return err
	}
	reqs, err := s.Core.Requests(caller)
	if err != nil {
		return err
	}
	views := make([]RequestView, 0, len(reqs))
	for _, req := range reqs {
		views = append(views, RequestOf(req))
	}
	web.WriteJSON(w, http.StatusOK, views)
	return nil
}

// handleRevokeCertificate is POST /api/v1/certificates/{serial}/revoke,
// with an optional reason.
func (h *Routes) handleRevokeCertificate(w http.ResponseWriter, r *http.Request, caller records.Principal) error {
	serial, s, requester, err := h.serialRoute(r, caller)
	if err != nil {
		return err
	}
	var body struct {
		Reason string `json:"reason"`
	}
	if err := web.DecodeOptionalJSON(r, &body); err != nil {
		return err
	}
	revoked, err := s.Core.Revoke(r.Context(), requester, serial, body.Reason)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, RevocationOf(revoked, h.Now()))
	return nil
}

// handleRenewCertificate starts the renewal of one of the caller's
// certificates: a link (201), or a request that waits for an approver
// (202).
func (h *Routes) handleRenewCertificate(w http.ResponseWriter, r *http.Request, caller records.Principal) error {
	serial, s, requester, err := h.serialRoute(r, caller)
	if err != nil {
		return err
	}
	renewal, err := s.Core.StartEnrollment(requester, enroll.StartRequest{Renews: serial})
	if h.AuditRenewal != nil {
		h.AuditRenewal(requester, serial, renewal, err)
	}
	if err != nil {
		return err
	}
	return h.respondStart(w, renewal)
}
