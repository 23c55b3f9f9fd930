package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/mattermost/mattermost/server/public/plugin"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
)

// Routes, relative to /plugins/<id>.
const (
	routeCAPEM                = "/ca.pem"
	routeConnectorCAPEM       = "/ca/{connector}.pem"
	routeCRL                  = "/crl/{connector}.crl"
	routeCRLPEM               = "/crl/{connector}.pem"
	routeGenerationCRL        = "/crl/{connector}/{generation:[0-9]+}.crl"
	routeGenerationCRLPEM     = "/crl/{connector}/{generation:[0-9]+}.pem"
	routeOCSP                 = "/ocsp"
	routeIssue                = "/issue"
	routeCSR                  = "/csr"
	routeImport               = "/import"
	routeImportCertificate    = "/certificates/import"
	routeAPI                  = "/api/v1"
	routeLinks                = "/links"
	routeCertificates         = "/certificates"
	routeRevoke               = "/certificates/{serial}/revoke"
	routeRenew                = "/certificates/{serial}/renew"
	routeProfiles             = "/profiles"
	routeRequests             = "/requests"
	routeAutocompleteSerials  = routeAPI + "/autocomplete/serials"
	routeAutocompleteProfiles = routeAPI + "/autocomplete/profiles"
	routeEnrollments          = "/enrollments"
	routeActionApprove        = "/actions/approve"
	routeActionDeny           = "/actions/deny"
	routeDialogDeny           = "/actions/deny/submit"
	routeActionRenew          = "/actions/renew"
)

// Body limits: a form with a token is tiny; nothing the plugin accepts today
// comes close to the general limit.
const (
	maxFormBytes = 16 << 10
	maxBodyBytes = 1 << 20
)

// headerUserID is set by the server, after it has checked the session (and
// CSRF for cookie-authenticated changes); a client cannot forge it.
const headerUserID = "Mattermost-User-Id"

// httpError is an error with the status and message the client gets. Other
// errors become a 500 with a generic message, the details going to the log.
type httpError struct {
	Status  int
	Message string
	// Next is the kind of step left to the user, which pages word
	// (pageNext) and the API names (apiNext); Hint words it where pages
	// have no words of their own.
	Next enroll.Next
	Hint string
	// RetryAfter, when set, tells the client when to try again.
	RetryAfter time.Duration
	Err        error
}

func (e *httpError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s (%v)", e.Status, e.Message, e.Err)
	}
	return fmt.Sprintf("%d %s", e.Status, e.Message)
}

func (e *httpError) Unwrap() error { return e.Err }

// apiHandler serves a JSON route for an authenticated user.
type apiHandler func(w http.ResponseWriter, r *http.Request, userID string) error

// pageHandler serves an HTML page; errors become an error page.
type pageHandler func(w http.ResponseWriter, r *http.Request) error

