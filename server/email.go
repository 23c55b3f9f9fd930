package main

import (
	"context"
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pkg/errors"

	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/mailer"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

// mailTimeout bounds one certificate email, connection included.
const mailTimeout = 30 * time.Second

// checkEmailDelivery checks the email delivery settings.
func (c *configuration) checkEmailDelivery() error {
	switch c.EmailDelivery {
	case emailDeliveryOff, emailDeliveryAllowed, emailDeliveryDefault:
	default:
		return fmt.Errorf(`Email delivery must be "off", "allowed" or "default" (got %q)`, c.EmailDelivery)
	}
	if _, ok := smtpSecurities[c.SMTPConnectionSecurity]; !ok {
		return fmt.Errorf(`SMTP connection security must be empty, "none", "starttls" or "tls" (got %q)`, c.SMTPConnectionSecurity)
	}
	if c.SMTPServer != "" && (c.SMTPPort < 1 || c.SMTPPort > 65535) {
		return fmt.Errorf("SMTP port must be between 1 and 65535 (got %d)", c.SMTPPort)
	}
	if c.SMTPFrom != "" {
		if _, err := mail.ParseAddress(c.SMTPFrom); err != nil {
			return fmt.Errorf("SMTP sender address %q is not an email address", c.SMTPFrom)
		}
	}
	return nil
}

// smtpSecurities maps the plugin's and Mattermost's connection security
// names to the mailer's.
var smtpSecurities = map[string]mailer.Security{
	"":                         "",
	"none":                     mailer.SecurityNone,
	"starttls":                 mailer.SecuritySTARTTLS,
	"tls":                      mailer.SecurityTLS,
	model.ConnSecurityStarttls: mailer.SecuritySTARTTLS,
	model.ConnSecurityTLS:      mailer.SecurityTLS,
}

// mailSettings are Mattermost's SMTP settings (read unsanitized: the
// password is needed) with the plugin's overrides on top.
func (p *Plugin) mailSettings(c *configuration) (mailer.Settings, error) {
	var s mailer.Settings
	if cfg := p.API.GetUnsanitizedConfig(); cfg != nil {
		es := cfg.EmailSettings
		s.Host = model.SafeDereference(es.SMTPServer)
		s.Port, _ = strconv.Atoi(model.SafeDereference(es.SMTPPort))
		s.Security = smtpSecurities[model.SafeDereference(es.ConnectionSecurity)]
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
		if security := smtpSecurities[c.SMTPConnectionSecurity]; security != "" {
			s.Security = security
		}
		s.Username = c.SMTPUsername
		s.Password = c.SMTPPassword
		s.SkipCertificateVerification = false
		if isSealedSecret(s.Password) {
			password, err := p.openSecret(c.EncryptionSecret, s.Password)
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

// errEmailFailed is a certificate email that could not be sent; Reason is
// for the user.
type errEmailFailed struct {
	Reason string
	Err    error
}

func (e *errEmailFailed) Error() string { return "the email could not be sent: " + e.Reason }
func (e *errEmailFailed) Unwrap() error { return e.Err }

// emailCertificate sends a user their PKCS#12 file. The passphrase is never
// in the email: it is shown where the user asked for the certificate.
func (p *Plugin) emailCertificate(ctx context.Context, s *services, user *model.User, issued *issuedCertificate) error {
	if user.Email == "" {
		return &errEmailFailed{Reason: "your account has no email address"}
	}
	settings, err := p.mailSettings(s.config)
	if err != nil {
		return &errEmailFailed{Reason: "the plugin's email settings need an administrator", Err: err}
	}
	sender, err := mailer.New(settings)
	if err != nil {
		return &errEmailFailed{Reason: "the server's email settings need an administrator", Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, mailTimeout)
	defer cancel()
	err = sender.Send(ctx, certificateMail(p.siteName(), user, issued.Record, issued.Filename, issued.PKCS12))
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
	return &errEmailFailed{Reason: reason, Err: err}
}

// certificateMail is the message that carries a PKCS#12 file.
func certificateMail(siteName string, user *model.User, record *store.Certificate, filename string, p12 []byte) mailer.Message {
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
		ToName:      user.GetFullName(),
		Subject:     "Your client certificate (" + record.CommonName + ")",
		Text:        text,
		Attachments: []mailer.Attachment{{Filename: filename, ContentType: "application/x-pkcs12", Data: p12}},
	}
}

// downloadByEmail is `/cert download --email`: the certificate is made now
// and emailed; its passphrase is in the reply, which only the user sees and
// which is not stored. If the email cannot be sent, the certificate waits
// for the user to download it instead.
func (p *Plugin) downloadByEmail(ctx context.Context, s *services, userID string, prof *profile.Profile) (string, error) {
	if s.config.EmailDelivery == emailDeliveryOff {
		return "", errors.New("certificates cannot be sent by email on this server; run `/cert download` for a download link.")
	}
	user, appErr := p.API.GetUser(userID)
	if appErr != nil {
		return "", appErr
	}
	if user.Email == "" {
		return "", errors.New("your account has no email address; run `/cert download` for a download link.")
	}
	if prof.RequiresApproval {
		return "", fmt.Errorf("`%s` certificates need an approver; run `/cert download %s` to ask, and choose email on the page that collects it.", prof.Name, prof.Name)
	}
	_, conn, _ := s.profileNamed(prof.Name)
	keyWork, err := p.admitKeyGeneration(keyToGenerate(prof, nil))
	if err != nil {
		return "", errors.New("the server is busy creating other keys; please try again in a moment.")
	}
	defer keyWork.Release()
	ctx, cancel := context.WithTimeout(ctx, issueTimeout)
	defer cancel()
	issued, err := p.issueWithServerKey(ctx, s, user, prof, conn, nil, keyWork, issueOptions{format: s.p12Format})
	var waiting *errWaitingForCA
	switch {
	case errors.As(err, &waiting):
		return fmt.Sprintf("The certificate authority must approve your request `%s`. You will get a message with a link to collect the certificate when it does.", waiting.Request.ID), nil
	case err != nil:
		p.API.LogWarn("A certificate could not be issued", "user_id", user.Id, "profile", prof.Name, "connector", conn.Name(), "error", err.Error())
		var he *httpError
		if errors.As(issuanceError(err), &he) {
			return "", errors.New(strings.TrimSuffix(he.Message, ".") + ". Please try again later.")
		}
		return "", err
	}
	p.API.LogInfo("Certificate issued", "user_id", user.Id, "serial", issued.Record.Serial, "connector", issued.Record.Connector, "delivery", "email")
	p.notifyIssued(user, issued.Record)

	if err := p.emailCertificate(ctx, s, user, issued); err != nil {
		p.API.LogWarn("Could not email a certificate", "user_id", user.Id, "serial", issued.Record.Serial, "error", errorChain(err))
		link, expires, holdErr := p.holdForDownload(s, user, prof, conn, issued)
		if holdErr != nil {
			p.API.LogError("Could not keep a certificate for download", "user_id", user.Id, "serial", issued.Record.Serial, "error", holdErr.Error())
			return "", fmt.Errorf("your certificate `%s` was created but %s, and it could not be kept for download; run `/cert revoke %s` and `/cert download` for a new one.",
				issued.Record.Serial, strings.TrimPrefix(err.Error(), "the email "), issued.Record.Serial)
		}
		return fmt.Sprintf("⚠️ Your certificate `%s` was created, but %s. [Download it](%s) instead: the link works once, until %s, and shows the file's passphrase.",
			issued.Record.Serial, err.Error(), link, expires.UTC().Format(time.RFC1123)), nil
	}
	return fmt.Sprintf("📧 Your certificate `%s` was emailed to %s as `%s`.\n\nIts passphrase, shown only here and not in the email:\n\n`%s`\n\n"+
		"Note it now: this message disappears when you reload.", issued.Record.Serial, user.Email, issued.Filename, issued.Passphrase), nil
}

// holdForDownload keeps an issued certificate and its key (sealed) in a
// request the user collects with a pickup link.
func (p *Plugin) holdForDownload(s *services, user *model.User, prof *profile.Profile, conn connector.Connector, issued *issuedCertificate) (string, time.Time, error) {
	sealed, err := sealPendingKey(s, issued.key)
	if err != nil {
		return "", time.Time{}, err
	}
	chain := make([][]byte, 0, len(issued.chain))
	for _, c := range issued.chain {
		chain = append(chain, c.Raw)
	}
	now := p.now()
	req := &store.Request{
		ID: newRequestID(), Owner: store.MattermostUser(user.Id), Profile: prof.Name, Connector: conn.Name(),
		State: store.RequestApproved, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(pickupLinkLifetime),
		PendingKey: sealed, KeyType: issued.Record.KeyType, CertificateDER: issued.Record.DER, ChainDER: chain,
		Serial: issued.Record.Serial, Reason: "kept for download: the email could not be sent",
	}
	if err := p.store.CreateRequest(req); err != nil {
		return "", time.Time{}, err
	}
	return p.mintPickupLink(s, user.Id, prof.Name, req.ID)
}
