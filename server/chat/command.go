package chat

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/mattermost/mattermost/server/public/pluginapi/experimental/command"
	"github.com/pkg/errors"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/mattermost"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

const commandTrigger = "cert"

// commandHandler runs one subcommand and returns the reply. An error is shown
// to the user as it is, so it must be written for them.
type commandHandler func(ctx context.Context, args *model.CommandArgs, params []string) (string, error)

type subcommand struct {
	name    string
	hint    string
	help    string
	handler commandHandler
}

func (d *Door) subcommands() []subcommand {
	return []subcommand{
		{"download", "[--email] [profile]", "Get a one-time link to create a certificate and download it as a PKCS#12 file; --email sends the file to your email instead", d.commandDownload},
		{"csr", "[profile]", "Get a one-time link to upload a certificate signing request for your own key (smart card, YubiKey, OpenSSL)", d.commandCSR},
		{"enroll", "", "Choose a profile and how to get the certificate in a dialog (for clients without the plugin's webapp, such as the mobile app)", d.commandEnroll},
		{"list", "", "List your certificates", d.commandList},
		{"import", "", "Register a certificate you already have, so it is listed and revocable", d.commandImport},
		{"profiles", "", "List the kinds of certificate you can get", d.commandProfiles},
		{"renew", "<serial>", "Renew one of your certificates: a new one of the same profile that takes its place", d.commandRenew},
		{"revoke", "<serial> [reason]", "Revoke one of your certificates; the reason (keyCompromise, superseded, …) goes into the CA's revocation list", d.commandRevoke},
		{"cancel", "<request>", "Withdraw one of your pending certificate requests", d.commandCancel},
		{"pickup", "<request>", "Get a new link to collect an approved certificate", d.commandPickup},
		{"approve", "<request>", "Approvers: approve a certificate request", d.commandApprove},
		{"deny", "<request> <reason>", "Approvers: deny a certificate request, saying why", d.commandDeny},
		{"admin", "list|show|revoke|requests", "System admins: every certificate and request", d.commandAdmin},
		{"help", "", "Show how to use /cert", d.commandHelp},
		{"about", "", "Show the plugin version", d.commandAbout},
	}
}

// Command is the /cert registration with its autocomplete, for
// SlashCommand.Register. Without its icon (which the log tells) the
// command still works.
func (d *Door) Command() *model.Command {
	root := model.NewAutocompleteData(commandTrigger, "[command]", "Client certificates: download, list, renew, revoke, help")
	for _, sc := range d.subcommands() {
		data := model.NewAutocompleteData(sc.name, sc.hint, sc.help)
		switch sc.name {
		case "download", "csr":
			data.AddDynamicListArgument("Certificate profile (default if omitted)", d.pluginPath(RouteAutocompleteProfiles), false)
		case "renew":
			data.AddDynamicListArgument("Serial of the certificate to renew", d.pluginPath(RouteAutocompleteSerials), true)
		case "revoke":
			data.AddDynamicListArgument("Serial of the certificate to revoke", d.pluginPath(RouteAutocompleteSerials), true)
			reasons := make([]model.AutocompleteListItem, 0, len(records.Reasons()))
			for _, reason := range records.Reasons() {
				reasons = append(reasons, model.AutocompleteListItem{Item: reason, HelpText: reasonHelp[reason]})
			}
			data.AddStaticListArgument("Why (optional; unspecified if omitted)", false, reasons)
		}
		if sc.name == "admin" {
			// Hidden from users who are not system admins; the server
			// checks the permission on every use all the same. Not a role
			// name test: Mattermost's autocomplete shows what is marked
			// system_admin to whoever holds manage_system.
			data.RoleID = model.SystemAdminRoleId
			for _, asc := range d.adminSubcommands() {
				data.AddCommand(model.NewAutocompleteData(asc.name, asc.hint, asc.help))
			}
		}
		root.AddCommand(data)
	}
	iconData, err := command.GetIconData(d.API, "assets/icon.svg")
	if err != nil {
		d.API.LogWarn("Could not load the command icon", "error", err.Error())
	}
	return &model.Command{
		Trigger:              commandTrigger,
		DisplayName:          "Client Certificates",
		Description:          "Get and manage your client certificates.",
		AutoComplete:         true,
		AutoCompleteDesc:     "Available commands: download, csr, list, import, profiles, renew, revoke, cancel, pickup, approve, deny, help, about",
		AutoCompleteHint:     "[command]",
		AutocompleteData:     root,
		AutocompleteIconData: iconData,
	}
}