func (p *Plugin) newRouter() *mux.Router {
	// Paths are taken as they come: an OCSP GET carries base64, which may
	// hold "//", and a cleaned path (with its redirect) would break it.
	r := mux.NewRouter().SkipClean(true)
	r.Use(p.withRecovery, withSecurityHeaders)

	r.HandleFunc(routeCAPEM, p.handleCAPEM).Methods(http.MethodGet)
	r.HandleFunc(routeConnectorCAPEM, p.handleCAPEM).Methods(http.MethodGet)
	r.HandleFunc(routeCRL, p.handleCRL).Methods(http.MethodGet)
	r.HandleFunc(routeCRLPEM, p.handleCRL).Methods(http.MethodGet)
	r.HandleFunc(routeGenerationCRL, p.handleCRL).Methods(http.MethodGet)
	r.HandleFunc(routeGenerationCRLPEM, p.handleCRL).Methods(http.MethodGet)
	r.HandleFunc(routeOCSP, p.handleOCSP).Methods(http.MethodPost)
	r.PathPrefix(routeOCSP + "/").HandlerFunc(p.handleOCSP).Methods(http.MethodGet)
	r.Handle(routeIssue, p.page(p.handleIssuePage)).Methods(http.MethodGet)
	r.Handle(routeIssue, p.page(p.handleIssueSubmit)).Methods(http.MethodPost)
	r.Handle(routeCSR, p.page(p.handleCSRPage)).Methods(http.MethodGet)
	r.Handle(routeCSR, p.pageWithLimit(p.handleCSRSubmit, maxUploadBytes)).Methods(http.MethodPost)
	r.Handle(routeImport, p.page(p.handleImportPage)).Methods(http.MethodGet)
	r.Handle(routeImport, p.pageWithLimit(p.handleImportSubmit, maxUploadBytes)).Methods(http.MethodPost)

	api := r.PathPrefix(routeAPI).Subrouter()
	api.Handle(routeLinks, p.api(p.handleCreateLink)).Methods(http.MethodPost)
	api.Handle(routeCSR, p.api(p.handleSignCSR)).Methods(http.MethodPost)
	api.Handle(routeEnrollments, p.api(p.handleEnroll)).Methods(http.MethodPost)
	api.Handle(routeCertificates, p.api(p.handleListCertificates)).Methods(http.MethodGet)
	api.Handle(routeImportCertificate, p.api(p.handleImportCertificate)).Methods(http.MethodPost)
	api.Handle(routeRevoke, p.api(p.handleRevokeCertificate)).Methods(http.MethodPost)
	api.Handle(routeRenew, p.api(p.handleRenewCertificate)).Methods(http.MethodPost)
	api.Handle(routeProfiles, p.api(p.handleListProfiles)).Methods(http.MethodGet)
	api.Handle(routeRequests, p.api(p.handleListRequests)).Methods(http.MethodGet)
	api.Handle(routeAdminCertificates, p.api(p.handleAdminCertificates)).Methods(http.MethodGet)
	api.Handle(routeAdminCounts, p.api(p.handleAdminCounts)).Methods(http.MethodGet)
	api.Handle(routeAdminExport, p.api(p.handleAdminExport)).Methods(http.MethodGet)
	api.Handle(routeAdminCertificate, p.api(p.handleAdminCertificate)).Methods(http.MethodGet)
	api.Handle(routeAdminCARenew, p.api(p.handleAdminCARenew)).Methods(http.MethodPost)
	r.Handle(routeActionApprove, p.api(p.handleApproveAction)).Methods(http.MethodPost)
	r.Handle(routeActionDeny, p.api(p.handleDenyAction)).Methods(http.MethodPost)
	r.Handle(routeDialogDeny, p.api(p.handleDenyDialog)).Methods(http.MethodPost)
	r.Handle(routeActionRenew, p.api(p.handleRenewAction)).Methods(http.MethodPost)
	r.Handle(routeAutocompleteSerials, p.api(p.handleAutocompleteSerials)).Methods(http.MethodGet)
	r.Handle(routeAutocompleteProfiles, p.api(p.handleAutocompleteProfiles)).Methods(http.MethodGet)

	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSONError(w, http.StatusNotFound, "not found")
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSONError(w, http.StatusMethodNotAllowed, "method not allowed")
	})
	return r
}

// ServeHTTP routes requests to /plugins/<id>/...
func (p *Plugin) ServeHTTP(_ *plugin.Context, w http.ResponseWriter, r *http.Request) {
	if p.router == nil {
		writeJSONError(w, http.StatusServiceUnavailable, "the plugin is starting")
		return
	}
	p.router.ServeHTTP(w, r)
}

// withRecovery turns a panic into a 500 and a log line with the stack, so a
// bug in one request neither kills the plugin nor goes unseen.
func (p *Plugin) withRecovery(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if rec := recover(); rec != nil {
				p.API.LogError("Recovered from a panic", "url", r.URL.Path, "error", fmt.Sprint(rec), "stack", string(debug.Stack()))
				writeJSONError(w, http.StatusInternalServerError, "internal error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// withSecurityHeaders applies to every response: nothing is sniffed, framed,
// cached, or leaks a link token through the Referer header.
func withSecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// api wraps a JSON handler: the user must be signed in to Mattermost, bodies
// are bounded, and errors are JSON.
func (p *Plugin) api(h apiHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		userID := r.Header.Get(headerUserID)
		if userID == "" {
			writeJSONError(w, http.StatusUnauthorized, "not signed in to Mattermost (or the CSRF token is missing)")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		if err := h(w, r, userID); err != nil {
			status, message := p.describeError(w, r, err)
			writeAPIError(w, status, message, asHTTPError(err))
		}
	})
}

// page wraps an HTML handler: errors become an error page.
func (p *Plugin) page(h pageHandler) http.Handler {
	return p.pageWithLimit(h, maxFormBytes)
}

// pageWithLimit is page for a form that uploads more than a token. A client
// that asks for JSON gets its errors as JSON.
func (p *Plugin) pageWithLimit(h pageHandler, maxBytes int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBytes)
		if err := h(w, r); err != nil {
			status, message := p.describeError(w, r, err)
			he := asHTTPError(err)
			if wantsJSON(r) {
				// A script posting the page's form reads the error as
				// the API's.
				writeAPIError(w, status, message, he)
				return
			}
			p.renderError(w, status, message, pageHint(he))
		}
	})
}

