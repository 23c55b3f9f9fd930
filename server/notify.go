package main

import (
	"fmt"
	"html"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

// postEphemeral answers a command as the bot, visible only to the user.
func (p *Plugin) postEphemeral(args *model.CommandArgs, message string) {
	p.client.Post.SendEphemeralPost(args.UserId, &model.Post{
		UserId:    p.botUserID,
		ChannelId: args.ChannelId,
		RootId:    args.RootId,
		Message:   message,
	})
}

// notifyIssued tells the owner that a certificate was issued in their name,
// so an issuance they did not ask for does not go unnoticed.
func (p *Plugin) notifyIssued(user *model.User, c *store.Certificate) {
	p.notifyUser(user, "Certificate issued", fmt.Sprintf("A client certificate was issued to you.\n\n"+
		"- Serial: `%s`\n- Subject: `%s`\n- Expires: %s\n\n"+
		"If this was not you, run `/cert revoke %s` now and tell your administrator.",
		c.Serial, c.Subject, c.NotAfter.UTC().Format(time.RFC1123), c.Serial))
}

// notifyUser tells a user about their certificate request: a DM from the
// bot always, and an email too when the admin enabled email notifications.
func (p *Plugin) notifyUser(user *model.User, subject, message string) {
	if _, err := p.dmPost(user.Id, &model.Post{Message: message}); err != nil {
		p.API.LogWarn("Could not send a notification", "user_id", user.Id, "error", err.Error())
	}
	if !p.getConfiguration().EmailNotifications || user.Email == "" {
		return
	}
	body := "<p>" + html.EscapeString(message) + "</p>"
	if appErr := p.API.SendMail(user.Email, "Client certificates: "+subject, body); appErr != nil {
		p.API.LogWarn("Could not send a notification email", "user_id", user.Id, "error", appErr.Error())
	}
}
