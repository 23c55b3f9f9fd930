package mattermost

import (
	"html"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

// MailPasswordLink emails the owner of a new or reset local account the
// link that sets its password (the server's SMTP settings).
func MailPasswordLink(api interface {
	SendMail(to, subject, htmlBody string) *model.AppError
}, siteName string, account *store.LocalAccount, link string) *model.AppError {
	body := "<p>An administrator made or reset your local account, <b>" + html.EscapeString(account.Username) +
		"</b>, on the certificate portal of " + html.EscapeString(siteName) + ".</p>" +
		"<p>Set your password here (the link works once, for 72 hours):<br><a href=\"" + html.EscapeString(link) + "\">" + html.EscapeString(link) + "</a></p>"
	return api.SendMail(account.Email, "Client certificates: set your password", body)
}
