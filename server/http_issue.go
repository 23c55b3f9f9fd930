package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/clientcerts/mattermost-plugin-certs/server/admission"
	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

// hintNewLink is what to do after any problem with a link.
const hintNewLink = "Run /cert download (or /cert csr) in Mattermost to get a new link."

// issueTimeout bounds one issuance, CA round trip included.
const issueTimeout = 60 * time.Second

// tokenMarkGrace keeps the "used" mark of a link past the link's own expiry,
// so a token can never be accepted twice across clock differences.
const tokenMarkGrace = 10 * time.Minute

// linkRequest is a checked link: its claims and the user it was minted for.
type linkRequest struct {
	services  *services
	claims    *linktoken.Claims
	user      *model.User
	profile   *profile.Profile
	connector connector.Connector
	// request is the approved request a pickup link collects, if any.
	request *store.Request
}

// collectsCSR reports a pickup link of an approved CSR request: it signs
// the uploaded key, and makes none.
func (l *linkRequest) collectsCSR() bool {
	return l.request != nil && l.request.CSRPEM != ""
}

// checkLink validates a link token without consuming it: signature, lifetime,
// purpose, the account it names, and the browser's own session if it has one.
func (p *Plugin) checkLink(r *http.Request, token string, purpose linktoken.Purpose) (*linkRequest, error) {
	s, err := p.getServices()
	if err != nil {
		return nil, &httpError{Status: http.StatusServiceUnavailable, Message: err.Error(), Hint: "Try again later or contact your administrator."}
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return nil, &httpError{Status: http.StatusBadRequest, Message: "This page needs the link from /cert download; the link you opened has no token.", Hint: hintNewLink}
	}
	claims, err := s.minter.Verify(token, purpose)
	switch {
	case errors.Is(err, linktoken.ErrExpired):
		return nil, &httpError{Status: http.StatusGone, Message: "This link has expired.", Hint: hintNewLink}
	case err != nil:
		return nil, &httpError{Status: http.StatusBadRequest, Message: "This link is not valid. It may be incomplete or altered.", Hint: hintNewLink, Err: err}
	}
	if sessionUser := r.Header.Get(headerUserID); sessionUser != "" && sessionUser != claims.UserID() {
		return nil, &httpError{Status: http.StatusForbidden,
			Message: "This link belongs to another Mattermost user than the one signed in to this browser.",
			Hint:    "Open the link in the browser where you are signed in as yourself, or run /cert download as yourself."}
	}
	user, appErr := p.API.GetUser(claims.UserID())
	if appErr != nil || user.DeleteAt != 0 || user.IsBot {
		return nil, &httpError{Status: http.StatusForbidden, Message: "The account this link was made for cannot receive certificates.", Hint: "Contact your administrator."}
	}
	prof, conn, ok := s.profileNamed(claims.Profile)
	if !ok {
		return nil, &httpError{Status: http.StatusGone, Message: "The certificate profile this link was made for no longer exists.", Hint: hintNewLink}
	}
	if !p.mayUse(user.Id, prof) {
		return nil, &httpError{Status: http.StatusForbidden, Message: "You may no longer get certificates of this profile.", Hint: "Run /cert profiles in Mattermost to see the ones you can get."}
	}
	link := &linkRequest{services: s, claims: claims, user: user, profile: prof, connector: conn}
	if purpose == linktoken.PurposeCSR {
		// An upload for an approval profile becomes the request.
		return link, nil
	}
	if claims.Request == "" {
		if !prof.ServerKeysAllowed() {
			return nil, &httpError{Status: http.StatusForbidden, Message: "Certificates of this profile need a key made in a hardware device.", Hint: "Run /cert csr in Mattermost to upload a request for your device's key."}
		}
		if prof.RequiresApproval {
			return nil, &httpError{Status: http.StatusForbidden, Message: "Certificates of this profile now need an approver.", Hint: "Run /cert download in Mattermost to ask for one."}
		}
		return link, nil
	}
	req, err := p.pickupRequest(claims)
	var te *store.ErrTransition
	switch {
	case errors.Is(err, errRequestNotFound):
		return nil, &httpError{Status: http.StatusNotFound, Message: "The certificate request of this link does not exist.", Hint: hintNewLink}
	case errors.As(err, &te):
		return nil, &httpError{Status: http.StatusConflict, Message: fmt.Sprintf("This certificate request is %s.", te.From), Hint: "Run /cert list in Mattermost to see your requests."}
	case err != nil:
		return nil, err
	}
	if req.Profile != prof.Name {
		return nil, &httpError{Status: http.StatusBadRequest, Message: "This link is not valid.", Hint: hintNewLink}
	}
	link.request = req
	return link, nil
}

