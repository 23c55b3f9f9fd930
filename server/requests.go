package main

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pkg/errors"

	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

const (
	// requestLifetime is how long a request waits for a decision, and then
	// for its pickup.
	requestLifetime = 7 * 24 * time.Hour
	// pickupLinkLifetime is longer than an enrollment link: the user may
	// not be at their desk when an approver decides.
	pickupLinkLifetime = 24 * time.Hour

	routeActionApprove = "/actions/approve"
	routeActionDeny    = "/actions/deny"
	routeDialogDeny    = "/actions/deny/submit"
)

// newRequestID is short enough to type: `/cert cancel r-1a2b3c4d5e`.
func newRequestID() string {
	return "r-" + model.NewId()[:10]
}

// requestApproval records a request for a profile that needs an approver and
// asks the approvers. Nothing is generated yet: for a server-generated key
// the key is made at pickup. csr is the user's checked CSR, if they sent one.
func (p *Plugin) requestApproval(s *services, user *model.User, prof *profile.Profile, csr *checkedCSR) (*store.Request, error) {
	now := p.now()
	req := &store.Request{
		ID:        newRequestID(),
		Owner:     store.MattermostUser(user.Id),
		Profile:   prof.Name,
		Connector: prof.Connector,
		State:     store.RequestPending,
		CreatedAt: now,
		UpdatedAt: now,
		ExpiresAt: now.Add(requestLifetime),
	}
	if csr != nil {
		req.CSRPEM = csrPEM(csr.csr)
		req.KeyType = string(csr.keyType)
		req.Attestation = csr.attestation
	}
	if err := p.store.CreateRequest(req); err != nil {
		return nil, err
	}
	approvers := p.approversOf(prof)
	if len(approvers) == 0 {
		p.API.LogWarn("A certificate request has no approver to ask", "request", req.ID, "profile", prof.Name)
	}
	var posts []store.ApprovalPost
	for _, approverID := range approvers {
		post, err := p.dmPost(approverID, p.approvalPost(req, user, prof))
		if err != nil {
			p.API.LogWarn("Could not ask an approver", "request", req.ID, "approver", approverID, "error", err.Error())
			continue
		}
		posts = append(posts, store.ApprovalPost{UserID: approverID, PostID: post.Id})
	}
	if len(posts) > 0 {
		updated, err := p.store.UpdateRequest(req.ID, p.now(), func(r *store.Request) error {
			r.ApprovalPosts = posts
			return nil
		})
		if err != nil {
			return nil, err
		}
		req = updated
	}
	p.API.LogInfo("Certificate request waiting for approval", "request", req.ID, "user_id", user.Id, "profile", prof.Name)
	p.notifyUser(user, "Certificate request waiting for approval", fmt.Sprintf(
		"Your request `%s` for a `%s` certificate is waiting for an approver. You will get a message here when it is decided. "+
			"`/cert cancel %s` withdraws it.", req.ID, prof.Name, req.ID))
	return req, nil
}

// approversOf returns the user ids who may decide requests for prof: the
// listed usernames, or every system admin when none are listed.
func (p *Plugin) approversOf(prof *profile.Profile) []string {
	var ids []string
	if len(prof.Approvers) > 0 {
		for _, name := range prof.Approvers {
			u, appErr := p.API.GetUserByUsername(strings.TrimPrefix(name, "@"))
			if appErr != nil || u.DeleteAt != 0 {
				p.API.LogWarn("An approver named in a profile does not exist", "profile", prof.Name, "username", name)
				continue
			}
			ids = append(ids, u.Id)
		}
		return ids
	}
	for page := 0; ; page++ {
		users, appErr := p.API.GetUsers(&model.UserGetOptions{Role: model.SystemAdminRoleId, Active: true, Page: page, PerPage: 100})
		if appErr != nil {
			p.API.LogError("Could not list the system admins", "error", appErr.Error())
			return ids
		}
		for _, u := range users {
			ids = append(ids, u.Id)
		}
		if len(users) < 100 {
			return ids
		}
	}
}

// mayApprove reports whether userID may decide requests for prof.
func (p *Plugin) mayApprove(userID string, prof *profile.Profile) bool {
	if len(prof.Approvers) == 0 {
		return p.API.HasPermissionTo(userID, model.PermissionManageSystem)
	}
	user, appErr := p.API.GetUser(userID)
	if appErr != nil {
		return false
	}
	for _, name := range prof.Approvers {
		if strings.EqualFold(strings.TrimPrefix(name, "@"), user.Username) {
			return true
		}
	}
	return false
}

