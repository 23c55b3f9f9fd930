package web

import (
	"net/http"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// Authenticator says who sent a request: the principal of its session, or
// an *Error (401) when it has none. Each door is mounted with one: the
// Mattermost session today, the portal's own session next.
type Authenticator func(r *http.Request) (records.Principal, error)

// MattermostUserHeader is set by the Mattermost server, after it has
// checked the session (and CSRF for cookie-authenticated changes); a
// client cannot forge it.
const MattermostUserHeader = "Mattermost-User-Id"

// MattermostSession authenticates a request the Mattermost server passed
// on: its signed-in user.
func MattermostSession(r *http.Request) (records.Principal, error) {
	userID := r.Header.Get(MattermostUserHeader)
	if userID == "" {
		return "", &Error{Status: http.StatusUnauthorized, Message: "not signed in to Mattermost (or the CSRF token is missing)"}
	}
	return records.MattermostUser(userID), nil
}

// APIHandler serves a JSON route for an authenticated caller.
type APIHandler func(w http.ResponseWriter, r *http.Request, caller records.Principal) error

// PageHandler serves an HTML page; errors become an error page.
type PageHandler func(w http.ResponseWriter, r *http.Request) error

// API wraps a JSON handler: the caller must be authenticated, bodies are
// bounded, and errors are JSON.
func API(log Logger, auth Authenticator, h APIHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller, err := auth(r)
		if err == nil {
			r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
			err = h(w, r, caller)
		}
		if err != nil {
			status, message := Describe(log, w, r, err)
			WriteAPIError(w, status, message, AsError(err))
		}
	})
}

// Page wraps an HTML handler whose body is at most maxBytes: errors become
// an error page, or JSON for a client that asks for JSON.
func Page(log Logger, pages *Pages, maxBytes int64, h PageHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBytes)
		if err := h(w, r); err != nil {
			status, message := Describe(log, w, r, err)
			he := AsError(err)
			if WantsJSON(r) {
				// A script posting the page's form reads the error as
				// the API's.
				WriteAPIError(w, status, message, he)
				return
			}
			pages.RenderError(w, status, message, pages.Hint(he))
		}
	})
}

// Callers resolves an authenticated principal to the services in use and
// the requester it is, through the directory of its kind.
type Callers struct {
	Current *app.Current
	Lookup  func(records.Principal) (*enroll.Requester, error)
}

// Resolve is the services and the requester of caller.
func (c *Callers) Resolve(caller records.Principal) (*app.Snapshot, *enroll.Requester, error) {
	s, err := c.Current.Get()
	if err != nil {
		return nil, nil, err
	}
	r, err := c.Lookup(caller)
	if err != nil {
		return nil, nil, err
	}
	return s, r, nil
}
