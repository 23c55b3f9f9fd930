// Package mailer sends a plain-text email, optionally with attachments, to a
// single recipient through an SMTP server.
//
// It knows nothing of Mattermost: callers map their own configuration onto
// Settings. It never logs, and every failure is an *Error whose Kind tells
// whether the server could not be reached, refused the mail, or the settings
// or message were wrong. The SMTP password never appears in an error.
package mailer

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/mail"
	"strconv"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// DefaultTimeout bounds a whole send when Settings.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// Security is how the connection to the SMTP server is protected.
type Security string

const (
	// SecurityNone sends everything in clear text.
	SecurityNone Security = "none"
	// SecuritySTARTTLS connects in clear text and requires the server to
	// upgrade the connection with STARTTLS (usually port 587).
	SecuritySTARTTLS Security = "starttls"
	// SecurityTLS speaks TLS from the first byte (implicit TLS, usually
	// port 465).
	SecurityTLS Security = "tls"
)

// Settings is how to reach an SMTP server.
type Settings struct {
	Host     string
	Port     int
	Security Security
	// Username and Password are sent with SMTP AUTH (PLAIN, else LOGIN,
	// else the strongest other mechanism the server offers), only when
	// Username is not empty.
	Username string
	Password string
	// From is the sender address, used both in the envelope and the From
	// header; FromName is its optional display name.
	From     string
	FromName string
	// SkipCertificateVerification accepts any server certificate. It is
	// for test set-ups only: it makes TLS useless against an attacker.
	SkipCertificateVerification bool
	// RootCAs verifies the server certificate; nil means the system roots.
	RootCAs *x509.CertPool
	// Timeout bounds connecting and the whole send; zero means
	// DefaultTimeout.
	Timeout time.Duration
}

// Attachment is a file sent along with a Message, base64-encoded.
type Attachment struct {
	Filename string
	// ContentType is the MIME type, e.g. "application/x-pkcs12"; empty
	// means "application/octet-stream".
	ContentType string
	Data        []byte
}

// Message is an email to one recipient. Text is the UTF-8 plain-text body.
type Message struct {
	To          string
	ToName      string
	Subject     string
	Text        string
	Attachments []Attachment
}

// Sender sends messages. It is safe for concurrent use.
type Sender interface {
	// Send delivers m to the SMTP server, opening and closing a connection
	// for it. Cancelling ctx aborts the send.
	Send(ctx context.Context, m Message) error
}

// New checks the settings and returns a Sender that uses them. It does not
// connect to the server.
func New(s Settings) (Sender, error) {
	from, err := s.validate()
	if err != nil {
		return nil, err
	}
	if s.Timeout == 0 {
		s.Timeout = DefaultTimeout
	}
	return &smtpSender{
		settings: s,
		from:     *from,
		tlsConfig: &tls.Config{
			ServerName:         s.Host,
			RootCAs:            s.RootCAs,
			InsecureSkipVerify: s.SkipCertificateVerification, //nolint:gosec // opt-in, documented as test-only
			MinVersion:         tls.VersionTLS12,
		},
	}, nil
}

type smtpSender struct {
	settings  Settings
	from      mail.Address
	tlsConfig *tls.Config
}

func (s *smtpSender) Send(ctx context.Context, m Message) error {
	msg, err := s.compose(m)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(ctx, s.settings.Timeout)
	// Cancelling also closes the connection (see dial), so nothing of this
	// send outlives it.
	defer cancel()

	client, err := gomail.NewClient(s.settings.Host, s.clientOptions(ctx)...)
	if err != nil {
		return newError(KindMisconfigured, "cannot prepare the SMTP client", err)
	}
	err = client.DialAndSendWithContext(ctx, msg)
	// A failure after the server accepted the message (a refused RSET or
	// QUIT) is not reported: the caller would retry and send it twice.
	if err == nil || msg.IsDelivered() {
		return nil
	}
	return withoutSecret(s.classify(ctx, err), s.settings.Password)
}

// clientOptions configures go-mail for one send; the dialer is bound to that
// send's context.
func (s *smtpSender) clientOptions(sendCtx context.Context) []gomail.Option {
	// Implicit TLS is done by our dialer, so go-mail itself only ever does
	// STARTTLS, and only when asked to.
	startTLS := gomail.NoTLS
	if s.settings.Security == SecuritySTARTTLS {
		startTLS = gomail.TLSMandatory
	}
	options := []gomail.Option{
		gomail.WithPort(s.settings.Port),
		// go-mail's per-command deadline is only a backstop: the send's
		// context enforces Timeout, and must expire first so that running
		// out of time is reported as context.DeadlineExceeded.
		gomail.WithTimeout(2 * s.settings.Timeout),
		gomail.WithTLSConfig(s.tlsConfig),
		gomail.WithTLSPolicy(startTLS),
		gomail.WithDialContextFunc(s.dialer(sendCtx)),
	}
	if s.settings.Username != "" {
		options = append(options,
			gomail.WithUsername(s.settings.Username),
			gomail.WithPassword(s.settings.Password),
			// PLAIN and LOGIN are what most servers offer; if neither is,
			// go-mail picks the strongest mechanism the server has.
			gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthPlain, gomail.SMTPAuthLogin),
		)
	}
	return options
}

// dialer connects for one send. go-mail honours the context only while
// dialing, so the connection is closed when sendCtx ends: that aborts a
// send blocked on a silent server as soon as the caller cancels or the
// timeout expires.
func (s *smtpSender) dialer(sendCtx context.Context) gomail.DialContextFunc {
	return func(dialCtx context.Context, network, address string) (net.Conn, error) {
		var d net.Dialer
		conn, err := d.DialContext(dialCtx, network, address)
		if err != nil {
			return nil, err
		}
		context.AfterFunc(sendCtx, func() { _ = conn.Close() })
		if s.settings.Security != SecurityTLS {
			return conn, nil
		}
		tlsConn := tls.Client(conn, s.tlsConfig)
		if err := tlsConn.HandshakeContext(dialCtx); err != nil {
			return nil, err
		}
		// go-mail recognises an encrypted connection by its type (which
		// allows PLAIN and LOGIN), so the *tls.Conn is returned unwrapped.
		return tlsConn, nil
	}
}

func (s *smtpSender) compose(m Message) (*gomail.Msg, error) {
	to, err := parseAddress("recipient", m.To)
	if err != nil {
		return nil, err
	}
	if err := checkHeaderText("recipient name", m.ToName); err != nil {
		return nil, err
	}
	if err := checkHeaderText("subject", m.Subject); err != nil {
		return nil, err
	}
	to.Name = m.ToName

	msg := gomail.NewMsg()
	from := s.from // go-mail keeps the pointer; concurrent sends get their own copy
	msg.FromMailAddress(&from)
	msg.ToMailAddress(to)
	msg.Subject(m.Subject)
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	for _, attachment := range m.Attachments {
		contentType, err := attachmentContentType(attachment)
		if err != nil {
			return nil, err
		}
		msg.AttachReadSeeker(attachment.Filename, bytes.NewReader(attachment.Data),
			gomail.WithFileContentType(gomail.ContentType(contentType)))
	}
	return msg, nil
}

// address is host:port, for messages.
func (s Settings) address() string {
	return net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
}