// approvalPost is the message with Approve and Deny buttons an approver gets.
func (p *Plugin) approvalPost(req *store.Request, user *model.User, prof *profile.Profile) *model.Post {
	subject := subjectFor(user, prof)
	text := fmt.Sprintf("@%s asks for a `%s` certificate (request `%s`).\n\n- Name: `%s`\n- Valid for: %d days",
		user.Username, prof.Name, req.ID, subject.CommonName, prof.ValidityDays)
	if len(subject.Emails) > 0 {
		text += "\n- Email: " + subject.Emails[0]
	}
	switch {
	case req.Attestation != nil:
		text += fmt.Sprintf("\n- Key: the requester's own %s key, attested by a hardware device (%s)", pki.KeyType(req.KeyType).Label(), attestationLabel(req.Attestation))
	case req.CSRPEM != "":
		text += fmt.Sprintf("\n- Key: the requester's own %s key (uploaded CSR)", pki.KeyType(req.KeyType).Label())
	}
	actionURL := func(route string) string { return "/plugins/" + manifest.Id + route }
	context := map[string]any{"request_id": req.ID}
	post := &model.Post{Message: "Certificate request `" + req.ID + "` needs your approval."}
	model.ParseSlackAttachment(post, []*model.SlackAttachment{{
		Title: "Certificate request " + req.ID,
		Text:  text,
		Actions: []*model.PostAction{
			{Id: "approve", Name: "Approve", Style: "primary", Integration: &model.PostActionIntegration{URL: actionURL(routeActionApprove), Context: context}},
			{Id: "deny", Name: "Deny", Style: "danger", Integration: &model.PostActionIntegration{URL: actionURL(routeActionDeny), Context: context}},
		},
	}})
	return post
}

// decisionPost replaces the buttons once a request is decided, so every
// approver sees who decided.
func decisionPost(req *store.Request, text string) *model.Post {
	post := &model.Post{Message: "Certificate request `" + req.ID + "`: " + text}
	model.ParseSlackAttachment(post, []*model.SlackAttachment{{Title: "Certificate request " + req.ID, Text: text}})
	return post
}

// closeApprovalPosts updates every approver's copy of the request message.
func (p *Plugin) closeApprovalPosts(req *store.Request, text string) {
	for _, ap := range req.ApprovalPosts {
		post, appErr := p.API.GetPost(ap.PostID)
		if appErr != nil {
			continue
		}
		closed := decisionPost(req, text)
		post.Message = closed.Message
		post.SetProps(closed.GetProps())
		if _, appErr := p.API.UpdatePost(post); appErr != nil {
			p.API.LogWarn("Could not update an approval message", "request", req.ID, "post_id", ap.PostID, "error", appErr.Error())
		}
	}
}

// approveRequest records an approver's yes and sends the owner a pickup
// link.
func (p *Plugin) approveRequest(s *services, requestID, approverID string) (*store.Request, error) {
	req, prof, approver, err := p.decideRequest(s, requestID, approverID, store.RequestApproved, "✅ approved by @%s", func(r *store.Request) {
		r.ExpiresAt = p.now().Add(requestLifetime)
	})
	if err != nil {
		return nil, err
	}
	owner, appErr := p.API.GetUser(req.Owner.MattermostUserID())
	if appErr != nil {
		return req, nil
	}
	link, expires, err := p.mintPickupLink(s, owner.Id, prof.Name, req.ID)
	if err != nil {
		return req, err
	}
	p.notifyUser(owner, "Certificate request approved", fmt.Sprintf(
		"@%s approved your request `%s` for a `%s` certificate. [Collect my certificate](%s)\n\n"+
			"The link works once and expires at %s; `/cert pickup %s` gives a new one.",
		approver, req.ID, prof.Name, link, expires.UTC().Format(time.RFC1123), req.ID))
	return req, nil
}

// denyRequest records an approver's no, with the reason the owner is given.
func (p *Plugin) denyRequest(s *services, requestID, approverID, reason string) (*store.Request, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		reason = "no reason given"
	}
	req, prof, approver, err := p.decideRequest(s, requestID, approverID, store.RequestDenied, "⛔ denied by @%s: "+reason, func(r *store.Request) {
		r.Reason = reason
	})
	if err != nil {
		return nil, err
	}
	p.releaseRequestKey(req)
	if owner, appErr := p.API.GetUser(req.Owner.MattermostUserID()); appErr == nil {
		p.notifyUser(owner, "Certificate request denied", fmt.Sprintf(
			"@%s denied your request `%s` for a `%s` certificate: %s", approver, req.ID, prof.Name, reason))
	}
	return req, nil
}

