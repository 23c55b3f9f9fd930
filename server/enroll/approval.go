package enroll

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"

	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
)

var (
	// ErrNotApprover is a decision by someone who may not decide.
	ErrNotApprover = &Error{Code: CodeForbidden, Message: "You are not an approver for this kind of certificate."}
	// ErrOwnRequest is an approver deciding their own request.
	ErrOwnRequest = &Error{Code: CodeForbidden, Message: "You cannot decide your own certificate request; another approver must."}
	// ErrAlreadyApproved is an approver saying yes twice.
	ErrAlreadyApproved = &Error{Code: CodeConflict, Message: "You have already approved this request; it needs another approver too."}
	// ErrRequestNotFound is a request that does not exist or is not the
	// requester's.
	ErrRequestNotFound = &Error{Code: CodeNotFound, Message: "No such certificate request."}
)

// newRequestID is short enough to type by hand.
func newRequestID() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return "r-" + hex.EncodeToString(b)
}

// eligibleApprovers are the principals that may decide r's request for
// prof: its approvers, never r.
func (c *Core) eligibleApprovers(r *Requester, prof *profile.Profile) []records.Principal {
	return slices.DeleteFunc(c.approversOf(prof), func(p records.Principal) bool { return p == r.Principal })
}

// requestApproval records a request for a profile that needs an approver and
// asks the approvers. Nothing is generated yet: for a server-generated key
// the key is made at pickup. csr is the requester's checked CSR, if they
// sent one; renews is the certificate it is to replace, if any. A request
// nobody else could approve is refused at once.
func (c *Core) requestApproval(r *Requester, prof *profile.Profile, csr *checkedCSR, renews string) (*records.Request, error) {
	if err := c.checkLimits(r, prof, renews); err != nil {
		return nil, err
	}
	approvers := c.eligibleApprovers(r, prof)
	if len(approvers) < prof.ApprovalsNeeded() {
		c.log.LogWarn("A certificate request cannot be approved: too few approvers besides the requester",
			"profile", prof.Name, "principal", string(r.Principal), "approvers", len(approvers), "approvals_required", prof.ApprovalsNeeded())
		return nil, &Error{Code: CodeForbidden,
			Message: fmt.Sprintf("Nobody could approve a certificate of profile %s for you: it needs %d approver(s) besides you, as nobody approves their own request.", prof.Name, prof.ApprovalsNeeded()),
			Next:    NextAskAdmin, Hint: "Ask an administrator to add an approver to this profile."}
	}
	now := c.now()
	req := &records.Request{
		ID:        newRequestID(),
		Owner:     r.Principal,
		Profile:   prof.Name,
		Connector: prof.Connector,
		State:     records.RequestPending,
		CreatedAt: now,
		UpdatedAt: now,
		ExpiresAt: now.Add(RequestLifetime),
		Renews:    renews,
	}
	if csr != nil {
		req.CSRPEM = csrPEM(csr.csr)
		req.KeyType = string(csr.keyType)
		req.Attestation = csr.attestation
	}
	if err := c.store.CreateRequest(req); err != nil {
		return nil, err
	}
	if asked := c.askApprovers(req, r, prof, approvers); len(asked) > 0 {
		updated, err := c.store.UpdateRequest(req.ID, c.now(), func(rq *records.Request) error {
			rq.ApprovalNotices = asked
			return nil
		})
		if err != nil {
			return nil, err
		}
		req = updated
	}
	c.log.LogInfo("Certificate request waiting for approval", "request", req.ID, "principal", string(r.Principal), "profile", prof.Name)
	return req, nil
}

// MayApprove reports whether r may decide requests for prof: one of its
// approvers, or a system admin when it names none.
func (c *Core) MayApprove(r *Requester, prof *profile.Profile) bool {
	if r == nil || !r.Active || r.Bot {
		return false
	}
	if len(prof.Approvers) == 0 {
		return c.IsAdmin(r)
	}
	return slices.Contains(c.approversOf(prof), r.Principal)
}

// Decision is what came of an approver's click.
type Decision struct {
	Request *records.Request
	// Final says the request is decided; otherwise it waits for more
	// approvals.
	Final bool
	// Remaining is how many approvals it still needs.
	Remaining int
}