// errLinkUsed explains a link whose token has been consumed, here or in
// another tab or window (which may still be creating the certificate).
var errLinkUsed = &httpError{Status: http.StatusConflict,
	Message: "This link has already been used, in this window or another one. Each link creates one certificate.", Hint: hintNewLink}

// checkLinkUnused refuses a link that was used or is being used.
func (p *Plugin) checkLinkUnused(link *linkRequest) error {
	used, err := p.store.TokenUsed(link.claims.ID)
	if err != nil {
		return err
	}
	if used {
		return errLinkUsed
	}
	return nil
}

// handleIssuePage shows what the link will create. It never consumes the
// token: link previews and mail scanners fetch links with GET.
func (p *Plugin) handleIssuePage(w http.ResponseWriter, r *http.Request) error {
	link, err := p.checkLink(r, r.URL.Query().Get("token"), linktoken.PurposeIssue)
	if err != nil {
		return err
	}
	if err := p.checkLinkUnused(link); err != nil {
		return err
	}
	prof := link.profile
	subject := subjectFor(link.user, prof)
	ownKey := link.collectsCSR()
	keyType := prof.GeneratedKeyType()
	if ownKey {
		keyType = pki.KeyType(link.request.KeyType)
	}
	return p.renderPage(w, http.StatusOK, "confirm", confirmPage{
		OwnKey:      ownKey,
		Username:    link.user.Username,
		Profile:     prof.Name,
		Description: prof.Description,
		CommonName:  subject.CommonName,
		Emails:      subject.Emails,
		KeyType:     keyType.Label(),
		Validity:    prof.ValidityDays,
		Formats:     p12Choices(link.services.p12Format),
		Email:       emailChoice(link.services.config, link.user),
		Token:       r.URL.Query().Get("token"),
		ExpiresAt:   link.claims.ExpiresAt.UTC().Format(time.RFC1123),
		SubmitLabel: "Create certificate",
	})
}

// retryBusyAfter is what a request turned away as busy is told to wait.
const retryBusyAfter = 5 * time.Second

// errBusyCreatingKeys turns away a request while too many slow keys (RSA)
// wait to be generated.
var errBusyCreatingKeys = &httpError{Status: http.StatusServiceUnavailable, RetryAfter: retryBusyAfter,
	Message: "The server is busy creating other keys right now.", Hint: "Your link still works: try again in a moment."}

// issueResponse is the JSON form of a successful POST /issue.
type issueResponse struct {
	Serial     string    `json:"serial"`
	Filename   string    `json:"filename"`
	Passphrase string    `json:"passphrase"`
	PKCS12     string    `json:"pkcs12"`
	NotAfter   time.Time `json:"not_after"`
	// CertificatePEM is the certificate and its chain; KeyPEM the key,
	// encrypted with the passphrase, when the form asked key_pem=true;
	// CertificateDER the certificate alone.
	CertificatePEM string `json:"certificate_pem"`
	KeyPEM         string `json:"key_pem,omitempty"`
	CertificateDER string `json:"certificate_der"`
	// EmailedTo is where the PKCS#12 was emailed; EmailError why it was
	// not, when the user asked for it.
	EmailedTo  string `json:"emailed_to,omitempty"`
	EmailError string `json:"email_error,omitempty"`
}