// describeError maps an error to a status and a message for the client,
// sets the headers that go with it, and logs what the client must not see.
func (p *Plugin) describeError(w http.ResponseWriter, r *http.Request, err error) (int, string) {
	if he := asHTTPError(err); he != nil {
		if he.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(he.RetryAfter.Round(time.Second)/time.Second)))
			p.API.LogWarn("Turned a request away for a moment", "method", r.Method, "url", r.URL.Path, "status", he.Status, "reason", he.Message)
			return he.Status, he.Message
		}
		if he.Status >= http.StatusInternalServerError {
			p.API.LogError("Request failed", "method", r.Method, "url", r.URL.Path, "status", he.Status, "error", he.Error())
		}
		return he.Status, he.Message
	}
	p.API.LogError("Request failed", "method", r.Method, "url", r.URL.Path, "error", err.Error())
	return http.StatusInternalServerError, "internal error; the details are in the server log"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	writeStatus(w, status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeJSONError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, map[string]any{"error": message, "status_code": status})
}

// apiNext names, for API clients, the steps refusals leave.
var apiNext = map[enroll.Next]string{
	enroll.NextNewLink:       "new_link",
	enroll.NextChooseProfile: "choose_profile",
	enroll.NextUseCSR:        "use_csr",
	enroll.NextAskApproval:   "ask_approval",
	enroll.NextSeeRequests:   "see_requests",
	enroll.NextFreeASlot:     "free_a_slot",
	enroll.NextNewKey:        "new_key",
	enroll.NextTryAgain:      "try_again",
	enroll.NextTryLater:      "try_later",
	enroll.NextAskAdmin:      "ask_admin",
}

// writeAPIError writes an error as the API answers it: the message, and,
// for a refusal that leaves a step, its name ("next") and the core's
// words for it ("hint").
func writeAPIError(w http.ResponseWriter, status int, message string, he *httpError) {
	body := map[string]any{"error": message, "status_code": status}
	if he != nil {
		if next, ok := apiNext[he.Next]; ok {
			body["next"] = next
		}
		if he.Hint != "" {
			body["hint"] = he.Hint
		}
	}
	writeJSON(w, status, body)
}

// pageNext words, on the plugin's pages, the steps refusals leave; a step
// with no words here is told in the core's (its Hint). The pages are
// opened from Mattermost, so they point back there.
var pageNext = map[enroll.Next]string{
	enroll.NextNewLink:     "Run /cert download (or /cert csr) in Mattermost to get a new link.",
	enroll.NextUseCSR:      "Run /cert csr in Mattermost to upload a request for your device's key.",
	enroll.NextAskApproval: "Run /cert download in Mattermost to ask for one.",
	enroll.NextSeeRequests: "Run /cert list in Mattermost to see your requests.",
	enroll.NextFreeASlot:   "Revoke one you no longer use (/cert revoke <serial> superseded in Mattermost), then ask again.",
	enroll.NextTryAgain:    "Your link still works: try again in a minute, and contact your administrator if it keeps failing.",
}

// pageHint is what an error page says to do next.
func pageHint(he *httpError) string {
	if he == nil {
		return ""
	}
	if next, ok := pageNext[he.Next]; ok {
		return next
	}
	return he.Hint
}

// writeStatus sends a status other than 200; 200 is what the first Write
// implies. Through the plugin RPC an explicit WriteHeader costs two more
// round trips to the server (its headers, then the status).
func writeStatus(w http.ResponseWriter, status int) {
	if status != http.StatusOK {
		w.WriteHeader(status)
	}
}

// statusOf is the HTTP status of each kind of refusal of the core.
var statusOf = map[enroll.Code]int{
	enroll.CodeInternal:    http.StatusInternalServerError,
	enroll.CodeInvalid:     http.StatusBadRequest,
	enroll.CodeRefused:     http.StatusUnprocessableEntity,
	enroll.CodeForbidden:   http.StatusForbidden,
	enroll.CodeNotFound:    http.StatusNotFound,
	enroll.CodeConflict:    http.StatusConflict,
	enroll.CodeGone:        http.StatusGone,
	enroll.CodeBusy:        http.StatusServiceUnavailable,
	enroll.CodeUnavailable: http.StatusServiceUnavailable,
	enroll.CodeBadGateway:  http.StatusBadGateway,
}

// asHTTPError is err as the client gets it: an *httpError as it is, a
// refusal of the core with its status; nil for anything else (a 500 whose
// details go to the log).
func asHTTPError(err error) *httpError {
	var he *httpError
	if errors.As(err, &he) {
		return he
	}
	if e := enroll.AsError(err); e != nil {
		return &httpError{Status: statusOf[e.Code], Message: e.Message, Next: e.Next, Hint: e.Hint, RetryAfter: e.RetryAfter, Err: e.Err}
	}
	return nil
}

// notModified reports whether a request's If-None-Match names etag, or
// any (RFC 9110 13.1.2: a weak comparison), so that its cached copy is
// the one served now.
func notModified(r *http.Request, etag string) bool {
	for tag := range strings.SplitSeq(r.Header.Get("If-None-Match"), ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == etag || tag == "*" {
			return true
		}
	}
	return false
}