// Approve records an approver's yes. Once the profile's approvals are
// in, the owner gets a pickup link.
func (c *Core) Approve(requestID string, approver *Requester) (*Decision, error) {
	req, prof, err := c.RequestForDecision(requestID, approver)
	if err != nil {
		return nil, err
	}
	needed := prof.ApprovalsNeeded()
	now := c.now()
	req, err = c.store.UpdateRequest(req.ID, now, func(r *records.Request) error {
		if r.State != records.RequestPending {
			return &records.ErrTransition{From: r.State, To: records.RequestApproved}
		}
		if slices.ContainsFunc(r.Approvals, func(a records.Approval) bool { return a.By == approver.Principal }) {
			return ErrAlreadyApproved
		}
		r.Approvals = append(r.Approvals, records.Approval{By: approver.Principal, At: now})
		if len(r.Approvals) >= needed {
			r.State = records.RequestApproved
			r.DecidedBy = string(approver.Principal)
			r.DecidedAt = &now
			r.ExpiresAt = now.Add(RequestLifetime)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if req.State != records.RequestApproved {
		remaining := needed - len(req.Approvals)
		c.log.LogInfo("Certificate request approved once, needs more", "request", req.ID, "approver", string(approver.Principal))
		return &Decision{Request: req, Remaining: remaining}, nil
	}
	names := c.approverNames(req)
	c.closeRequest(req, "✅ approved by "+strings.Join(names, ", "))
	c.log.LogInfo("Certificate request decided", "request", req.ID, "decision", string(records.RequestApproved), "approver", string(approver.Principal))
	owner, err := c.lookup(req.Owner)
	if err != nil {
		return &Decision{Request: req, Final: true}, nil
	}
	link, err := c.mintPickup(owner.Principal, req)
	if err != nil {
		return &Decision{Request: req, Final: true}, err
	}
	c.notifierOf(owner.Principal).RequestApproved(owner, req, names, link)
	return &Decision{Request: req, Final: true}, nil
}

// approverNames are the usernames of a request's approvers so far.
func (c *Core) approverNames(req *records.Request) []string {
	names := make([]string, 0, len(req.Approvals))
	for _, a := range req.Approvals {
		names = append(names, "@"+c.usernameOf(a.By))
	}
	return names
}

// Deny records an approver's no, with the reason the owner is given.
func (c *Core) Deny(requestID string, approver *Requester, reason string) (*records.Request, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		reason = "no reason given"
	}
	req, _, err := c.RequestForDecision(requestID, approver)
	if err != nil {
		return nil, err
	}
	now := c.now()
	req, err = c.store.MoveRequest(req.ID, now, []records.RequestState{records.RequestPending}, records.RequestDenied, func(r *records.Request) error {
		r.DecidedBy = string(approver.Principal)
		r.DecidedAt = &now
		r.Reason = reason
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.closeRequest(req, fmt.Sprintf("⛔ denied by @%s: %s", approver.Username, reason))
	c.log.LogInfo("Certificate request decided", "request", req.ID, "decision", string(records.RequestDenied), "approver", string(approver.Principal))
	c.releaseRequestKey(req)
	if owner, err := c.lookup(req.Owner); err == nil {
		c.notifierOf(owner.Principal).RequestDenied(owner, req, approver.Username)
	}
	return req, nil
}

// RequestForDecision loads a request an approver wants to decide and
// checks they may: an approver of its profile, not its owner, while it is
// pending.
func (c *Core) RequestForDecision(requestID string, approver *Requester) (*records.Request, *profile.Profile, error) {
	req, err := c.store.GetRequest(requestID)
	if errors.Is(err, records.ErrNotFound) {
		return nil, nil, ErrRequestNotFound
	}
	if err != nil {
		return nil, nil, err
	}
	prof, _, ok := c.ProfileNamed(req.Profile)
	if !ok {
		return nil, nil, fmt.Errorf("the profile %q of this request no longer exists", req.Profile)
	}
	if !c.MayApprove(approver, prof) {
		return nil, nil, ErrNotApprover
	}
	if req.Owner == approver.Principal {
		return nil, nil, ErrOwnRequest
	}
	if req.State != records.RequestPending {
		return nil, nil, &records.ErrTransition{From: req.State, To: records.RequestApproved}
	}
	return req, prof, nil
}

// Cancel withdraws the owner's own request.
func (c *Core) Cancel(owner *Requester, requestID string) (*records.Request, error) {
	req, err := c.store.GetRequest(requestID)
	if errors.Is(err, records.ErrNotFound) || (err == nil && req.Owner != owner.Principal) {
		return nil, ErrRequestNotFound
	}
	if err != nil {
		return nil, err
	}
	req, err = c.store.MoveRequest(requestID, c.now(), nil, records.RequestCancelled, func(r *records.Request) error {
		r.PendingKey, r.PendingKeyCopies = nil, nil
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.releaseRequestKey(req)
	c.closeRequest(req, "withdrawn by the requester")
	return req, nil
}

// Pickup gives the owner a new link that collects an approved request.
func (c *Core) Pickup(owner *Requester, requestID string) (*records.Request, *Link, error) {
	req, err := c.collectable(owner, requestID)
	if err != nil {
		return nil, nil, err
	}
	link, err := c.mintPickup(owner.Principal, req)
	if err != nil {
		return nil, nil, err
	}
	return req, link, nil
}

// collectable loads a request of owner's that can be collected now.
func (c *Core) collectable(owner *Requester, requestID string) (*records.Request, error) {
	req, err := c.store.GetRequest(requestID)
	if errors.Is(err, records.ErrNotFound) || (err == nil && req.Owner != owner.Principal) {
		return nil, ErrRequestNotFound
	}
	if err != nil {
		return nil, err
	}
	if req.State != records.RequestApproved {
		return nil, &records.ErrTransition{From: req.State, To: records.RequestIssued}
	}
	if c.now().After(req.ExpiresAt) {
		return nil, &records.ErrTransition{From: records.RequestExpired, To: records.RequestIssued}
	}
	return req, nil
}

// usernameOf is the username of p, as its directory knows it.
func (c *Core) usernameOf(p records.Principal) string {
	if r, err := c.lookup(p); err == nil {
		return r.Username
	}
	return string(p)
}