// decideRequest moves a pending request to decision for an approver who may
// decide it, updates every approver's message (postText has a %s for the
// approver's username) and returns the request, its profile and the
// approver's username.
func (p *Plugin) decideRequest(s *services, requestID, approverID string, decision store.RequestState, postText string,
	edit func(*store.Request)) (*store.Request, *profile.Profile, string, error) {
	req, prof, err := p.requestForDecision(s, requestID, approverID)
	if err != nil {
		return nil, nil, "", err
	}
	now := p.now()
	req, err = p.store.MoveRequest(req.ID, now, []store.RequestState{store.RequestPending}, decision, func(r *store.Request) error {
		r.DecidedBy = approverID
		r.DecidedAt = &now
		edit(r)
		return nil
	})
	if err != nil {
		return nil, nil, "", err
	}
	approver := p.usernameOf(approverID)
	p.closeApprovalPosts(req, fmt.Sprintf(postText, approver))
	p.API.LogInfo("Certificate request decided", "request", req.ID, "decision", string(decision), "approver", approverID)
	return req, prof, approver, nil
}

var (
	errNotApprover     = errors.New("you are not an approver for this kind of certificate")
	errRequestNotFound = errors.New("no such certificate request")
)

// requestForDecision loads a request an approver wants to decide and checks
// they may.
func (p *Plugin) requestForDecision(s *services, requestID, approverID string) (*store.Request, *profile.Profile, error) {
	req, err := p.store.GetRequest(requestID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, errRequestNotFound
	}
	if err != nil {
		return nil, nil, err
	}
	prof, _, ok := s.profileNamed(req.Profile)
	if !ok {
		return nil, nil, fmt.Errorf("the profile %q of this request no longer exists", req.Profile)
	}
	if !p.mayApprove(approverID, prof) {
		return nil, nil, errNotApprover
	}
	if req.State != store.RequestPending {
		return nil, nil, &store.ErrTransition{From: req.State, To: store.RequestApproved}
	}
	return req, prof, nil
}

// cancelRequest withdraws the owner's own request.
func (p *Plugin) cancelRequest(owner store.Principal, requestID string) (*store.Request, error) {
	req, err := p.store.GetRequest(requestID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && req.Owner != owner) {
		return nil, errRequestNotFound
	}
	if err != nil {
		return nil, err
	}
	req, err = p.store.MoveRequest(requestID, p.now(), nil, store.RequestCancelled, func(r *store.Request) error {
		r.PendingKey = nil
		return nil
	})
	if err != nil {
		return nil, err
	}
	p.releaseRequestKey(req)
	p.closeApprovalPosts(req, "withdrawn by the requester")
	return req, nil
}

// mintPickupLink returns a link that collects an approved request.
func (p *Plugin) mintPickupLink(s *services, userID, profileName, requestID string) (string, time.Time, error) {
	siteURL := p.siteURL()
	if siteURL == "" {
		return "", time.Time{}, errors.New("the server's Site URL is not set; ask an administrator to set it in System Console > Environment > Web Server.")
	}
	token, claims, err := s.minter.MintPickup(userID, profileName, requestID, pickupLinkLifetime)
	if err != nil {
		return "", time.Time{}, err
	}
	return siteURL + "/plugins/" + manifest.Id + routeIssue + "?token=" + url.QueryEscape(token), claims.ExpiresAt.Time, nil
}

// pickupRequest checks that a pickup link's request can be collected now.
func (p *Plugin) pickupRequest(claims *linktoken.Claims) (*store.Request, error) {
	req, err := p.store.GetRequest(claims.Request)
	if errors.Is(err, store.ErrNotFound) || (err == nil && req.Owner != store.MattermostUser(claims.UserID())) {
		return nil, errRequestNotFound
	}
	if err != nil {
		return nil, err
	}
	if req.State != store.RequestApproved {
		return nil, &store.ErrTransition{From: req.State, To: store.RequestIssued}
	}
	if p.now().After(req.ExpiresAt) {
		return nil, &store.ErrTransition{From: store.RequestExpired, To: store.RequestIssued}
	}
	return req, nil
}

func (p *Plugin) usernameOf(userID string) string {
	if u, appErr := p.API.GetUser(userID); appErr == nil {
		return u.Username
	}
	return userID
}
