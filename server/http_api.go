package main

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"

	"github.com/gorilla/mux"
	"github.com/mattermost/mattermost/server/public/model"
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
	if err := decodeOptionalJSON(r, &body); err != nil {
		return err
	}
	key, ok := linkKinds[body.Kind]
	if !ok {
		return &httpError{Status: http.StatusBadRequest, Message: `kind must be "download" or "csr"`}
	}
	s, requester, err := p.sessionRequester(userID)
	if err != nil {
		return err
	}
	start, err := s.core.StartEnrollment(requester, enroll.StartRequest{Profile: body.Profile, Key: key})
	if err != nil {
		return err
	}
	if start.Request != nil {
		return p.respondRequest(w, true, start.Request)
	}
	u, err := p.linkURL(start.Link)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, linkResponse{URL: u, ExpiresAt: start.Link.ExpiresAt, Profile: start.Profile.Name})
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
	if err := decodeOptionalJSON(r, &body); err != nil {
		return err
	}
	s, requester, err := p.sessionRequester(userID)
	if err != nil {
		return err
	}
	var outcome *enroll.Outcome
	if strings.TrimSpace(body.CSR) != "" {
		upload := enroll.Upload{CSR: textOrBase64(body.CSR), Attestation: textOrBase64(body.Attestation)}
		outcome, err = s.core.SignCSR(r.Context(), requester, body.Profile, upload)
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
		outcome, err = s.core.Enroll(r.Context(), requester, body.Profile, opts)
	}
	if err != nil {
		return err
	}
	if outcome.Issued != nil {
		// A new certificate, like a signed CSR: 201.
		writeJSON(w, http.StatusCreated, issueResponseOf(outcome))
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
		return &httpError{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("the request body is larger than %d bytes", tooLarge.Limit)}
	}
	return &httpError{Status: http.StatusBadRequest, Message: "the request body is not valid JSON: " + err.Error()}
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
	for _, prof := range s.core.UsableProfiles(requester) {
		views = append(views, profileView{
			Name: prof.Name, Description: prof.Description, Default: prof.Name == s.catalog.DefaultProfile,
			ValidityDays: prof.ValidityDays, KeyType: string(prof.GeneratedKeyType()), ExtKeyUsages: prof.ExtKeyUsages,
		})
	}
	writeJSON(w, http.StatusOK, views)
	return nil
}

// handleAutocompleteProfiles backs `/cert download [profile]`.
func (p *Plugin) handleAutocompleteProfiles(w http.ResponseWriter, _ *http.Request, userID string) error {
	s, requester, err := p.sessionRequester(userID)
	if err != nil {
		return err
	}
	items := []model.AutocompleteListItem{}
	for _, prof := range s.core.UsableProfiles(requester) {
		hint := fmt.Sprintf("%d days, %s", prof.ValidityDays, prof.GeneratedKeyType().Label())
		if prof.Name == s.catalog.DefaultProfile {
			hint += ", default"
		}
		items = append(items, model.AutocompleteListItem{Item: prof.Name, Hint: hint, HelpText: prof.Description})
	}
	writeJSON(w, http.StatusOK, items)
	return nil
}

