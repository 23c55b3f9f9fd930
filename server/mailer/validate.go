package mailer

import (
	"fmt"
	"mime"
	"net"
	"net/mail"
	"strings"
	"unicode"
)

const defaultContentType = "application/octet-stream"

// Validate reports, as a KindMisconfigured *Error, the first problem that
// would stop these settings from working.
func (s Settings) Validate() error {
	_, err := s.validate()
	return err
}

// validate checks the settings and returns the parsed From address.
func (s Settings) validate() (*mail.Address, error) {
	if err := checkHost(s.Host); err != nil {
		return nil, err
	}
	if s.Port < 1 || s.Port > 65535 {
		return nil, misconfigured(fmt.Sprintf("the SMTP port %d is not between 1 and 65535", s.Port))
	}
	switch s.Security {
	case SecurityNone, SecuritySTARTTLS, SecurityTLS:
	default:
		return nil, misconfigured(fmt.Sprintf("unknown SMTP connection security %q: use %q, %q or %q",
			s.Security, SecurityNone, SecuritySTARTTLS, SecurityTLS))
	}
	// PLAIN and LOGIN put the password on the wire as it is; go-mail sends
	// them unencrypted only to these names, and refusing here gives a
	// clearer message than failing at the first send.
	if s.Username != "" && s.Security == SecurityNone && !isLocalhost(s.Host) {
		return nil, misconfigured(fmt.Sprintf(
			"refusing to send the SMTP password unencrypted to %s: use STARTTLS or TLS", s.Host))
	}
	from, err := parseAddress("sender", s.From)
	if err != nil {
		return nil, err
	}
	if err := checkHeaderText("sender name", s.FromName); err != nil {
		return nil, err
	}
	from.Name = s.FromName
	if s.Timeout < 0 {
		return nil, misconfigured(fmt.Sprintf("the SMTP timeout %s is negative", s.Timeout))
	}
	return from, nil
}

func checkHost(host string) error {
	switch {
	case host == "":
		return misconfigured("the SMTP host is missing")
	case strings.ContainsFunc(host, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		return misconfigured(fmt.Sprintf("the SMTP host %q contains spaces or control characters", host))
	case strings.Contains(host, ":") && net.ParseIP(host) == nil:
		return misconfigured(fmt.Sprintf("the SMTP host %q must not include a port: set the port on its own", host))
	}
	return nil
}

func isLocalhost(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// parseAddress accepts a bare address such as name@example.com; display
// names have their own fields.
func parseAddress(role, value string) (*mail.Address, error) {
	if value == "" {
		return nil, misconfigured(fmt.Sprintf("the %s address is missing", role))
	}
	if err := checkHeaderText(role+" address", value); err != nil {
		return nil, err
	}
	address, err := mail.ParseAddress(value)
	if err != nil {
		return nil, newError(KindMisconfigured,
			fmt.Sprintf("the %s address %q is not a valid email address", role, value), err)
	}
	if address.Name != "" {
		return nil, misconfigured(fmt.Sprintf(
			"the %s address %q must be a bare address such as name@example.com", role, value))
	}
	return address, nil
}

// checkHeaderText refuses line breaks (and other control characters) in text
// that ends up in a mail header, where they would let the text add headers
// of its own (header injection).
func checkHeaderText(what, value string) error {
	if strings.ContainsFunc(value, unicode.IsControl) {
		return misconfigured(fmt.Sprintf("the %s must not contain line breaks or control characters", what))
	}
	return nil
}

func attachmentContentType(a Attachment) (string, error) {
	if a.Filename == "" {
		return "", misconfigured("an attachment has no file name")
	}
	if err := checkHeaderText("attachment file name", a.Filename); err != nil {
		return "", err
	}
	if a.ContentType == "" {
		return defaultContentType, nil
	}
	if err := checkHeaderText("attachment content type", a.ContentType); err != nil {
		return "", err
	}
	if _, _, err := mime.ParseMediaType(a.ContentType); err != nil {
		return "", newError(KindMisconfigured,
			fmt.Sprintf("the content type %q of attachment %q is not a MIME type", a.ContentType, a.Filename), err)
	}
	return a.ContentType, nil
}
