package mattermost

import (
	"fmt"
	"html"
	"math/big"
	"strings"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
)

// NotifierAPI is what the notifier needs of the server.
type NotifierAPI interface {
	GetPost(postID string) (*model.Post, *model.AppError)
	UpdatePost(post *model.Post) (*model.Post, *model.AppError)
	SendMail(to, subject, htmlBody string) *model.AppError
	LogWarn(msg string, keyValuePairs ...any)
}

// Routes of the buttons the notifier's posts carry, relative to the
// plugin's root; the chat door serves them.
const (
	ActionApprove    = "/actions/approve"
	ActionDeny       = "/actions/deny"
	DialogDenySubmit = "/actions/deny/submit"
	// DialogEnrollSubmit answers /cert enroll's dialog.
	DialogEnrollSubmit = "/actions/enroll/submit"
	ActionRenew        = "/actions/renew"

	// EventOpenEnroll opens the web app's enroll modal (the webapp hears
	// custom_<plugin id>_open_enroll), with "tab", "profile" and "renews".
	EventOpenEnroll = "open_enroll"
)

// Notifier is the core's Notifier for Mattermost accounts: DMs from the
// bot, and emails too when the admin enabled email notifications.
type Notifier struct {
	API     NotifierAPI
	Bot     *Bot
	Names   *Directory
	Current *app.Current
	// EmailNotifications says whether the admin wants notices mailed too.
	EmailNotifications func() bool
	// ReminderSent counts an expiry reminder.
	ReminderSent func()
}

func (n *Notifier) CertificateIssued(owner *enroll.Requester, c *records.Certificate) {
	n.notifyUser(owner, "Certificate issued", fmt.Sprintf("A client certificate was issued to you.\n\n"+
		"- Serial: `%s`\n- Subject: `%s`\n- Expires: %s\n\n"+
		"If this was not you, run `/cert revoke %s` now and tell your administrator.",
		c.Serial, c.Subject, c.NotAfter.UTC().Format(time.RFC1123), c.Serial))
}

func (n *Notifier) CertificateRevoked(owner *enroll.Requester, c *records.Certificate, by *enroll.Requester) {
	effect := "It no longer opens what it used to."
	if c.RevocationPending {
		// Services that ask the CA still accept it until the CA is told.
		effect = "Its CA could not be reached just now; it is told as soon as it answers."
	}
	n.notifyUser(owner, "Certificate revoked", fmt.Sprintf("@%s revoked your certificate `%s` (%s): %s. %s",
		by.Username, c.Serial, MarkdownCell(c.Subject), c.RevocationReason, effect))
}

func (n *Notifier) RenewalOverlapEnded(owner *enroll.Requester, replaced *records.Certificate) {
	n.notifyUser(owner, "Renewed certificate revoked", fmt.Sprintf("You renewed your certificate `%s` (%s) a while ago, and the time "+
		"both could be used is over: it is now revoked (superseded). Use its renewal; `/cert list` shows it.", replaced.Serial, MarkdownCell(replaced.Subject)))
}

// KeyCompromised tells an owner which of their certificates a compromised
// key took with it.
func (n *Notifier) KeyCompromised(owner *enroll.Requester, reported *records.Certificate, theirs []*records.Certificate) {
	n.notifyUser(owner, "Key compromised", fmt.Sprintf("The key of certificate `%s` was reported compromised by %s, so that key is "+
		"never certified again. Your certificates with that key are revoked:%s\n\nMake a new key for a new certificate: "+
		"`/cert download`, or a CSR of a new key with `/cert csr`.", reported.Serial, n.Names.ActorName(reported.RevokedBy), certificateLines(theirs)))
}

// AdminNotifier is the core's AdminNotifier: DMs from the bot to every
// system admin.
type AdminNotifier struct {
	Notices *AdminNotices
	Names   *Directory
}

// KeyCompromised tells the system admins every certificate a compromised
// key took with it.
func (n *AdminNotifier) KeyCompromised(reported *records.Certificate, alsoRevoked []*records.Certificate) {
	all := append([]*records.Certificate{reported}, alsoRevoked...)
	n.Notices.Send(fmt.Sprintf("**Client Certificates:** %s revoked certificate `%s` of %s because its key was compromised. "+
		"That key is never certified again, and every valid certificate with it is revoked:%s",
		n.Names.ActorName(reported.RevokedBy), reported.Serial, n.Names.OwnerName(reported.Owner), certificateLines(all)))
}