// handleIssueSubmit consumes the token exactly once and creates the
// certificate. The response is the only place the key ever exists.
func (p *Plugin) handleIssueSubmit(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return &httpError{Status: http.StatusBadRequest, Message: "The form could not be read.", Hint: hintNewLink, Err: err}
	}
	link, err := p.checkLink(r, r.PostForm.Get("token"), linktoken.PurposeIssue)
	if err != nil {
		return err
	}
	// The admin's format is the default; the user may pick the other one
	// (AES for OpenSSL 3/NSS/Windows 10+, 3DES for macOS and older systems).
	format := link.services.p12Format
	if requested := r.PostForm.Get("format"); requested != "" {
		if format, err = pki.ParsePKCS12Format(requested); err != nil {
			return &httpError{Status: http.StatusBadRequest, Message: "Unknown file format; choose compatible or modern.", Hint: "Go back and choose a file format."}
		}
	}

	opts := issueOptions{format: format, keyPEM: formFlag(r.PostForm.Get("key_pem"))}

	// A place in line for the key comes before the link is claimed: a
	// request turned away as busy leaves the link as it was.
	var keyWork *admission.Ticket
	if !link.collectsCSR() {
		if keyWork, err = p.admitKeyGeneration(keyToGenerate(link.profile, link.request)); err != nil {
			return errBusyCreatingKeys
		}
		defer keyWork.Release()
	}

	tokenID := link.claims.ID
	markTTL := link.claims.ExpiresAt.Sub(p.now()) + tokenMarkGrace
	// A pickup also claims its request, so that two pickup links of one
	// request (`/cert pickup` twice) cannot both issue.
	marks := []string{tokenID}
	if link.request != nil {
		marks = append(marks, "pickup:"+link.request.ID)
	}
	if err := p.claimAll(marks, markTTL); err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(r.Context(), issueTimeout)
	defer cancel()
	if link.collectsCSR() {
		return p.collectCSRPickup(ctx, w, r, link, marks)
	}
	issued, err := p.issueWithServerKey(ctx, link.services, link.user, link.profile, link.connector, link.request, keyWork, opts)
	var waiting *errWaitingForCA
	if errors.As(err, &waiting) {
		// The link did its job: the CA holds the request now.
		return p.respondWaitingForCA(w, wantsJSON(r), link.user, link.connector, waiting.Request)
	}
	if err != nil {
		// Nothing was issued: give the link back so the user can retry
		// while it is valid.
		p.releaseAll(marks)
		p.API.LogWarn("A certificate could not be issued", "user_id", link.user.Id, "profile", link.profile.Name,
			"connector", link.connector.Name(), "error", err.Error())
		return issuanceError(err)
	}
	p.markRequestIssued(link.request, issued.Record.Serial)
	p.API.LogInfo("Certificate issued", "user_id", link.user.Id, "serial", issued.Record.Serial, "connector", issued.Record.Connector, "not_after", issued.Record.NotAfter.UTC().Format(time.RFC3339))
	p.notifyIssued(link.user, issued.Record)
	// The file is on this page whatever happens to the email, so a mail
	// server that is down loses nothing.
	var emailedTo, emailError string
	if formFlag(r.PostForm.Get("email")) && link.services.config.EmailDelivery != emailDeliveryOff {
		if err := p.emailCertificate(ctx, link.services, link.user, issued); err != nil {
			emailError = capitalize(err.Error()) + "."
			p.API.LogWarn("Could not email a certificate", "user_id", link.user.Id, "serial", issued.Record.Serial, "error", errorChain(err))
		} else {
			emailedTo = link.user.Email
		}
	}

	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, issueResponse{
			Serial:     issued.Record.Serial,
			Filename:   issued.Filename,
			Passphrase: issued.Passphrase,
			PKCS12:     base64.StdEncoding.EncodeToString(issued.PKCS12),
			NotAfter:   issued.Record.NotAfter,

			CertificatePEM: string(issued.CertificatePEM),
			KeyPEM:         string(issued.KeyPEM),
			CertificateDER: base64.StdEncoding.EncodeToString(issued.Record.DER),
			EmailedTo:      emailedTo,
			EmailError:     emailError,
		})
		return nil
	}
	return p.renderPage(w, http.StatusOK, "issued", issuedPage{
		Username:   link.user.Username,
		Serial:     issued.Record.Serial,
		Subject:    issued.Record.Subject,
		NotAfter:   issued.Record.NotAfter.UTC().Format(time.RFC1123),
		Passphrase: issued.Passphrase,
		Filename:   issued.Filename,
		DataURL:    template.URL(dataURL("application/x-pkcs12", issued.PKCS12)), // #nosec G203 -- our own base64, not user input
		Base:       fileBase(link.user.Username),
		CertPEMURL: template.URL(dataURL("application/x-pem-file", issued.CertificatePEM)), // #nosec G203 -- our own base64
		KeyPEMURL:  keyPEMURL(issued.KeyPEM),
		CertDERURL: template.URL(dataURL("application/pkix-cert", issued.Record.DER)), // #nosec G203 -- our own base64
		CAURL:      p.siteURL() + "/plugins/" + manifest.Id + "/ca/" + link.connector.Name() + ".pem",
		EmailedTo:  emailedTo,
		EmailError: emailError,
	})
}

