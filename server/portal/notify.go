package portal

import (
	"fmt"
	"html"
	"strings"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// Notifier tells the portal's people, who have no chat, by email: what was
// issued or revoked in their name, how their requests went, when a
// certificate expires. Every link leads to the portal.
type Notifier struct {
	// Mail sends one email (the server's SMTP settings); an HTML body.
	Mail    func(to, subject, htmlBody string) error
	Current *app.Current
	Log     interface {
		LogWarn(msg string, keyValuePairs ...any)
	}
	// ReminderSent counts a reminder sent; nil counts nothing.
	ReminderSent func()
}

var _ enroll.Notifier = (*Notifier)(nil)

// send mails owner; a failure is logged, never undoes what it reports.
func (n *Notifier) send(owner *enroll.Requester, subject string, paragraphs ...string) {
	if owner.Email == "" {
		return
	}
	var body strings.Builder
	for _, p := range paragraphs {
		body.WriteString("<p>" + strings.ReplaceAll(html.EscapeString(p), "\n", "<br>") + "</p>")
	}
	if err := n.Mail(owner.Email, "Client certificates: "+subject, body.String()); err != nil {
		n.Log.LogWarn("Could not send a notification email", "principal", string(owner.Principal), "error", err.Error())
	}
}

// home is the portal's address, where every notice sends its reader.
func (n *Notifier) home() string {
	if u := n.Current.Site().PortalURL(); u != "" {
		return "Your certificates: " + u + "/"
	}
	return "Sign in to the certificate portal to see your certificates."
}

func describe(c *records.Certificate) string {
	return fmt.Sprintf("%s (serial %s, expires %s)", c.Subject, c.Serial, c.NotAfter.UTC().Format(time.RFC1123))
}

func (n *Notifier) CertificateIssued(owner *enroll.Requester, c *records.Certificate) {
	n.send(owner, "a certificate was issued in your name", "A certificate was issued in your name: "+describe(c)+".",
		"If you did not ask for it, revoke it and tell your administrator.", n.home())
}

func (n *Notifier) CertificateRevoked(owner *enroll.Requester, c *records.Certificate, by *enroll.Requester) {
	n.send(owner, "your certificate was revoked", "An administrator revoked your certificate "+describe(c)+" ("+c.RevocationReason+").", n.home())
}

func (n *Notifier) RenewalOverlapEnded(owner *enroll.Requester, replaced *records.Certificate) {
	n.send(owner, "your renewed certificate was revoked", "Your certificate "+describe(replaced)+" was renewed, and is now revoked as its renewal planned.", n.home())
}

func (n *Notifier) KeyCompromised(owner *enroll.Requester, reported *records.Certificate, theirs []*records.Certificate) {
	lines := make([]string, 0, len(theirs))
	for _, c := range theirs {
		lines = append(lines, "- "+describe(c))
	}
	n.send(owner, "a key was reported compromised", "The key of certificate "+reported.Serial+" was reported compromised, and it is never certified again. These certificates of yours were revoked with it:\n"+strings.Join(lines, "\n"), n.home())
}

func (n *Notifier) CertificateRegistered(owner, by *enroll.Requester, c *records.Certificate) {
	n.send(owner, "a certificate was registered for you", "An administrator registered a certificate for you: "+describe(c)+".", n.home())
}

// ApprovalNeeded: the portal's people approve nothing.
func (n *Notifier) ApprovalNeeded(*records.Request, *enroll.Requester, *profile.Profile, connector.Subject, []records.Principal) []records.ApprovalNotice {
	return nil
}

// RequestClosed: no approver was asked by this notifier.
func (n *Notifier) RequestClosed(*records.Request, []records.ApprovalNotice, string) {}

func (n *Notifier) RequestApproved(owner *enroll.Requester, req *records.Request, _ []string, pickup *enroll.Link) {
	n.send(owner, "your certificate request was approved", "Your certificate request "+req.ID+" (profile "+req.Profile+") was approved.", n.collect(pickup))
}

func (n *Notifier) RequestDenied(owner *enroll.Requester, req *records.Request, by string) {
	who := "An approver"
	if by == "" {
		who = "The certificate authority"
	}
	n.send(owner, "your certificate request was denied", who+" denied your certificate request "+req.ID+" (profile "+req.Profile+"): "+
		strings.TrimPrefix(req.Reason, enroll.CARefusalPrefix), n.home())
}

func (n *Notifier) WaitingForCA(owner *enroll.Requester, req *records.Request) {
	n.send(owner, "your certificate request waits for the CA", "The CA has your certificate request "+req.ID+" and has not issued it yet. You will get an email when it does.")
}

func (n *Notifier) CertificateReady(owner *enroll.Requester, req *records.Request, pickup *enroll.Link) {
	n.send(owner, "your certificate is ready", "The certificate of your request "+req.ID+" (profile "+req.Profile+") is ready.", n.collect(pickup))
}

func (n *Notifier) ExpiryReminder(owner *enroll.Requester, c *records.Certificate, daysLeft int) {
	when := fmt.Sprintf("in %d days", daysLeft)
	if daysLeft <= 1 {
		when = "within a day"
	}
	n.send(owner, "your certificate expires "+when, "Your certificate "+describe(c)+" expires "+when+". Renew it before then to keep your access.",
		"Renew it from your certificates page. "+n.home())
	if n.ReminderSent != nil {
		n.ReminderSent()
	}
}

func (n *Notifier) RequestExpired(owner *enroll.Requester, req *records.Request) {
	n.send(owner, "your certificate request expired", "Your certificate request "+req.ID+" (profile "+req.Profile+") expired before it was decided. You may ask again.", n.home())
}

func (n *Notifier) EmailChanged(owner *enroll.Requester, c *records.Certificate) {
	n.send(owner, "your certificate names your old email", "Your certificate "+describe(c)+" names an email address that is no longer yours. Renew it to get one with your current address.", n.home())
}

// collect hands out a pickup link to the portal's page, or says where to
// collect.
func (n *Notifier) collect(pickup *enroll.Link) string {
	link, err := n.Current.Site().PortalLinkURL(pickup)
	if err != nil || pickup == nil {
		return "Collect it from your certificates page. " + n.home()
	}
	return "Collect it here (the link works once and expires at " + pickup.ExpiresAt.UTC().Format(time.RFC1123) + "): " + link +
		"\nOr collect it from your certificates page. " + n.home()
}