// Execute runs /cert as the ExecuteCommand hook is asked to. Replies are
// ephemeral posts from the bot, failures included: the command itself
// never fails.
func (d *Door) Execute(args *model.CommandArgs) (*model.CommandResponse, *model.AppError) {
	fields := strings.Fields(args.Command)
	name := "help"
	var params []string
	if len(fields) > 1 {
		name = strings.ToLower(fields[1])
		params = fields[2:]
	}

	var handler commandHandler
	for _, sc := range d.subcommands() {
		if sc.name == name {
			handler = sc.handler
		}
	}
	var reply string
	if handler == nil {
		reply = fmt.Sprintf("Unknown command `%s`.\n\n%s", name, d.helpText())
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var err error
		reply, err = handler(ctx, args, params)
		if err != nil {
			reply = "⚠️ " + err.Error()
		}
	}
	if reply != "" {
		d.postEphemeral(args, reply)
	}
	return &model.CommandResponse{}, nil
}

func (d *Door) helpText() string {
	var b strings.Builder
	b.WriteString("#### Client certificates\n")
	for _, sc := range d.subcommands() {
		usage := "/" + commandTrigger + " " + sc.name
		if sc.hint != "" {
			usage += " " + sc.hint
		}
		fmt.Fprintf(&b, "- `%s`: %s\n", usage, sc.help)
	}
	b.WriteString("\nThe CA chain to trust is at " + d.site().URL + d.pluginPath("/ca.pem"))
	return b.String()
}

func (d *Door) commandHelp(context.Context, *model.CommandArgs, []string) (string, error) {
	return d.helpText(), nil
}

func (d *Door) commandAbout(context.Context, *model.CommandArgs, []string) (string, error) {
	return command.BuildInfo(*d.Manifest)
}

func (d *Door) commandDownload(ctx context.Context, args *model.CommandArgs, params []string) (string, error) {
	byEmail := false
	params = slices.DeleteFunc(slices.Clone(params), func(param string) bool {
		if strings.EqualFold(param, "--email") {
			byEmail = true
			return true
		}
		return false
	})
	s, requester, profileName, err := d.commandProfile(args.UserId, params, "/cert download [--email] [profile]")
	if err != nil {
		return "", err
	}
	if byEmail {
		return d.downloadByEmail(ctx, s, requester, profileName)
	}
	start, err := s.Core.StartEnrollment(requester, enroll.StartRequest{Profile: profileName, Key: enroll.KeyFromServer})
	if err != nil {
		return "", d.startError(requester, err)
	}
	if req := start.Request; req != nil {
		return fmt.Sprintf("`%s` certificates need an approver. Your request `%s` is waiting; "+
			"you will get a message with a link to collect the certificate once it is approved. `/cert cancel %s` withdraws it.", req.Profile, req.ID, req.ID), nil
	}
	u, err := d.site().LinkURL(start.Link)
	if err != nil {
		return "", chatError(enroll.AsError(err))
	}
	// The link stays inside Markdown link syntax: Mattermost fetches previews
	// only for bare URLs, so the token is neither fetched by the server nor
	// kept in its link-metadata table.
	return fmt.Sprintf("Here is your one-time link to create a client certificate (profile `%s`): [Get my certificate](%s)\n\n"+
		"It works once and expires in %d minutes (%s). Open it in your browser, "+
		"download the file and note the passphrase it shows you: it is shown only once.",
		start.Profile.Name, u, s.Config.LinkLifetimeMinutes, start.Link.ExpiresAt.UTC().Format("15:04 MST")), nil
}

