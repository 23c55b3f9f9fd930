// Package web is the HTTP kit every front door shares: errors turned into
// statuses and words, JSON and page responders, the middleware every route
// runs under, and the authenticator that says who is calling. It knows the
// enrollment core's refusals and nothing of any door.
package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// Error is an error with the status and message the client gets. Other
// errors become a 500 with a generic message, the details going to the log.
type Error struct {
	Status  int
	Message string
	// Next is the kind of step left to the user, which the API names
	// ("next") and each door's pages word; Hint words it where a door has
	// no words of its own.
	Next enroll.Next
	Hint string
	// RetryAfter, when set, tells the client when to try again.
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s (%v)", e.Status, e.Message, e.Err)
	}
	return fmt.Sprintf("%d %s", e.Status, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// StatusOf is the HTTP status of each kind of refusal of the core.
var StatusOf = map[enroll.Code]int{
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
	enroll.CodeTooMany:     http.StatusTooManyRequests,
}

// AsError is err as the client gets it: an *Error as it is, a plugin
// that cannot serve now as a 503, a refusal of the core with its status; nil for anything else (a 500 whose details go
// to the log).
func AsError(err error) *Error {
	var he *Error
	if errors.As(err, &he) {
		return he
	}
	var notReady *app.ErrNotReady
	if errors.As(err, &notReady) {
		return &Error{Status: http.StatusServiceUnavailable, Message: err.Error()}
	}
	if e := enroll.AsError(err); e != nil {
		return &Error{Status: StatusOf[e.Code], Message: e.Message, Next: e.Next, Hint: e.Hint, RetryAfter: e.RetryAfter, Err: e.Err}
	}
	var moved *records.ErrTransition
	if errors.As(err, &moved) {
		// A request decided, withdrawn or issued meanwhile: its state now.
		return &Error{Status: http.StatusConflict, Message: "This request is " + string(moved.From) + ".", Err: err}
	}
	return nil
}

// Logger is the server's log.
type Logger interface {
	LogWarn(msg string, keyValuePairs ...any)
	LogError(msg string, keyValuePairs ...any)
}

// Describe maps an error to a status and a message for the client, sets
// the headers that go with it, and logs what the client must not see.
func Describe(log Logger, w http.ResponseWriter, r *http.Request, err error) (int, string) {
	if he := AsError(err); he != nil {
		if he.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(he.RetryAfter.Round(time.Second)/time.Second)))
			log.LogWarn("Turned a request away for a moment", "method", r.Method, "url", r.URL.Path, "status", he.Status, "reason", he.Message)
			return he.Status, he.Message
		}
		if he.Status >= http.StatusInternalServerError {
			log.LogError("Request failed", "method", r.Method, "url", r.URL.Path, "status", he.Status, "error", he.Error())
		}
		return he.Status, he.Message
	}
	log.LogError("Request failed", "method", r.Method, "url", r.URL.Path, "error", err.Error())
	return http.StatusInternalServerError, "internal error; the details are in the server log"
}