// certificateView is a certificate record as the API shows it.
type certificateView struct {
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

func (p *Plugin) viewOf(c *records.Certificate) certificateView {
	return certificateView{
		Serial: c.Serial, Subject: c.Subject, Emails: c.Emails,
		NotBefore: c.NotBefore, NotAfter: c.NotAfter, State: c.StateAt(p.now()),
		Connector: c.Connector, Profile: c.Profile, KeyType: c.KeyType, Fingerprint: c.Fingerprint,
		CreatedAt: c.CreatedAt, RevokedAt: c.RevokedAt, RevocationReason: c.RevocationReason, RevocationPending: c.RevocationPending,
		CertificatePEM: string(pemCertificate(c.DER)),
		Origin:         c.Origin, Attestation: c.Attestation, Renews: c.Renews, EmailChangedAt: c.EmailChangedAt,
	}
}

func (p *Plugin) handleListCertificates(w http.ResponseWriter, _ *http.Request, userID string) error {
	s, err := p.getServices()
	if err != nil {
		return &httpError{Status: http.StatusServiceUnavailable, Message: err.Error()}
	}
	certs, err := s.core.Certificates(sessionPrincipal(userID))
	if err != nil {
		return err
	}
	views := make([]certificateView, 0, len(certs))
	for _, c := range certs {
		views = append(views, p.viewOf(c))
	}
	writeJSON(w, http.StatusOK, views)
	return nil
}

// serialRoute reads the serial of a route on one of the caller's
// certificates, and the caller.
func (p *Plugin) serialRoute(r *http.Request, userID string) (string, *services, *enroll.Requester, error) {
	serial := pki.NormalizeSerial(mux.Vars(r)["serial"])
	if serial == "" {
		return "", nil, nil, &httpError{Status: http.StatusBadRequest, Message: "not a certificate serial"}
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
	if err := decodeOptionalJSON(r, &body); err != nil {
		return err
	}
	revoked, err := s.core.Revoke(r.Context(), requester, serial, body.Reason)
	if err != nil {
		return err
	}
	view := revocationView{certificateView: p.viewOf(revoked.Record), Reach: string(revoked.Reach())}
	for _, sibling := range revoked.Siblings {
		view.RevokedWith = append(view.RevokedWith, sibling.Serial)
	}
	writeJSON(w, http.StatusOK, view)
	return nil
}

// revocationView is a revoked certificate as the API answers a
// revocation: the record, and how far the revocation got.
type revocationView struct {
	certificateView
	// Reach: "ca" (its CA's list and OCSP say revoked), "pending" (its CA
	// is told as soon as it answers), "records_only" (its holder
	// registered it: an administrator must revoke it at its CA) or
	// "unmanaged" (a CA the plugin does not talk to).
	Reach string `json:"reach"`
	// RevokedWith are the other certificates of a compromised key,
	// revoked with it.
	RevokedWith []string `json:"revoked_with,omitempty"`
}

// handleAutocompleteSerials backs `/cert revoke <serial>`: the user's
// certificates that can still be revoked, newest first.
func (p *Plugin) handleAutocompleteSerials(w http.ResponseWriter, _ *http.Request, userID string) error {
	s, err := p.getServices()
	if err != nil {
		return &httpError{Status: http.StatusServiceUnavailable, Message: err.Error()}
	}
	certs, err := s.core.Certificates(sessionPrincipal(userID))
	if err != nil {
		return err
	}
	now := p.now()
	items := []model.AutocompleteListItem{}
	for i := len(certs) - 1; i >= 0; i-- {
		c := certs[i]
		if c.StateAt(now) != string(records.CertIssued) {
			continue
		}
		items = append(items, model.AutocompleteListItem{
			Item:     c.Serial,
			Hint:     c.CommonName,
			HelpText: "expires " + c.NotAfter.UTC().Format("2006-01-02") + ", issued " + c.CreatedAt.UTC().Format("2006-01-02 15:04"),
		})
	}
	writeJSON(w, http.StatusOK, items)
	return nil
}

// handleCAPEM serves a CA chain (issuing CA first, root last) to anyone:
// clients and RADIUS/VPN servers need it to trust issued certificates.
// /ca.pem is the chain of the default profile's connector; /ca/<name>.pem
// that of any connector.
func (p *Plugin) handleCAPEM(w http.ResponseWriter, r *http.Request) {
	s, err := p.getServices()
	if err != nil {
		writeJSONError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	name, named := mux.Vars(r)["connector"]
	if !named {
		prof, _ := s.catalog.Profile("")
		name = prof.Connector
	}
	conn, ok := s.core.Connectors[name]
	if !ok {
		writeJSONError(w, http.StatusNotFound, "no such CA connector")
		return
	}
	var chain []*x509.Certificate
	if trust, ok := connector.Capability[connector.TrustChainer](conn); ok {
		// After a renewal, both issuing CAs: certificates of either verify.
		chain, err = trust.TrustChain(r.Context())
	} else {
		chain, err = conn.Chain(r.Context())
	}
	if err != nil {
		p.API.LogError("Could not get a CA chain", "connector", name, "error", err.Error())
		writeJSONError(w, http.StatusBadGateway, "the CA chain is not available right now")
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Header().Set("Content-Disposition", `inline; filename="`+name+`-ca.pem"`)
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(pki.EncodeCertificatesPEM(chain))
}

func pemCertificate(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
