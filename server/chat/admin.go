package chat

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/mattermost"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// adminListSize is how many certificates /cert admin list shows.
const adminListSize = 50

// adminSubcommands are /cert admin's: every certificate, for system admins.
func (d *Door) adminSubcommands() []subcommand {
	return []subcommand{
		{"list", "[@user] [--expiring <days>] [--state <issued|expired|revoked>] [--profile <name>]", "List certificates, newest serial first", d.commandAdminList},
		{"show", "<serial>", "Show one certificate", d.commandAdminShow},
		{"revoke", "<serial> [reason]", "Revoke any certificate; its owner is told", d.commandAdminRevoke},
		{"requests", "", "List the requests that wait for an approver, the CA or their pickup", d.commandAdminRequests},
		{"local", "<add <username> <email>|remove <username>|reset <username>|unlock <username>|list>", "Manage the portal's local accounts (passwords are set by their owners through a link)", d.commandAdminLocal},
	}
}

// commandAdmin dispatches /cert admin for a system admin, checked with
// Mattermost's permission system.
func (d *Door) commandAdmin(ctx context.Context, args *model.CommandArgs, params []string) (string, error) {
	if !d.API.HasPermissionTo(args.UserId, model.PermissionManageSystem) {
		return "", errors.New("`/cert admin` is for system admins.")
	}
	if len(params) == 0 {
		return d.adminHelp(), nil
	}
	for _, sc := range d.adminSubcommands() {
		if strings.EqualFold(sc.name, params[0]) {
			return sc.handler(ctx, args, params[1:])
		}
	}
	return "", fmt.Errorf("unknown admin command `%s`.\n\n%s", mattermost.MarkdownCell(params[0]), d.adminHelp())
}

func (d *Door) adminHelp() string {
	var b strings.Builder
	b.WriteString("#### Client certificates: administration\n")
	for _, sc := range d.adminSubcommands() {
		fmt.Fprintf(&b, "- `/cert admin %s %s`: %s\n", sc.name, sc.hint, sc.help)
	}
	return b.String()
}

func (d *Door) commandAdminList(_ context.Context, args *model.CommandArgs, params []string) (string, error) {
	s, admin, err := d.commandRequester(args.UserId)
	if err != nil {
		return "", err
	}
	filter := records.CertificateFilter{Limit: adminListSize}
	for i := 0; i < len(params); i++ {
		param := params[i]
		value := func() (string, error) {
			if i+1 >= len(params) {
				return "", fmt.Errorf("`%s` needs a value.", param)
			}
			i++
			return params[i], nil
		}
		switch {
		case strings.HasPrefix(param, "@"):
			user, appErr := d.API.GetUserByUsername(strings.TrimPrefix(param, "@"))
			if appErr != nil {
				return "", fmt.Errorf("no user is called %s.", mattermost.MarkdownCell(param))
			}
			filter.Owner = records.MattermostUser(user.Id)
		case param == "--expiring":
			v, err := value()
			if err != nil {
				return "", err
			}
			days, err := strconv.Atoi(v)
			if err != nil || days < 0 || days > 3650 {
				return "", errors.New("`--expiring` takes a number of days.")
			}
			before := d.Now().Add(time.Duration(days) * 24 * time.Hour)
			filter.ExpiringBefore = &before
		case param == "--state":
			if filter.State, err = value(); err != nil {
				return "", err
			}
		case param == "--profile":
			if filter.Profile, err = value(); err != nil {
				return "", err
			}
		default:
			return "", fmt.Errorf("usage: `/cert admin list %s`", d.adminSubcommands()[0].hint)
		}
	}
	page, err := s.Core.SearchCertificates(admin, filter)
	if e := enroll.AsError(err); e != nil {
		return "", chatError(e)
	}
	if err != nil {
		return "", err
	}
	if len(page.Certificates) == 0 {
		return "No certificate matches.", nil
	}
	now := d.Now()
	var b strings.Builder
	b.WriteString("| Serial | Owner | Subject | Profile | Expires | State |\n|:--|:--|:--|:--|:--|:--|\n")
	for _, c := range page.Certificates {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n", c.Serial, d.Directory.OwnerName(c.Owner), mattermost.MarkdownCell(c.Subject), mattermost.MarkdownCell(c.Profile),
			c.NotAfter.UTC().Format("2006-01-02"), adminState(c, now))
	}
	if page.Next != "" {
		fmt.Fprintf(&b, "\nThe first %d are shown; the admin API (`GET /plugins/%s/api/v1/admin/certificates`) pages through all of them.", len(page.Certificates), d.Manifest.Id)
	}
	return b.String(), nil
}

// adminState is a certificate's state as an admin reads it: with a word
// when it names an email its owner no longer has, or when its CA has not
// accepted its revocation.
func adminState(c *records.Certificate, now time.Time) string {
	state := c.StateAt(now)
	if c.EmailChangedAt != nil && state == string(records.CertIssued) {
		state += ", owner's email changed"
	}
	if c.RevocationPending {
		state += ", pending at the CA"
	}
	return state
}

