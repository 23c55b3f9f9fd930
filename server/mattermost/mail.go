package mattermost

import (
	"context"
	"crypto/x509"
	"fmt"
	"strconv"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/config"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/mailer"
)

// MailTimeout bounds one certificate email, connection included.
const MailTimeout = 30 * time.Second

// MailerAPI is what sending certificates needs of the server: its SMTP
// settings.
type MailerAPI interface {
	GetUnsanitizedConfig() *model.Config
}

// Mailer is the core's Mailer: the plugin's SMTP settings, or the server's
// own.
type Mailer struct {
	API     MailerAPI
	Secrets *config.Secrets
	Current *app.Current
	// RootCAs verifies mail servers' certificates; nil means the system
	// roots (tests trust their own SMTP server).
	RootCAs *x509.CertPool
}

// Settings are Mattermost's SMTP settings (read unsanitized: the password
// is needed) with the plugin's overrides on top.
func (m *Mailer) Settings(c *config.Configuration) (mailer.Settings, error) {
	var s mailer.Settings
	if cfg := m.API.GetUnsanitizedConfig(); cfg != nil {
		es := cfg.EmailSettings
		s.Host = model.SafeDereference(es.SMTPServer)
		s.Port, _ = strconv.Atoi(model.SafeDereference(es.SMTPPort))
		s.Security = config.SMTPSecurities[model.SafeDereference(es.ConnectionSecurity)]
		if s.Security == "" {
			s.Security = mailer.SecurityNone
		}
		if model.SafeDereference(es.EnableSMTPAuth) {
			s.Username = model.SafeDereference(es.SMTPUsername)
			s.Password = model.SafeDereference(es.SMTPPassword)
		}
		s.SkipCertificateVerification = model.SafeDereference(es.SkipServerCertificateVerification)
		s.From = model.SafeDereference(es.FeedbackEmail)
		s.FromName = model.SafeDereference(es.FeedbackName)
	}
	if c.SMTPServer != "" {
		s.Host = c.SMTPServer
		s.Port = int(c.SMTPPort)
		s.Security = mailer.SecuritySTARTTLS
		if security := config.SMTPSecurities[c.SMTPConnectionSecurity]; security != "" {
			s.Security = security
		}
		s.Username = c.SMTPUsername
		s.SkipCertificateVerification = false
		password, err := m.Secrets.OpenIfSealed(c.EncryptionSecret, c.SMTPPassword)
		if err != nil {
			return s, fmt.Errorf("the SMTP password cannot be read: %w", err)
		}
		s.Password = password
	}
	if c.SMTPFrom != "" {
		s.From = c.SMTPFrom
	}
	s.RootCAs = m.RootCAs
	s.Timeout = MailTimeout
	return s, nil
}

// SendCertificate sends an owner their PKCS#12 file. The passphrase is never
// in the email: it is shown where the owner asked for the certificate.
func (m *Mailer) SendCertificate(ctx context.Context, owner *enroll.Requester, issued *enroll.Issued) error {
	if owner.Email == "" {
		return &enroll.MailError{Reason: "your account has no email address"}
	}
	snapshot, err := m.Current.Get()
	if err != nil {
		return &enroll.MailError{Reason: "the plugin's settings need an administrator", Err: err}
	}
	settings, err := m.Settings(snapshot.Config)
	if err != nil {
		return &enroll.MailError{Reason: "the plugin's email settings need an administrator", Err: err}
	}
	sender, err := mailer.New(settings)
	if err != nil {
		return &enroll.MailError{Reason: "the server's email settings need an administrator", Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, MailTimeout)
	defer cancel()
	err = sender.Send(ctx, certificateMail(m.Current.Site().DisplayName(), owner, issued.Record, issued.Filename, issued.PKCS12))
	if err == nil {
		return nil
	}
	reason := "the mail server refused it"
	if me := mailer.AsError(err); me != nil {
		switch me.Kind {
		case mailer.KindUnavailable:
			reason = "the mail server could not be reached"
		case mailer.KindMisconfigured:
			reason = "the server's email settings need an administrator"
		}
	}
	return &enroll.MailError{Reason: reason, Err: err}
}

// certificateMail is the message that carries a PKCS#12 file.
func certificateMail(siteName string, user *enroll.Requester, record *records.Certificate, filename string, p12 []byte) mailer.Message {
	text := fmt.Sprintf(`Hello %s,

attached is the client certificate you asked for on %s:

  Subject: %s
  Serial:  %s
  Expires: %s

The file is protected by a passphrase. For your safety the passphrase is not
in this email: it was shown in Mattermost when you asked for the certificate.

To import the file: on Windows and macOS, open it; in Firefox, Settings >
Privacy & Security > Certificates > View Certificates > Your Certificates >
Import; on Linux, pk12util -i %s -d sql:$HOME/.pki/nssdb

If you did not ask for this certificate, run /cert revoke %s in Mattermost
and tell your administrator.
`, user.Username, siteName, record.Subject, record.Serial, record.NotAfter.UTC().Format(time.RFC1123), filename, record.Serial)
	return mailer.Message{
		To:          user.Email,
		ToName:      user.DisplayName,
		Subject:     "Your client certificate (" + record.CommonName + ")",
		Text:        text,
		Attachments: []mailer.Attachment{{Filename: filename, ContentType: "application/x-pkcs12", Data: p12}},
	}
}