func (d *Door) commandCSR(_ context.Context, args *model.CommandArgs, params []string) (string, error) {
	s, requester, profileName, err := d.commandProfile(args.UserId, params, "/cert csr [profile]")
	if err != nil {
		return "", err
	}
	start, err := s.Core.StartEnrollment(requester, enroll.StartRequest{Profile: profileName, Key: enroll.KeyFromCSR})
	if err != nil {
		return "", d.startError(requester, err)
	}
	u, err := d.site().LinkURL(start.Link)
	if err != nil {
		return "", chatError(enroll.AsError(err))
	}
	reply := fmt.Sprintf("Here is your one-time link to upload a certificate signing request (profile `%s`): [Upload my request](%s)\n\n"+
		"It works once and expires in %d minutes (%s). Your private key stays on your device; the certificate's names come from your account.",
		start.Profile.Name, u, s.Config.LinkLifetimeMinutes, start.Link.ExpiresAt.UTC().Format("15:04 MST"))
	if start.Profile.RequiresApproval {
		reply += " An approver decides before the certificate is issued."
	}
	return reply, nil
}

// startError words an enrollment that could not start: the core's refusal,
// or a failure of ours, whose details go to the log.
func (d *Door) startError(r *enroll.Requester, err error) error {
	if e := enroll.AsError(err); e != nil {
		return chatError(e)
	}
	d.API.LogError("Could not start an enrollment", "principal", string(r.Principal), "error", err.Error())
	return errors.New("your request could not be recorded right now; please try again.")
}

func (d *Door) commandImport(context.Context, *model.CommandArgs, []string) (string, error) {
	base := d.site().PluginURL()
	if base == "" {
		return "", chatError(app.ErrNoSiteURL)
	}
	return fmt.Sprintf("[Register a certificate](%s%s) you already have: upload it (PEM or DER) on that page, "+
		"in a browser where you are signed in to Mattermost. Only the certificate is uploaded, never its key.", base, app.ImportPage), nil
}

// commandProfile reads a command's optional profile argument ("" for the
// default); the core decides whether the user may use it.
func (d *Door) commandProfile(userID string, params []string, usage string) (*app.Snapshot, *enroll.Requester, string, error) {
	if len(params) > 1 {
		return nil, nil, "", fmt.Errorf("usage: `%s`; `/cert profiles` lists the profiles you can use.", usage)
	}
	s, requester, err := d.commandRequester(userID)
	if err != nil {
		return nil, nil, "", err
	}
	requested := ""
	if len(params) == 1 {
		requested = params[0]
	}
	return s, requester, requested, nil
}

// commandRequester is the account that runs a command, with the services
// that serve it.
func (d *Door) commandRequester(userID string) (*app.Snapshot, *enroll.Requester, error) {
	s, err := d.Current.Get()
	if err != nil {
		return nil, nil, err
	}
	requester, err := d.Directory.Requester(userID)
	if err != nil {
		return nil, nil, err
	}
	return s, requester, nil
}

// chatNext words, in the chat, the steps the core's refusals leave; a
// step with no words here is told in the core's (its Hint).
var chatNext = map[enroll.Next]string{
	enroll.NextNewLink:     "Run `/cert download` (or `/cert csr`) to get a new link.",
	enroll.NextUseCSR:      "Run `/cert csr` with the profile to upload a request for your device's key.",
	enroll.NextAskApproval: "Run `/cert download` with the profile to ask an approver; the page that collects the certificate can email it.",
	enroll.NextSeeRequests: "`/cert list` shows your requests.",
	enroll.NextFreeASlot:   "Revoke one you no longer use (`/cert revoke <serial> superseded`), then ask again; `/cert list` shows them.",
}

// chatError words a refusal of the core for a chat reply: what happened,
// then what to do.
func chatError(e *enroll.Error) error {
	if e == nil {
		return errors.New("something went wrong; please try again.")
	}
	msg := mattermost.MarkdownCell(e.Message)
	if next, ok := chatNext[e.Next]; ok {
		msg += " " + next
	} else if e.Hint != "" {
		msg += " " + mattermost.MarkdownCell(e.Hint)
	}
	return errors.New(msg)
}

func (d *Door) commandProfiles(_ context.Context, args *model.CommandArgs, _ []string) (string, error) {
	s, requester, err := d.commandRequester(args.UserId)
	if err != nil {
		return "", err
	}
	usable := s.Core.UsableProfiles(requester)
	if len(usable) == 0 {
		return "No certificate profile is open to you; ask an administrator.", nil
	}
	var b strings.Builder
	b.WriteString("#### Certificates you can get\n\n| Profile | Description | Valid for | Key |\n|:--|:--|:--|:--|\n")
	for _, prof := range usable {
		name := "`" + prof.Name + "`"
		if prof.Name == s.Catalog.DefaultProfile {
			name += " (default)"
		}
		fmt.Fprintf(&b, "| %s | %s | %d days | %s |\n", name, mattermost.MarkdownCell(prof.Description), prof.ValidityDays, prof.GeneratedKeyType().Label())
	}
	b.WriteString("\nRun `/cert download <profile>` to get one.")
	return b.String(), nil
}