// certificateLines lists certificates for a message, a line each.
func certificateLines(certs []*records.Certificate) string {
	var b strings.Builder
	for _, c := range certs {
		fmt.Fprintf(&b, "\n- `%s` %s", c.Serial, MarkdownCell(c.Subject))
	}
	return b.String()
}

func (n *Notifier) CertificateRegistered(owner, by *enroll.Requester, c *records.Certificate) {
	n.notifyUser(owner, "Certificate registered", "@"+by.Username+" registered your certificate `"+c.Serial+"` ("+
		MarkdownCell(c.Subject)+"). It is now in `/cert list`.")
}

// ApprovalNeeded asks each approver in a DM with Approve and Deny buttons;
// the post's id is the reference RequestClosed updates.
func (n *Notifier) ApprovalNeeded(req *records.Request, owner *enroll.Requester, prof *profile.Profile, subject connector.Subject, approvers []records.Principal) []records.ApprovalNotice {
	var asked []records.ApprovalNotice
	for _, approver := range approvers {
		post, err := n.Bot.DM(approver.MattermostUserID(), approvalPost(n.Current.Site().PluginID, req, owner, prof, subject))
		if err != nil {
			n.API.LogWarn("Could not ask an approver", "request", req.ID, "approver", string(approver), "error", err.Error())
			continue
		}
		asked = append(asked, records.ApprovalNotice{Approver: approver, Ref: post.Id})
	}
	return asked
}

// RequestClosed updates every approver's copy of the request message.
func (n *Notifier) RequestClosed(req *records.Request, asked []records.ApprovalNotice, text string) {
	for _, ap := range asked {
		post, appErr := n.API.GetPost(ap.Ref)
		if appErr != nil {
			continue
		}
		closed := DecisionPost(req, text)
		post.Message = closed.Message
		post.SetProps(closed.GetProps())
		if _, appErr := n.API.UpdatePost(post); appErr != nil {
			n.API.LogWarn("Could not update an approval message", "request", req.ID, "post_id", ap.Ref, "error", appErr.Error())
		}
	}
}

func (n *Notifier) RequestApproved(owner *enroll.Requester, req *records.Request, approvers []string, pickup *enroll.Link) {
	n.notifyUser(owner, "Certificate request approved", fmt.Sprintf(
		"%s approved your request `%s` for a certificate of profile `%s`. %s", strings.Join(approvers, " and "), req.ID, req.Profile, n.collect(req, pickup)))
}

func (n *Notifier) RequestDenied(owner *enroll.Requester, req *records.Request, by string) {
	if by == "" {
		n.notifyUser(owner, "Certificate request denied", fmt.Sprintf("The certificate authority refused your request `%s`: %s",
			req.ID, strings.TrimPrefix(req.Reason, enroll.CARefusalPrefix)))
		return
	}
	n.notifyUser(owner, "Certificate request denied", fmt.Sprintf(
		"@%s denied your request `%s` for a certificate of profile `%s`: %s", by, req.ID, req.Profile, req.Reason))
}

func (n *Notifier) WaitingForCA(owner *enroll.Requester, req *records.Request) {
	n.notifyUser(owner, "Certificate request waiting for the CA", fmt.Sprintf(
		"The certificate authority must approve your request `%s`. You will get a message with a link to collect the certificate when it does; `/cert cancel %s` withdraws it.",
		req.ID, req.ID))
}

func (n *Notifier) CertificateReady(owner *enroll.Requester, req *records.Request, pickup *enroll.Link) {
	n.notifyUser(owner, "Certificate ready", fmt.Sprintf(
		"The certificate authority issued your request `%s`. %s", req.ID, n.collect(req, pickup)))
}

