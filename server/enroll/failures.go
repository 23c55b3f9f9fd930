package enroll

import (
	"context"
	"errors"
	"strings"

	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
)

// IssuanceError words a failed issuance for the requester, keeping the
// cause for the log. A refusal of ours passes as it is. Nothing was used
// up by a failed issuance (a link is given back), hence NextTryAgain.
func IssuanceError(err error) error {
	if e := AsError(err); e != nil {
		return e
	}
	if ce := connector.AsError(err); ce != nil {
		switch ce.Kind {
		case connector.KindUnavailable:
			return &Error{Code: CodeUnavailable, Message: "The certificate authority could not be reached.", Next: NextTryAgain, Hint: "Try again in a minute.", Err: err}
		case connector.KindRejected:
			return &Error{Code: CodeRefused, Message: "The certificate authority refused the request: " + strings.TrimSuffix(ce.Message, ".") + ".",
				Next: NextAskAdmin, Hint: "Contact your administrator.", Err: err}
		default:
			return &Error{Code: CodeBadGateway, Message: "The certificate authority is not set up correctly.", Next: NextAskAdmin, Hint: "Contact your administrator.", Err: err}
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return &Error{Code: CodeUnavailable, Message: "Creating the certificate took too long.", Next: NextTryAgain, Hint: "Try again in a minute.", Err: err}
	}
	return &Error{Code: CodeInternal, Message: "The certificate could not be created.", Next: NextTryAgain,
		Hint: "Try again, and contact your administrator if it keeps failing.", Err: err}
}

// errorChain is an error with its causes, for the log.
func errorChain(err error) string {
	if cause := errors.Unwrap(err); cause != nil {
		return err.Error() + ": " + cause.Error()
	}
	return err.Error()
}
