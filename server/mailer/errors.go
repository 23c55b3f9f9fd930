package mailer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"strings"

	gomail "github.com/wneessen/go-mail"
)

// Kind sorts failures by what the administrator has to do about them.
type Kind int

const (
	// KindUnavailable: the server could not be reached or did not answer in
	// time (refused connection, timeout, TLS handshake failure, a dropped
	// connection, a "421 service not available"). Retrying later may work.
	KindUnavailable Kind = iota + 1
	// KindRejected: the server answered and refused: wrong credentials, a
	// refused sender or recipient, a refused message.
	KindRejected
	// KindMisconfigured: the settings or the message are invalid, so the
	// send was not attempted or cannot work as configured.
	KindMisconfigured
)

func (k Kind) String() string {
	switch k {
	case KindUnavailable:
		return "unavailable"
	case KindRejected:
		return "rejected"
	case KindMisconfigured:
		return "misconfigured"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Error is the error every failure of this package is reported as.
type Error struct {
	Kind Kind
	// Message says what went wrong in words fit for an administrator.
	Message string
	// Err is the underlying cause, if any.
	Err error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return e.Message
	}
	return e.Message + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// AsError returns the *Error in err's chain, or nil if there is none.
func AsError(err error) *Error {
	var mailerErr *Error
	if errors.As(err, &mailerErr) {
		return mailerErr
	}
	return nil
}

func newError(kind Kind, message string, err error) *Error {
	return &Error{Kind: kind, Message: message, Err: err}
}

func misconfigured(message string) *Error {
	return newError(KindMisconfigured, message, nil)
}

// replyServiceUnavailable is the SMTP reply a server gives when it is
// shutting down or overloaded: a reason to retry, not a refusal.
const replyServiceUnavailable = 421

// replyAuthFailed is "535 Authentication credentials invalid" (RFC 4954).
const replyAuthFailed = 535

// classify turns an error from go-mail into an *Error. sendCtx is the
// context the send ran under, to tell a cancellation or timeout from the
// connection error it causes.
func (s *smtpSender) classify(sendCtx context.Context, err error) *Error {
	server := s.settings.address()
	if ctxErr := sendCtx.Err(); ctxErr != nil {
		message := "sending the email was cancelled"
		if errors.Is(ctxErr, context.DeadlineExceeded) {
			message = fmt.Sprintf("the SMTP server %s did not finish in time", server)
		}
		return newError(KindUnavailable, message, fmt.Errorf("%w: %w", ctxErr, err))
	}

	// Errors from sending the message itself carry the server's reply code
	// but do not unwrap to it.
	var sendErr *gomail.SendError
	if errors.As(err, &sendErr) {
		code := sendErr.ErrorCode()
		if code < 400 || code == replyServiceUnavailable {
			return newError(KindUnavailable, fmt.Sprintf("the connection to the SMTP server %s failed", server), err)
		}
		switch sendErr.Reason {
		case gomail.ErrSMTPMailFrom:
			return newError(KindRejected, fmt.Sprintf("the SMTP server %s refused the sender %s", server, s.from.Address), err)
		case gomail.ErrSMTPRcptTo:
			return newError(KindRejected, fmt.Sprintf("the SMTP server %s refused the recipient", server), err)
		}
		return newError(KindRejected, fmt.Sprintf("the SMTP server %s refused the message", server), err)
	}

	// Replies to the commands before the message: EHLO, STARTTLS, AUTH.
	var reply *textproto.Error
	if errors.As(err, &reply) {
		switch reply.Code {
		case replyServiceUnavailable:
			return newError(KindUnavailable, fmt.Sprintf("the SMTP server %s is not available", server), err)
		case replyAuthFailed:
			return newError(KindRejected, fmt.Sprintf("the SMTP server %s refused the username or password", server), err)
		}
		return newError(KindRejected, fmt.Sprintf("the SMTP server %s refused the connection", server), err)
	}

	if errors.Is(err, gomail.ErrNoSupportedAuthDiscovered) {
		return newError(KindMisconfigured,
			fmt.Sprintf("the SMTP server %s offers no authentication method this client supports", server), err)
	}

	var (
		certErr   *tls.CertificateVerificationError
		recordErr tls.RecordHeaderError
		alertErr  tls.AlertError
	)
	if errors.As(err, &certErr) {
		return newError(KindUnavailable,
			fmt.Sprintf("the certificate of the SMTP server %s is not trusted", server), err)
	}
	if errors.As(err, &recordErr) || errors.As(err, &alertErr) {
		return newError(KindUnavailable,
			fmt.Sprintf("the TLS handshake with the SMTP server %s failed (is the connection security right?)", server), err)
	}

	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return newError(KindUnavailable, fmt.Sprintf("cannot connect to the SMTP server %s", server), err)
	}
	return newError(KindUnavailable, fmt.Sprintf("sending through the SMTP server %s failed", server), err)
}

// withoutSecret keeps the password out of the error text. go-mail copies the
// server's replies into its errors, and whatever the server says must not
// bring the password into a log.
func withoutSecret(e *Error, password string) *Error {
	if password == "" || e.Err == nil || !strings.Contains(e.Err.Error(), password) {
		return e
	}
	e.Err = errors.New(strings.ReplaceAll(e.Err.Error(), password, "[password]"))
	return e
}