// ExpiryReminder tells the owner a certificate expires soon, with a Renew
// button that gives a new link for the same profile.
func (n *Notifier) ExpiryReminder(owner *enroll.Requester, c *records.Certificate, daysLeft int) {
	when := fmt.Sprintf("in %d days", daysLeft)
	if daysLeft <= 1 {
		when = "within a day"
	}
	text := fmt.Sprintf("Your certificate `%s` (%s) expires %s, on %s. Renew it before then to keep your VPN, Wi-Fi and other access.",
		c.Serial, MarkdownCell(c.Subject), when, c.NotAfter.UTC().Format(time.RFC1123))
	post := n.renewPost(c, "Certificate "+c.Serial+" expires "+when, text)
	n.notifyWith(owner, "your certificate expires "+when, post, text+" Run /cert download "+c.Profile+" in Mattermost to renew it.")
	n.ReminderSent()
}

// EmailChanged asks the owner to renew a certificate that names an email
// they no longer have: services that check it (S/MIME, 802.1X with email
// identities) may refuse it.
func (n *Notifier) EmailChanged(owner *enroll.Requester, c *records.Certificate) {
	text := fmt.Sprintf("Your certificate `%s` (%s) names %s, which is no longer your email address (it is now %s). Renew it to get one with your current address.",
		c.Serial, MarkdownCell(c.Subject), MarkdownCell(strings.Join(c.Emails, ", ")), MarkdownCell(owner.Email))
	post := n.renewPost(c, "Certificate "+c.Serial+" names your old email", text)
	n.notifyWith(owner, "your certificate names your old email", post, text+" Run /cert renew "+c.Serial+" in Mattermost to renew it.")
}

// RevocationNotAccepted tells the system admins (by permission) that a
// certificate's CA has not accepted its revocation, in words they can act
// on: which certificate, which CA, what it said, what to do.
func (n *AdminNotifier) RevocationNotAccepted(c *records.Certificate) {
	n.Notices.Send(revocationNotAcceptedNotice(c, n.Names.OwnerName(c.Owner)))
}

// revocationNotAcceptedNotice is the admins' message about a revocation
// still pending at the CA. It names no secret: the CA's answer is the
// connector's message, which is safe to show.
func revocationNotAcceptedNotice(c *records.Certificate, owner string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "**Client Certificates:** the CA has not accepted the revocation of the certificate `%s` (%s, of %s)", c.Serial, MarkdownCell(c.Subject), owner)
	if c.RevokedAt != nil {
		fmt.Fprintf(&b, ", revoked here on %s (%s)", c.RevokedAt.UTC().Format(time.RFC1123), MarkdownCell(c.RevocationReason))
	}
	fmt.Fprintf(&b, ". The CA connector `%s` was told again %s since; its last answer was \"%s\".\n\n",
		MarkdownCell(c.Connector), Times(c.RevocationAttempts), MarkdownCell(c.RevocationCAAnswer))
	fmt.Fprintf(&b, "Until the CA accepts it, the CA's revocation list and OCSP answers do not name this certificate, so services that check with that CA still accept it, until it expires on %s.\n\n",
		c.NotAfter.UTC().Format("2006-01-02"))
	b.WriteString("**What to do:** revoke it at the CA by hand")
	if serial, ok := new(big.Int).SetString(c.Serial, 16); ok {
		fmt.Fprintf(&b, " (serial `%s`, in decimal `%s`)", c.Serial, serial.String())
	}
	fmt.Fprintf(&b, ", or fix what the CA refuses, such as the connector's credentials (for step-ca, its provisioner and password) in System Console > Plugins > Client Certificates. "+
		"The plugin keeps telling the CA, about once an hour, until it accepts; `/cert admin show %s` says whether it still waits.", c.Serial)
	return b.String()
}

// renewPost is a notice about c with a Renew button (ActionRenew, which
// the chat door serves).
func (n *Notifier) renewPost(c *records.Certificate, title, text string) *model.Post {
	post := &model.Post{Message: text}
	model.ParseSlackAttachment(post, []*model.SlackAttachment{{
		Title: title,
		Text:  text,
		Actions: []*model.PostAction{{Id: "renew", Name: "Renew", Style: "primary",
			Integration: &model.PostActionIntegration{URL: "/plugins/" + n.Current.Site().PluginID + ActionRenew, Context: map[string]any{"serial": c.Serial}}}},
	}})
	return post
}

func (n *Notifier) RequestExpired(owner *enroll.Requester, req *records.Request) {
	n.notifyUser(owner, "Certificate request expired", "Your certificate request `"+req.ID+
		"` expired. Run `/cert download "+req.Profile+"` to ask again.")
}

