package openid

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
)

// Refusal is a sign-in that did not happen, with a message for the person
// signing in. Compare with errors.Is against the Err… values, which match
// any refusal of their code. The portal shows Message; it logs Error(),
// which adds the cause. Neither ever holds a secret (client secret, code,
// tokens).
type Refusal struct {
	// Code is stable, for logs, metrics and tests.
	Code string
	// Message says what happened and what to do about it.
	Message string
	// Cause is what went wrong underneath, for the log.
	Cause error
}

func (r *Refusal) Error() string {
	if r.Cause != nil {
		return r.Message + " (" + r.Cause.Error() + ")"
	}
	return r.Message
}

func (r *Refusal) Unwrap() error { return r.Cause }

// Is makes errors.Is(err, ErrX) true for every refusal of ErrX's code.
func (r *Refusal) Is(target error) bool {
	t, ok := target.(*Refusal)
	return ok && t.Code == r.Code
}

// The refusals of a sign-in, one per way it fails.
var (
	ErrUnknownFlow = &Refusal{Code: "unknown_flow",
		Message: "This sign-in is unknown, has expired or was already finished. Start again from the sign-in page."}
	ErrOtherBrowser = &Refusal{Code: "other_browser",
		Message: "This sign-in was started in another browser, or this browser refused the portal's cookie. Start again from the sign-in page, in this browser, with cookies allowed."}
	ErrSettingsChanged = &Refusal{Code: "settings_changed",
		Message: "The sign-in settings changed while you were signing in. Start again from the sign-in page."}
	ErrProviderError = &Refusal{Code: "provider_error",
		Message: "The identity provider did not sign you in. Start again, or ask your administrator if it keeps happening."}
	ErrExchangeFailed = &Refusal{Code: "exchange_failed",
		Message: "The identity provider did not accept this sign-in's code. Start again from the sign-in page."}
	ErrInvalidToken = &Refusal{Code: "invalid_token",
		Message: "The identity provider's answer could not be trusted. Ask your administrator to check the provider settings."}
	ErrWrongNonce = &Refusal{Code: "wrong_nonce",
		Message: "The identity provider's answer belongs to another sign-in. Start again from the sign-in page."}
	ErrEmailMissing = &Refusal{Code: "email_missing",
		Message: "The identity provider did not give your email address, which your certificate needs. Ask your administrator to release it to this portal."}
	ErrEmailUnverified = &Refusal{Code: "email_unverified",
		Message: "The identity provider does not vouch that your email address is yours (it is not verified). Verify it with the provider, then sign in again."}
	ErrDomainNotAllowed = &Refusal{Code: "domain_not_allowed",
		Message: "Your email address is not in a domain this portal accepts. Sign in with your organisation's account."}
	ErrGroupMissing = &Refusal{Code: "group_missing",
		Message: "Your account is not in the group allowed to use this portal. Ask your administrator for access."}
	ErrUnreachable = &Refusal{Code: "provider_unreachable",
		Message: "The identity provider could not be reached. Try again in a few minutes; tell your administrator if it lasts."}
)

// refuse is a refusal of base's code that says message, more precisely
// than base ("" says what base says).
func refuse(base *Refusal, message string, cause error) *Refusal {
	if message == "" {
		message = base.Message
	}
	return &Refusal{Code: base.Code, Message: message, Cause: cause}
}

const tryLater = "Try again in a few minutes; tell your administrator if it lasts."

// unreachable is the refusal for a failure to talk to the provider at all
// (a closed port, a refused TLS handshake, no answer in time) while
// reaching what.
func unreachable(what string, err error) *Refusal {
	if isTimeout(err) {
		return refuse(ErrUnreachable, fmt.Sprintf("The identity provider did not answer in time (%s). %s", what, tryLater), err)
	}
	return refuse(ErrUnreachable, fmt.Sprintf("The identity provider could not be reached (%s). %s", what, tryLater), err)
}

// invalidToken is the refusal of an ID token, saying why.
func invalidToken(reason string, cause error) *Refusal {
	return refuse(ErrInvalidToken, "The identity provider's answer could not be trusted: its ID token "+reason+
		". Ask your administrator to check the provider settings.", cause)
}

func isTimeout(err error) bool {
	var netErr net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout())
}

// isTransport reports whether err is a failure to talk to the provider,
// rather than an answer from it.
func isTransport(err error) bool {
	var netErr net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.As(err, &netErr)
}

// providerErrorCode is the provider's error code made safe to show and
// log: an OAuth error code is a short ASCII word; anything else a caller
// put in the URL is cut down to that.
func providerErrorCode(code string) string {
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.' {
			return r
		}
		return -1
	}, code)
	if len(clean) > 40 {
		clean = clean[:40]
	}
	if clean == "" {
		clean = "unnamed error"
	}
	return clean
}

// SettingsError is a provider setting that cannot work; Field is the name
// of the Settings field.
type SettingsError struct {
	Field   string
	Message string
}

func (e *SettingsError) Error() string { return e.Field + ": " + e.Message }
