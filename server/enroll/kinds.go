package enroll

import (
	"fmt"
	"slices"

	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// Each kind of principal has its directory and its notifier; the core asks
// the ones of whoever it is about, and knows no kind by name.

// directoryOf is the directory of p's kind, nil when none is registered.
func (c *Core) directoryOf(p records.Principal) Directory {
	return c.dirs[p.Kind()]
}

// lookup returns the requester p names, from the directory of its kind.
func (c *Core) lookup(p records.Principal) (*Requester, error) {
	dir := c.directoryOf(p)
	if dir == nil {
		return nil, fmt.Errorf("no directory knows principals of kind %q", p.Kind())
	}
	return dir.Lookup(p)
}

// notifierOf is the notifier that reaches p: the one of p's kind. A kind
// none is registered for is told nothing, as a notice is best effort; the
// log says what was not said.
func (c *Core) notifierOf(p records.Principal) Notifier {
	if n, ok := c.notifiers[p.Kind()]; ok {
		return n
	}
	c.log.LogWarn("No notifier reaches this kind of principal; the notice is dropped", "principal", string(p))
	return unreachable{}
}

// kinds are the kinds with a directory, in a stable order.
func (c *Core) kinds() []string {
	kinds := make([]string, 0, len(c.dirs))
	for kind := range c.dirs {
		kinds = append(kinds, kind)
	}
	slices.Sort(kinds)
	return kinds
}

// approversOf are the principals that may decide requests for prof, as
// every directory answers for its own accounts.
func (c *Core) approversOf(prof *profile.Profile) []records.Principal {
	var out []records.Principal
	for _, kind := range c.kinds() {
		for _, p := range c.dirs[kind].Approvers(prof.Name, prof.Approvers) {
			// A directory answers for its own kind only.
			if p.Kind() == kind {
				out = append(out, p)
			}
		}
	}
	return out
}

// byKind groups principals by kind, in the order kinds first appear.
func byKind[T any](items []T, principal func(T) records.Principal) ([]string, map[string][]T) {
	var kinds []string
	groups := map[string][]T{}
	for _, item := range items {
		kind := principal(item).Kind()
		if _, seen := groups[kind]; !seen {
			kinds = append(kinds, kind)
		}
		groups[kind] = append(groups[kind], item)
	}
	return kinds, groups
}

// askApprovers has each approver's notifier ask them to decide req.
func (c *Core) askApprovers(req *records.Request, owner *Requester, prof *profile.Profile, approvers []records.Principal) []records.ApprovalNotice {
	subject := c.SubjectFor(owner, prof)
	kinds, groups := byKind(approvers, func(p records.Principal) records.Principal { return p })
	var asked []records.ApprovalNotice
	for _, kind := range kinds {
		asked = append(asked, c.notifierOf(groups[kind][0]).ApprovalNeeded(req, owner, prof, subject, groups[kind])...)
	}
	return asked
}

// closeRequest has each notifier that asked approvers about req close its
// copies.
func (c *Core) closeRequest(req *records.Request, text string) {
	kinds, groups := byKind(req.ApprovalNotices, func(n records.ApprovalNotice) records.Principal { return n.Approver })
	for _, kind := range kinds {
		c.notifierOf(groups[kind][0].Approver).RequestClosed(req, groups[kind], text)
	}
}

// unreachable is the notifier of a kind nobody registered one for.
type unreachable struct{}

func (unreachable) CertificateIssued(*Requester, *records.Certificate)                      {}
func (unreachable) CertificateRevoked(*Requester, *records.Certificate, *Requester)         {}
func (unreachable) RenewalOverlapEnded(*Requester, *records.Certificate)                    {}
func (unreachable) KeyCompromised(*Requester, *records.Certificate, []*records.Certificate) {}
func (unreachable) CertificateRegistered(*Requester, *Requester, *records.Certificate)      {}
func (unreachable) RequestClosed(*records.Request, []records.ApprovalNotice, string)        {}
func (unreachable) RequestApproved(*Requester, *records.Request, []string, *Link)           {}
func (unreachable) RequestDenied(*Requester, *records.Request, string)                      {}
func (unreachable) WaitingForCA(*Requester, *records.Request)                               {}
func (unreachable) CertificateReady(*Requester, *records.Request, *Link)                    {}
func (unreachable) ExpiryReminder(*Requester, *records.Certificate, int)                    {}
func (unreachable) RequestExpired(*Requester, *records.Request)                             {}
func (unreachable) EmailChanged(*Requester, *records.Certificate)                           {}
func (unreachable) ApprovalNeeded(*records.Request, *Requester, *profile.Profile, connector.Subject, []records.Principal) []records.ApprovalNotice {
	return nil
}

// noAdmins stands for Ports.Admins when nothing reaches the
// administrators: what they would be told is only logged.
type noAdmins struct{ log Logger }

func (n noAdmins) KeyCompromised(reported *records.Certificate, _ []*records.Certificate) {
	n.log.LogWarn("Nothing reaches the administrators: a compromised key is not reported to them", "serial", reported.Serial)
}

func (n noAdmins) RevocationNotAccepted(c *records.Certificate) {
	n.log.LogWarn("Nothing reaches the administrators: a revocation the CA does not accept is not reported to them", "serial", c.Serial)
}