func (d *Door) commandList(_ context.Context, args *model.CommandArgs, _ []string) (string, error) {
	s, err := d.Current.Get()
	if err != nil {
		return "", err
	}
	owner := records.MattermostUser(args.UserId)
	certs, err := s.Core.Certificates(owner)
	if err != nil {
		d.API.LogError("Could not list certificates", "user_id", args.UserId, "error", err.Error())
		return "", errors.New("your certificates could not be listed right now; please try again.")
	}
	requests, err := s.Core.Requests(owner)
	if err != nil {
		d.API.LogError("Could not list certificate requests", "user_id", args.UserId, "error", err.Error())
		return "", errors.New("your certificates could not be listed right now; please try again.")
	}
	var open []*records.Request
	for _, r := range requests {
		if !r.State.Final() {
			open = append(open, r)
		}
	}
	if len(certs) == 0 && len(open) == 0 {
		return "You have no certificates yet. Run `/cert download` to get one.", nil
	}
	now := d.Now()
	var b strings.Builder
	if len(certs) > 0 {
		b.WriteString("#### Your certificates\n\n| Serial | Subject | Expires | State | Key |\n|:--|:--|:--|:--|:--|\n")
		for i := len(certs) - 1; i >= 0; i-- {
			c := certs[i]
			state := c.StateAt(now)
			if c.RevocationPending {
				state += " (pending at the CA)"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", c.Serial, mattermost.MarkdownCell(c.Subject), c.NotAfter.UTC().Format("2006-01-02"), state, keyOrigin(c))
		}
	}
	if len(open) > 0 {
		b.WriteString("\n#### Your open requests\n\n| Request | Profile | Requested | State |\n|:--|:--|:--|:--|\n")
		for _, r := range open {
			state := string(r.State)
			if r.State == records.RequestApproved {
				state = "approved: `/cert pickup " + r.ID + "`"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", r.ID, r.Profile, r.CreatedAt.UTC().Format("2006-01-02 15:04"), state)
		}
	}
	return b.String(), nil
}

func (d *Door) commandRevoke(ctx context.Context, args *model.CommandArgs, params []string) (string, error) {
	if len(params) < 1 || len(params) > 2 {
		return "", errors.New("usage: `/cert revoke <serial> [reason]`; `/cert list` shows your serials.")
	}
	reason := ""
	if len(params) == 2 {
		reason = params[1]
	}
	serial, err := ownSerial(params[0])
	if err != nil {
		return "", err
	}
	s, requester, err := d.commandRequester(args.UserId)
	if err != nil {
		return "", err
	}
	revoked, err := s.Core.Revoke(ctx, requester, serial, reason)
	switch {
	case enroll.AsError(err) != nil && enroll.AsError(err).Code == enroll.CodeInvalid:
		return "", chatError(enroll.AsError(err))
	case errors.Is(err, enroll.ErrNotOwner), errors.Is(err, enroll.ErrAlreadyRevoked):
		return "", fmt.Errorf("%s (`%s`).", strings.TrimSuffix(enroll.AsError(err).Message, "."), serial)
	case err != nil:
		d.API.LogError("Could not revoke a certificate", "user_id", args.UserId, "serial", serial, "error", err.Error())
		return "", errors.New("the certificate could not be revoked right now; please try again.")
	}
	return mattermost.RevokedWords(revoked, ""), nil
}

// reasonHelp explains each revocation reason in the autocomplete.
var reasonHelp = map[string]string{
	records.ReasonUnspecified:          "no particular reason",
	records.ReasonKeyCompromise:        "the private key was lost or may be known to someone else",
	records.ReasonAffiliationChanged:   "you changed role or left",
	records.ReasonSuperseded:           "a new certificate replaces it",
	records.ReasonCessationOfOperation: "it is not needed any more",
}

// keyOrigin says in a few words where a certificate's key came from.
func keyOrigin(c *records.Certificate) string {
	switch c.Origin {
	case records.OriginCSR:
		if c.Attestation != nil {
			return "your own, attested by " + mattermost.MarkdownCell(enroll.AttestationLabel(c.Attestation))
		}
		return "your own (CSR)"
	case records.OriginImported:
		return "registered"
	}
	return "made by the server"
}

func (d *Door) commandCancel(_ context.Context, args *model.CommandArgs, params []string) (string, error) {
	if len(params) != 1 {
		return "", errors.New("usage: `/cert cancel <request>`; `/cert list` shows your open requests.")
	}
	s, requester, err := d.commandRequester(args.UserId)
	if err != nil {
		return "", err
	}
	req, err := s.Core.Cancel(requester, params[0])
	if err != nil {
		return "", d.requestCommandError(err)
	}
	return fmt.Sprintf("Request `%s` is withdrawn.", req.ID), nil
}

func (d *Door) commandPickup(_ context.Context, args *model.CommandArgs, params []string) (string, error) {
	if len(params) != 1 {
		return "", errors.New("usage: `/cert pickup <request>`; `/cert list` shows your open requests.")
	}
	s, requester, err := d.commandRequester(args.UserId)
	if err != nil {
		return "", err
	}
	req, link, err := s.Core.Pickup(requester, params[0])
	if err != nil {
		return "", d.requestCommandError(err)
	}
	u, err := d.site().LinkURL(link)
	if err != nil {
		return "", chatError(enroll.AsError(err))
	}
	return fmt.Sprintf("[Collect my certificate](%s) (request `%s`). The link works once and expires at %s.",
		u, req.ID, link.ExpiresAt.UTC().Format(time.RFC1123)), nil
}

func (d *Door) commandApprove(_ context.Context, args *model.CommandArgs, params []string) (string, error) {
	if len(params) != 1 {
		return "", errors.New("usage: `/cert approve <request>`.")
	}
	s, approver, err := d.commandRequester(args.UserId)
	if err != nil {
		return "", err
	}
	decision, err := s.Core.Approve(params[0], approver)
	return d.approvalReply(decision, err), nil
}

func (d *Door) commandDeny(_ context.Context, args *model.CommandArgs, params []string) (string, error) {
	if len(params) < 2 {
		return "", errors.New("usage: `/cert deny <request> <reason>`: the requester is told the reason.")
	}
	s, approver, err := d.commandRequester(args.UserId)
	if err != nil {
		return "", err
	}
	_, err = s.Core.Deny(params[0], approver, strings.Join(params[1:], " "))
	return d.decisionReply(err, "denied"), nil
}

// requestCommandError words a request failure for the requester.
func (d *Door) requestCommandError(err error) error {
	var te *records.ErrTransition
	switch {
	case errors.Is(err, enroll.ErrRequestNotFound):
		return errors.New("no request with this id is yours; `/cert list` shows your open requests.")
	case errors.As(err, &te):
		return fmt.Errorf("this request is %s.", te.From)
	}
	d.API.LogError("Certificate request command failed", "error", err.Error())
	return errors.New("the request could not be changed right now; please try again.")
}

// postEphemeral answers a command as the bot, visible only to the user.
func (d *Door) postEphemeral(args *model.CommandArgs, message string) {
	d.API.SendEphemeralPost(args.UserId, &model.Post{
		UserId:    d.BotID,
		ChannelId: args.ChannelId,
		RootId:    args.RootId,
		Message:   message,
	})
}

// downloadByEmail is `/cert download --email`: the certificate is made now
// and emailed; its passphrase is in the reply, which only the user sees and
// which is not stored. If the email cannot be sent, the certificate waits
// for the user to download it instead.
func (d *Door) downloadByEmail(ctx context.Context, s *app.Snapshot, r *enroll.Requester, profileName string) (string, error) {
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
		link, linkErr := d.site().LinkURL(delivery.Pickup)
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

// ownSerial reads the serial of one of the user's certificates from a
// command's argument.
func ownSerial(param string) (string, error) {
	serial := pki.NormalizeSerial(param)
	if serial == "" {
		return "", fmt.Errorf("`%s` is not a certificate serial; `/cert list` shows your serials.", mattermost.MarkdownCell(param))
	}
	return serial, nil
}