// pendingAtCALine is the line of `/cert admin show` for a revocation its
// CA has not accepted: since when, how often it was told, what it said.
func pendingAtCALine(c *records.Certificate) string {
	line := "- Pending at the CA: the CA has not accepted the revocation yet"
	if c.RevocationAttempts > 0 {
		line += fmt.Sprintf("; told again %s, it answered last \"%s\"", mattermost.Times(c.RevocationAttempts), mattermost.MarkdownCell(c.RevocationCAAnswer))
	}
	if c.RevocationRetryAt != nil {
		line += "; next try " + c.RevocationRetryAt.UTC().Format(time.RFC3339)
	}
	return line + "\n"
}

func (d *Door) commandAdminShow(_ context.Context, args *model.CommandArgs, params []string) (string, error) {
	if len(params) != 1 || pki.NormalizeSerial(params[0]) == "" {
		return "", errors.New("usage: `/cert admin show <serial>`")
	}
	s, admin, err := d.commandRequester(args.UserId)
	if err != nil {
		return "", err
	}
	c, err := s.Core.CertificateBySerial(admin, pki.NormalizeSerial(params[0]))
	if e := enroll.AsError(err); e != nil {
		return "", chatError(e)
	}
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "#### Certificate `%s`\n\n", c.Serial)
	fmt.Fprintf(&b, "- Owner: %s\n- Subject: %s\n- Profile: %s, CA connector %s\n", d.Directory.OwnerName(c.Owner), mattermost.MarkdownCell(c.Subject), mattermost.MarkdownCell(c.Profile), mattermost.MarkdownCell(c.Connector))
	fmt.Fprintf(&b, "- Valid: %s to %s\n- State: %s\n- Key: %s, %s\n", c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339),
		c.StateAt(d.Now()), c.KeyType, keyOrigin(c))
	if c.RevokedAt != nil {
		fmt.Fprintf(&b, "- Revoked: %s, %s, by %s\n", c.RevokedAt.UTC().Format(time.RFC3339), mattermost.MarkdownCell(c.RevocationReason), d.Directory.ActorName(c.RevokedBy))
	}
	if c.RevocationPending {
		b.WriteString(pendingAtCALine(c))
	}
	if c.Renews != "" {
		fmt.Fprintf(&b, "- Renews: `%s`\n", c.Renews)
	}
	if c.EmailChangedAt != nil {
		fmt.Fprintf(&b, "- Names %s, which its owner no longer has (found %s; the owner was asked to renew)\n",
			mattermost.MarkdownCell(strings.Join(c.Emails, ", ")), c.EmailChangedAt.UTC().Format("2006-01-02"))
	}
	fmt.Fprintf(&b, "- SHA-256: `%s`\n", c.Fingerprint)
	return b.String(), nil
}

func (d *Door) commandAdminRevoke(ctx context.Context, args *model.CommandArgs, params []string) (string, error) {
	if len(params) < 1 || len(params) > 2 || pki.NormalizeSerial(params[0]) == "" {
		return "", errors.New("usage: `/cert admin revoke <serial> [reason]`")
	}
	reason := ""
	if len(params) == 2 {
		reason = params[1]
	}
	s, admin, err := d.commandRequester(args.UserId)
	if err != nil {
		return "", err
	}
	revoked, err := s.Core.AdminRevoke(ctx, admin, pki.NormalizeSerial(params[0]), reason)
	if e := enroll.AsError(err); e != nil {
		return "", chatError(e)
	}
	if err != nil {
		d.API.LogError("Could not revoke a certificate", "user_id", args.UserId, "serial", params[0], "error", err.Error())
		return "", errors.New("the certificate could not be revoked right now; please try again.")
	}
	return mattermost.RevokedWords(revoked, d.Directory.OwnerName(revoked.Record.Owner)), nil
}

func (d *Door) commandAdminRequests(_ context.Context, args *model.CommandArgs, _ []string) (string, error) {
	s, admin, err := d.commandRequester(args.UserId)
	if err != nil {
		return "", err
	}
	open, err := s.Core.OpenRequests(admin)
	if err != nil {
		return "", err
	}
	if len(open) == 0 {
		return "No request is waiting.", nil
	}
	var b strings.Builder
	b.WriteString("| Request | Owner | Profile | State | Since | Expires |\n|:--|:--|:--|:--|:--|:--|\n")
	for _, r := range open {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n", r.ID, d.Directory.OwnerName(r.Owner), mattermost.MarkdownCell(r.Profile), r.State,
			r.CreatedAt.UTC().Format("2006-01-02 15:04"), r.ExpiresAt.UTC().Format("2006-01-02"))
	}
	return b.String(), nil
}
