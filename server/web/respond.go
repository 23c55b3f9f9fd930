package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
)

// WriteJSON answers v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	WriteStatus(w, status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteJSONError answers an error as every JSON route does.
func WriteJSONError(w http.ResponseWriter, status int, message string) {
	WriteJSON(w, status, map[string]any{"error": message, "status_code": status})
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

// WriteAPIError writes an error as the API answers it: the message, and,
// for a refusal that leaves a step, its name ("next") and the core's
// words for it ("hint").
func WriteAPIError(w http.ResponseWriter, status int, message string, he *Error) {
	body := map[string]any{"error": message, "status_code": status}
	if he != nil {
		if next, ok := apiNext[he.Next]; ok {
			body["next"] = next
		}
		if he.Hint != "" {
			body["hint"] = he.Hint
		}
	}
	WriteJSON(w, status, body)
}

// WriteStatus sends a status other than 200; 200 is what the first Write
// implies. Through the plugin RPC an explicit WriteHeader costs two more
// round trips to the server (its headers, then the status).
func WriteStatus(w http.ResponseWriter, status int) {
	if status != http.StatusOK {
		w.WriteHeader(status)
	}
}

// DecodeOptionalJSON reads a JSON body into v; no body leaves v as it is.
func DecodeOptionalJSON(r *http.Request, v any) error {
	err := json.NewDecoder(r.Body).Decode(v)
	var tooLarge *http.MaxBytesError
	switch {
	case err == nil, errors.Is(err, io.EOF):
		return nil
	case errors.As(err, &tooLarge):
		return &Error{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("the request body is larger than %d bytes", tooLarge.Limit)}
	}
	return &Error{Status: http.StatusBadRequest, Message: "the request body is not valid JSON: " + err.Error()}
}

// WantsJSON reports whether the client asked for JSON (a script posting a
// page's form).
func WantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

// NotModified reports whether a request's If-None-Match names etag, or
// any (RFC 9110 13.1.2: a weak comparison), so that its cached copy is
// the one served now.
func NotModified(r *http.Request, etag string) bool {
	for tag := range strings.SplitSeq(r.Header.Get("If-None-Match"), ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == etag || tag == "*" {
			return true
		}
	}
	return false
}
