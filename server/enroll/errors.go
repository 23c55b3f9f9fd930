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
	// CodeTooMany is one requester trying too often (failed sign-ins):
	// wait RetryAfter.
	CodeTooMany
)

// Next is the kind of step a refusal leaves the requester, for each door
// to word in its own terms: a command to run, a place to go, an API field.
type Next int

const (
	// NextNone: nothing the requester can do, or nothing to add to the
	// message.
	NextNone Next = iota
	// NextNewLink: this link cannot serve any more; get a new one.
	NextNewLink
	// NextChooseProfile: ask for a profile the requester may use (the
	// Hint names them).
	NextChooseProfile
	// NextUseCSR: the profile wants a key made in a hardware device: send
	// a certificate signing request of one.
	NextUseCSR
	// NextAskApproval: ask again, for a certificate an approver decides.
	NextAskApproval
	// NextSeeRequests: the requester's requests say where this one stands.
	NextSeeRequests
	// NextFreeASlot: revoke or renew one of the requester's certificates
	// of the profile, then ask again.
	NextFreeASlot
	// NextNewKey: make a new key; this one is never certified again.
	NextNewKey
	// NextTryAgain: nothing was used up (a link still works); try the same
	// again in a moment.
	NextTryAgain
	// NextTryLater: a limit holds until time passes.
	NextTryLater
	// NextAskAdmin: only an administrator can change what stands in the
	// way.
	NextAskAdmin
)

// Error is a refusal worded for the requester. Message says what
// happened. Next is the kind of step left to them, which a door words its
// own way where it can (a command, a page); Hint is the core's neutral
// wording of it, for a door that has no words of its own, with what only
// the core knows (which profiles). Err keeps the cause for the log.
type Error struct {
	Code       Code
	Message    string
	Next       Next
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