// collect is the sentence that hands out a pickup link.
func (n *Notifier) collect(req *records.Request, pickup *enroll.Link) string {
	link, err := n.Current.Site().LinkURL(pickup)
	if err != nil {
		return "Run `/cert pickup " + req.ID + "` to collect it."
	}
	return fmt.Sprintf("[Collect my certificate](%s)\n\nThe link works once and expires at %s; `/cert pickup %s` gives a new one.",
		link, pickup.ExpiresAt.UTC().Format(time.RFC1123), req.ID)
}

// notifyUser tells a user about their certificate request: a DM from the
// bot always, and an email too when the admin enabled email notifications.
func (n *Notifier) notifyUser(owner *enroll.Requester, subject, message string) {
	n.notifyWith(owner, subject, &model.Post{Message: message}, message)
}

// notifyWith sends post as the bot's DM, and mailText by email when the
// admin enabled email notifications.
func (n *Notifier) notifyWith(owner *enroll.Requester, subject string, post *model.Post, mailText string) {
	userID := owner.Principal.MattermostUserID()
	if _, err := n.Bot.DM(userID, post); err != nil {
		n.API.LogWarn("Could not send a notification", "user_id", userID, "error", err.Error())
	}
	if !n.EmailNotifications() || owner.Email == "" {
		return
	}
	body := "<p>" + html.EscapeString(mailText) + "</p>"
	if appErr := n.API.SendMail(owner.Email, "Client certificates: "+subject, body); appErr != nil {
		n.API.LogWarn("Could not send a notification email", "user_id", userID, "error", appErr.Error())
	}
}

// approvalPost is the message with Approve and Deny buttons an approver gets.
func approvalPost(pluginID string, req *records.Request, owner *enroll.Requester, prof *profile.Profile, subject connector.Subject) *model.Post {
	who := "@" + owner.Username
	if owner.Principal.Kind() != records.KindMattermost {
		// Not a Mattermost user: no @, which would name one.
		who = CodeSpan(owner.Username) + " (" + owner.Principal.Kind() + " account, not in Mattermost)"
	}
	text := fmt.Sprintf("%s asks for a certificate of profile `%s` (request `%s`).\n\n- Name: `%s`\n- Valid for: %d days",
		who, prof.Name, req.ID, subject.CommonName, prof.ValidityDays)
	if len(subject.Emails) > 0 {
		text += "\n- Email: " + subject.Emails[0]
	}
	if needed := prof.ApprovalsNeeded(); needed > 1 {
		text += fmt.Sprintf("\n- Needs %d approvers", needed)
	}
	switch {
	case req.Attestation != nil:
		text += fmt.Sprintf("\n- Key: the requester's own %s key, attested by a hardware device (%s)", pki.KeyType(req.KeyType).Label(), enroll.AttestationLabel(req.Attestation))
	case req.CSRPEM != "":
		text += fmt.Sprintf("\n- Key: the requester's own %s key (uploaded CSR)", pki.KeyType(req.KeyType).Label())
	}
	actionURL := func(route string) string { return "/plugins/" + pluginID + route }
	context := map[string]any{"request_id": req.ID}
	post := &model.Post{Message: "Certificate request `" + req.ID + "` needs your approval."}
	model.ParseSlackAttachment(post, []*model.SlackAttachment{{
		Title: "Certificate request " + req.ID,
		Text:  text,
		Actions: []*model.PostAction{
			{Id: "approve", Name: "Approve", Style: "primary", Integration: &model.PostActionIntegration{URL: actionURL(ActionApprove), Context: context}},
			{Id: "deny", Name: "Deny", Style: "danger", Integration: &model.PostActionIntegration{URL: actionURL(ActionDeny), Context: context}},
		},
	}})
	return post
}

// DecisionPost replaces the buttons once a request is decided, so every
// approver sees who decided.
func DecisionPost(req *records.Request, text string) *model.Post {
	post := &model.Post{Message: "Certificate request `" + req.ID + "`: " + text}
	model.ParseSlackAttachment(post, []*model.SlackAttachment{{Title: "Certificate request " + req.ID, Text: text}})
	return post
}
