package enroll

import (
	"errors"
	"fmt"
	"time"
)

// Code says what kind of refusal an Error is, so that each front door can
// answer in its own terms (an HTTP status, a page, a chat reply).
type Code int

const (
	// CodeInternal is a failure of ours; the details belong in the log.
	CodeInternal Code = iota
	// CodeInvalid is input that cannot be read (a malformed link or form).
	CodeInvalid
	// CodeRefused is input that was read and refused: a CSR that breaks its
	// profile, a certificate that cannot be registered.
	CodeRefused
	// CodeForbidden is a requester who may not do this.
	CodeForbidden
	// CodeNotFound is something that does not exist, or is not the
	// requester's (the two are not told apart).
	CodeNotFound
	// CodeConflict is a state that does not allow it: a used link, a key
	// already certified, a request already decided.
	CodeConflict
	// CodeGone is something that expired or was removed.
	CodeGone
	// CodeBusy is a moment of overload: try again after RetryAfter.
	CodeBusy
	// CodeUnavailable is a service we depend on that cannot serve now (the
	// CA, the plugin's own settings).
	CodeUnavailable
	// CodeBadGateway is a CA that answered, but not as it should.
	CodeBadGateway
)

// Error is a refusal worded for the requester. Message says what happened,
// Hint what they can do next; Err keeps the cause for the log.
type Error struct {
	Code       Code
	Message    string
	Hint       string
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s (%v)", e.Message, e.Err)
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// AsError returns err as an *Error, or nil.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

func refuse(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// withHint returns a copy of e that says what to do next.
func (e *Error) withHint(hint string) *Error {
	c := *e
	c.Hint = hint
	return &c
}
