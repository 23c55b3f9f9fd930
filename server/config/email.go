package config

import (
	"fmt"
	"net/mail"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/clientcerts/mattermost-plugin-certs/server/mailer"
)

// checkEmailDelivery checks the email delivery settings.
func (c *Configuration) checkEmailDelivery() error {
	switch c.EmailDelivery {
	case EmailDeliveryOff, EmailDeliveryAllowed, EmailDeliveryDefault:
	default:
		return fmt.Errorf(`Email delivery must be "off", "allowed" or "default" (got %q)`, c.EmailDelivery)
	}
	if _, ok := SMTPSecurities[c.SMTPConnectionSecurity]; !ok {
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

// SMTPSecurities maps the plugin's and Mattermost's connection security
// names to the mailer's.
var SMTPSecurities = map[string]mailer.Security{
	"":                         "",
	"none":                     mailer.SecurityNone,
	"starttls":                 mailer.SecuritySTARTTLS,
	"tls":                      mailer.SecurityTLS,
	model.ConnSecurityStarttls: mailer.SecuritySTARTTLS,
	model.ConnSecurityTLS:      mailer.SecurityTLS,
}
