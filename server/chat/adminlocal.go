package chat

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/clientcerts/mattermost-plugin-certs/server/mattermost"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

// commandAdminLocal manages the portal's local accounts. A password is
// never typed in chat: a new or reset account gets a single-use link, by
// email and in this reply, for the admin to pass on.
func (d *Door) commandAdminLocal(_ context.Context, args *model.CommandArgs, params []string) (string, error) {
	if d.Accounts == nil {
		return "", errors.New("local accounts are not available on this server.")
	}
	usage := "Use `/cert admin local add <username> <email>`, `remove <username>`, `reset <username>`, `unlock <username>` or `list`."
	if len(params) == 0 {
		return usage, nil
	}
	by := string(records.MattermostUser(args.UserId))
	need := func(n int) error {
		if len(params) != n+1 {
			return errors.New(usage)
		}
		return nil
	}
	switch strings.ToLower(params[0]) {
	case "add":
		if err := need(2); err != nil {
			return "", err
		}
		account, token, err := d.Accounts.Add(params[1], params[2], by)
		if err != nil {
			return "", err
		}
		return d.passwordLinkReply(account, token, "Local account `"+account.Username+"` added."), nil
	case "reset":
		if err := need(1); err != nil {
			return "", err
		}
		account, token, err := d.Accounts.Reset(params[1])
		if err != nil {
			return "", err
		}
		return d.passwordLinkReply(account, token, "Local account `"+account.Username+"` reset: its password no longer works, its sessions are ended and its lock is lifted."), nil
	case "unlock":
		if err := need(1); err != nil {
			return "", err
		}
		if err := d.Accounts.Unlock(params[1]); err != nil {
			return "", err
		}
		return "Local account `" + mattermost.MarkdownCell(strings.ToLower(params[1])) + "` may try to sign in again.", nil
	case "remove":
		if err := need(1); err != nil {
			return "", err
		}
		account, err := d.Accounts.Remove(params[1], by)
		if err != nil {
			return "", err
		}
		return "Local account `" + account.Username + "` removed: it can no longer sign in, and its certificates are handled as the deactivation setting says.", nil
	case "list":
		accounts, err := d.Accounts.List()
		if err != nil {
			return "", err
		}
		if len(accounts) == 0 {
			return "No local accounts. Add one with `/cert admin local add <username> <email>`.", nil
		}
		var b strings.Builder
		b.WriteString("| Username | Email | Password | Created |\n|---|---|---|---|\n")
		for _, a := range accounts {
			password := "not set yet"
			if len(a.PasswordHash) > 0 {
				password = "set " + a.PasswordAt.UTC().Format("2006-01-02")
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", a.Username, mattermost.MarkdownCell(a.Email), password, a.CreatedAt.UTC().Format("2006-01-02"))
		}
		return b.String(), nil
	}
	return "", errors.New(usage)
}

// passwordLinkReply hands the admin the set-password link, and mails it to
// the account's owner.
func (d *Door) passwordLinkReply(account *store.LocalAccount, token, done string) string {
	link := d.Current.Site().PasswordLinkURL(token)
	text := fmt.Sprintf("%s\n\nIts owner sets a password with this link (it works once, for 72 hours):\n\n%s\n\n", done, link)
	if appErr := mattermost.MailPasswordLink(d.API, d.Current.Site().DisplayName(), account, link); appErr != nil {
		return text + "It could not be emailed (" + appErr.Message + "): pass it on yourself."
	}
	return text + "It was also emailed to " + mattermost.MarkdownCell(account.Email) + "."
}
