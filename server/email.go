package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/config"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pkg/errors"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/mailer"
)

// mailTimeout bounds one certificate email, connection included.
const mailTimeout = 30 * time.Second

// mailSettings are Mattermost's SMTP settings (read unsanitized: the
// password is needed) with the plugin's overrides on top.
func (p *Plugin) mailSettings(c *config.Configuration) (mailer.Settings, error) {
	var s mailer.Settings
	if cfg := p.API.GetUnsanitizedConfig(); cfg != nil {
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
		s.Password = c.SMTPPassword
		s.SkipCertificateVerification = false
		if config.IsSealedSecret(s.Password) {
			password, err := p.secrets.Open(c.EncryptionSecret, s.Password)
			if err != nil {
				return s, fmt.Errorf("the SMTP password cannot be read: %w", err)
			}
			s.Password = password
		}
	}
	if c.SMTPFrom != "" {
		s.From = c.SMTPFrom
	}
	s.RootCAs = p.smtpRootCAs
	s.Timeout = mailTimeout
	return s, nil
}

// certificateMailer is the core's Mailer: the plugin's SMTP settings, or
// the server's own.
type certificateMailer struct {
	p      *Plugin
	config *config.Configuration
}

// SendCertificate sends an owner their PKCS#12 file. The passphrase is never
// in the email: it is shown where the owner asked for the certificate.
func (m *certificateMailer) SendCertificate(ctx context.Context, owner *enroll.Requester, issued *enroll.Issued) error {
	if owner.Email == "" {
		return &enroll.MailError{Reason: "your account has no email address"}
	}
	settings, err := m.p.mailSettings(m.config)
	if err != nil {
		return &enroll.MailError{Reason: "the plugin's email settings need an administrator", Err: err}
	}
	sender, err := mailer.New(settings)
	if err != nil {
		return &enroll.MailError{Reason: "the server's email settings need an administrator", Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, mailTimeout)
	defer cancel()
	err = sender.Send(ctx, certificateMail(m.p.siteName(), owner, issued.Record, issued.Filename, issued.PKCS12))
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

// downloadByEmail is `/cert download --email`: the certificate is made now
// and emailed; its passphrase is in the reply, which only the user sees and
// which is not stored. If the email cannot be sent, the certificate waits
// for the user to download it instead.
func (p *Plugin) downloadByEmail(ctx context.Context, s *app.Snapshot, r *enroll.Requester, profileName string) (string, error) {
	delivery, err := s.Core.IssueByEmail(ctx, r, profileName)
	if e := enroll.AsError(err); e != nil {
		if e.Code == enroll.CodeForbidden && e.Next == enroll.NextNone {
			// Only the email is refused: a link still serves.
			return "", errors.New(strings.TrimSuffix(e.Message, ".") + "; run `/cert download` for a download link.")
		}
		return "", chatError(e)
	}
	if err != nil {
		return "", err
	}
	switch {
	case delivery.Request != nil:
		return fmt.Sprintf("The certificate authority must approve your request `%s`. You will get a message with a link to collect the certificate when it does.", delivery.Request.ID), nil
	case delivery.Failed != nil:
		record := delivery.Issued.Record
		link, linkErr := p.site().LinkURL(delivery.Pickup)
		if linkErr != nil {
			return "", fmt.Errorf("your certificate `%s` was created but %s; run `/cert pickup` to collect it.", record.Serial, strings.TrimPrefix(delivery.Failed.Error(), "the email "))
		}
		return fmt.Sprintf("⚠️ Your certificate `%s` was created, but %s. [Download it](%s) instead: the link works once, until %s, and shows the file's passphrase.",
			record.Serial, delivery.Failed.Error(), link, delivery.Pickup.ExpiresAt.UTC().Format(time.RFC1123)), nil
	}
	issued := delivery.Issued
	return fmt.Sprintf("📧 Your certificate `%s` was emailed to %s as `%s`.\n\nIts passphrase, shown only here and not in the email:\n\n`%s`\n\n"+
		"Note it now: this message disappears when you reload.", issued.Record.Serial, r.Email, issued.Filename, issued.Passphrase), nil
}
