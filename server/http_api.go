package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"

	"github.com/gorilla/mux"
	"github.com/pkg/errors"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

// linkResponse answers POST /api/v1/links.
type linkResponse struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
	Profile   string    `json:"profile"`
}

// createLinkRequest is the optional body of POST /api/v1/links. Kind is
// "download" (the default: the server makes the key) or "csr" (a link to
// the upload page).
type createLinkRequest struct {
	Profile string `json:"profile"`
	Kind    string `json:"kind"`
}

// handleCreateLink starts an enrollment, as /cert download and /cert csr
// do, for the webapp and for automation: a link (201), or a request that
// waits for an approver (202).
func (p *Plugin) handleCreateLink(w http.ResponseWriter, r *http.Request, userID string) error {
	var body createLinkRequest
	if err := web.DecodeOptionalJSON(r, &body); err != nil {
		return err
	}
	key, ok := linkKinds[body.Kind]
	if !ok {
		return &web.Error{Status: http.StatusBadRequest, Message: `kind must be "download" or "csr"`}
	}
	s, requester, err := p.sessionRequester(userID)
	if err != nil {
		return err
	}
	start, err := s.Core.StartEnrollment(requester, enroll.StartRequest{Profile: body.Profile, Key: key})
	if err != nil {
		return err
	}
	if start.Request != nil {
		return p.respondRequest(w, true, start.Request)
	}
	u, err := p.site().LinkURL(start.Link)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, linkResponse{URL: u, ExpiresAt: start.Link.ExpiresAt, Profile: start.Profile.Name})
	return nil
}

// linkKinds are the kinds of link POST /api/v1/links makes.
var linkKinds = map[string]enroll.KeySource{"": enroll.KeyFromServer, "download": enroll.KeyFromServer, "csr": enroll.KeyFromCSR}

// enrollmentRequest is the body of POST /api/v1/enrollments: a CSR (PEM,
// or DER in base64) to have certified, or none for a key the server makes
// and returns as PKCS#12.
type enrollmentRequest struct {
	Profile     string `json:"profile"`
	CSR         string `json:"csr"`
	Attestation string `json:"attestation"`
	// Format is the PKCS#12 encryption: compatible or modern.
	Format string `json:"format"`
	KeyPEM bool   `json:"key_pem"`
	Email  bool   `json:"email"`
}

// handleEnroll is the one JSON enrollment route, for the enroll modal and
// for automation: server key → PKCS#12 and passphrase (201), CSR →
// certificate (201), or a request that waits (202).
func (p *Plugin) handleEnroll(w http.ResponseWriter, r *http.Request, userID string) error {
	var body enrollmentRequest
	if err := web.DecodeOptionalJSON(r, &body); err != nil {
		return err
	}
	s, requester, err := p.sessionRequester(userID)
	if err != nil {
		return err
	}
	var outcome *enroll.Outcome
	if strings.TrimSpace(body.CSR) != "" {
		upload := enroll.Upload{CSR: textOrBase64(body.CSR), Attestation: textOrBase64(body.Attestation)}
		outcome, err = s.Core.SignCSR(r.Context(), requester, body.Profile, upload)
	} else {
		var opts enroll.Options
		opts, err = issueOptions(func(name string) string {
			switch name {
			case "format":
				return body.Format
			case "key_pem":
				return strconv.FormatBool(body.KeyPEM)
			case "email":
				return strconv.FormatBool(body.Email)
			}
			return ""
		})
		if err != nil {
			return err
		}
		outcome, err = s.Core.Enroll(r.Context(), requester, body.Profile, opts)
	}
	if err != nil {
		return err
	}
	if outcome.Issued != nil {
		// A new certificate, like a signed CSR: 201.
		web.WriteJSON(w, http.StatusCreated, issueResponseOf(outcome))
		return nil
	}
	return p.respondOutcome(w, true, requester, outcome)
}

// decodeOptionalJSON reads a JSON request body into v; an empty body leaves
// v as it is. Oversized and malformed bodies are the client's error.
func decodeOptionalJSON(r *http.Request, v any) error {
	err := json.NewDecoder(r.Body).Decode(v)
	var tooLarge *http.MaxBytesError
	switch {
	case err == nil, errors.Is(err, io.EOF):
		return nil
	case errors.As(err, &tooLarge):
		return &web.Error{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("the request body is larger than %d bytes", tooLarge.Limit)}
	}
	return &web.Error{Status: http.StatusBadRequest, Message: "the request body is not valid JSON: " + err.Error()}
}

// profileView is a profile as the API shows it to a user who may use it.
type profileView struct {
	Name         string   `json:"name"`
	Description  string   `json:"description,omitempty"`
	Default      bool     `json:"default"`
	ValidityDays int      `json:"validity_days"`
	KeyType      string   `json:"key_type"`
	ExtKeyUsages []string `json:"ext_key_usages"`
}

func (p *Plugin) handleListProfiles(w http.ResponseWriter, _ *http.Request, userID string) error {
	s, requester, err := p.sessionRequester(userID)
	if err != nil {
		return err
	}
	views := []profileView{}
	for _, prof := range s.Core.UsableProfiles(requester) {
		views = append(views, profileView{
			Name: prof.Name, Description: prof.Description, Default: prof.Name == s.Catalog.DefaultProfile,
			ValidityDays: prof.ValidityDays, KeyType: string(prof.GeneratedKeyType()), ExtKeyUsages: prof.ExtKeyUsages,
		})
	}
	web.WriteJSON(w, http.StatusOK, views)
	return nil
}

func (p *Plugin) handleListCertificates(w http.ResponseWriter, _ *http.Request, userID string) error {
	s, err := p.current.Get()
	if err != nil {
		return &web.Error{Status: http.StatusServiceUnavailable, Message: err.Error()}
	}
	certs, err := s.Core.Certificates(sessionPrincipal(userID))
	if err != nil {
		return err
	}
	views := make([]web.CertificateView, 0, len(certs))
	for _, c := range certs {
		views = append(views, web.ViewOf(c, p.now()))
	}
	web.WriteJSON(w, http.StatusOK, views)
	return nil
}

// serialRoute reads the serial of a route on one of the caller's
// certificates, and the caller.
func (p *Plugin) serialRoute(r *http.Request, userID string) (string, *app.Snapshot, *enroll.Requester, error) {
	serial := pki.NormalizeSerial(mux.Vars(r)["serial"])
	if serial == "" {
		return "", nil, nil, &web.Error{Status: http.StatusBadRequest, Message: "not a certificate serial"}
	}
	s, requester, err := p.sessionRequester(userID)
	return serial, s, requester, err
}

func (p *Plugin) handleRevokeCertificate(w http.ResponseWriter, r *http.Request, userID string) error {
	serial, s, requester, err := p.serialRoute(r, userID)
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
	view := revocationView{CertificateView: web.ViewOf(revoked.Record, p.now()), Reach: string(revoked.Reach())}
	for _, sibling := range revoked.Siblings {
		view.RevokedWith = append(view.RevokedWith, sibling.Serial)
	}
	web.WriteJSON(w, http.StatusOK, view)
	return nil
}

// revocationView is a revoked certificate as the API answers a
// revocation: the record, and how far the revocation got.
type revocationView struct {
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