// formFlag reads a yes/no form field: a ticked checkbox, or true in
// scripts.
func formFlag(v string) bool {
	return v == "on" || v == "true" || v == "1"
}

// errorChain is an error with its causes, for the log.
func errorChain(err error) string {
	if cause := errors.Unwrap(err); cause != nil {
		return err.Error() + ": " + cause.Error()
	}
	return err.Error()
}

// respondWaitingForCA tells the user the CA holds their request.
func (p *Plugin) respondWaitingForCA(w http.ResponseWriter, asJSON bool, user *model.User, conn connector.Connector, req *store.Request) error {
	p.API.LogInfo("The CA left a certificate request pending", "user_id", user.Id, "request", req.ID, "connector", conn.Name())
	p.notifyUser(user, "Certificate request waiting for the CA", fmt.Sprintf(
		"The certificate authority must approve your request `%s`. You will get a message with a link to collect the certificate when it does; `/cert cancel %s` withdraws it.",
		req.ID, req.ID))
	if asJSON {
		writeJSON(w, http.StatusAccepted, map[string]any{"request_id": req.ID, "state": req.State})
		return nil
	}
	return p.renderPage(w, http.StatusAccepted, "error", errorPage{Status: http.StatusAccepted, Title: "Waiting for the certificate authority",
		Message: "The certificate authority must approve this request (" + req.ID + ").",
		Hint:    "You will get a message in Mattermost with a link to collect the certificate when it does."})
}

// markRequestIssued closes a collected request.
func (p *Plugin) markRequestIssued(req *store.Request, serial string) {
	if req == nil {
		return
	}
	if _, err := p.store.MoveRequest(req.ID, p.now(), nil, store.RequestIssued, func(r *store.Request) error {
		r.Serial = serial
		r.PendingKey = nil
		return nil
	}); err != nil {
		p.API.LogError("Could not mark a request as issued", "request", req.ID, "serial", serial, "error", err.Error())
	}
}

// claimAll claims every mark or none: a link already used (or being used)
// is reported as such. A claim is final unless the issuance fails and
// releaseAll gives it back.
func (p *Plugin) claimAll(marks []string, ttl time.Duration) error {
	for i, mark := range marks {
		claimed, err := p.store.ClaimToken(mark, ttl)
		if err == nil && claimed {
			continue
		}
		p.releaseAll(marks[:i])
		if err != nil {
			return err
		}
		return errLinkUsed
	}
	return nil
}

func (p *Plugin) releaseAll(marks []string) {
	for _, mark := range marks {
		if err := p.store.ReleaseToken(mark); err != nil {
			p.API.LogError("Could not release a link after a failed issuance", "error", err.Error())
		}
	}
}

// issuanceError tells the user what went wrong without internals.
func issuanceError(err error) error {
	if ce := connector.AsError(err); ce != nil {
		switch ce.Kind {
		case connector.KindUnavailable:
			return &httpError{Status: http.StatusServiceUnavailable, Message: "The certificate authority could not be reached.", Hint: "Your link still works: try again in a minute.", Err: err}
		case connector.KindRejected:
			return &httpError{Status: http.StatusUnprocessableEntity, Message: "The certificate authority refused the request: " + ce.Message + ".", Hint: "Contact your administrator.", Err: err}
		default:
			return &httpError{Status: http.StatusBadGateway, Message: "The certificate authority is not set up correctly.", Hint: "Your link still works; contact your administrator.", Err: err}
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return &httpError{Status: http.StatusServiceUnavailable, Message: "Creating the certificate took too long.", Hint: "Your link still works: try again in a minute.", Err: err}
	}
	return &httpError{Status: http.StatusInternalServerError, Message: "The certificate could not be created.", Hint: "Your link still works: try again, and contact your administrator if it keeps failing.", Err: err}
}

func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
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
