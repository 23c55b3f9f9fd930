package enroll

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"

	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
)

const (
	// IssueTimeout bounds one issuance, CA round trip included.
	IssueTimeout = 60 * time.Second

	// tokenMarkGrace keeps the "used" mark of a link past the link's own
	// expiry, so a token can never be accepted twice across clock
	// differences.
	tokenMarkGrace = 10 * time.Minute

	// RequestLifetime is how long a request waits for a decision, and
	// then for its pickup.
	RequestLifetime = 7 * 24 * time.Hour
	// PickupLinkLifetime is longer than an enrollment link: the user may
	// not be at their desk when an approver decides.
	PickupLinkLifetime = 24 * time.Hour
)

// Grant is a checked link: its claims, the requester it was minted for,
// and what it leads to.
type Grant struct {
	Claims    *linktoken.Claims
	Requester *Requester
	Profile   *profile.Profile
	Connector connector.Connector
	// Request is the approved request a pickup link collects, if any.
	Request *records.Request
	// Renews is the requester's certificate a renewal link replaces.
	Renews *records.Certificate
}

// renews is the serial of the certificate the link replaces, or "".
func (g *Grant) renews() string {
	if g.Renews == nil {
		return ""
	}
	return g.Renews.Serial
}

// CollectsCSR reports a pickup link of an approved CSR request: it signs
// the uploaded key, and makes none.
func (g *Grant) CollectsCSR() bool {
	return g.Request != nil && g.Request.CSRPEM != ""
}

// marks are what redeeming the link claims: its token, and for a pickup
// its request too, so that two pickup links of one request cannot both
// issue. A request the CA left pending at its first pickup is collected
// again once the CA issues it: that second pickup has a mark of its own.
func (g *Grant) marks() []string {
	marks := []string{g.Claims.ID}
	if g.Request != nil {
		stage := "sign"
		if len(g.Request.CertificateDER) > 0 {
			stage = "held"
		}
		marks = append(marks, "pickup:"+g.Request.ID+":"+stage)
	}
	return marks
}

// ErrLinkUsed is a link whose token has been consumed, here or in another
// tab or window (which may still be creating the certificate).
var ErrLinkUsed = linkRefusal(CodeConflict, "This link has already been used, in this window or another one. Each link creates one certificate.")

// hintNewLink is the neutral wording of NextNewLink.
const hintNewLink = "Get a new link where you got this one."

// linkRefusal refuses a link that cannot serve any more.
func linkRefusal(code Code, message string) *Error {
	return &Error{Code: code, Message: message, Next: NextNewLink, Hint: hintNewLink}
}

// mintLink returns a single-use link for r: to create a certificate with a
// server-generated key (PurposeIssue) or to upload a CSR, for one that
// replaces renews, one of r's (a serial), or for a new one ("").
func (c *Core) mintLink(r *Requester, prof *profile.Profile, purpose linktoken.Purpose, renews string) (*Link, error) {
	if err := c.checkLimits(r, prof, renews); err != nil {
		return nil, err
	}
	var (
		token  string
		claims *linktoken.Claims
		err    error
	)
	if renews == "" {
		token, claims, err = c.Minter.Mint(r.Principal, purpose, prof.Name, c.LinkLifetime)
	} else {
		token, claims, err = c.Minter.MintRenewal(r.Principal, purpose, prof.Name, renews, c.LinkLifetime)
	}
	if err != nil {
		return nil, err
	}
	return &Link{Token: token, Purpose: purpose, Profile: prof.Name, Renews: renews, ExpiresAt: claims.ExpiresAt.Time}, nil
}

// mintPickup returns a link for owner that collects an approved request.
func (c *Core) mintPickup(owner records.Principal, req *records.Request) (*Link, error) {
	token, claims, err := c.Minter.MintPickup(owner, req.Profile, req.ID, PickupLinkLifetime)
	if err != nil {
		return nil, err
	}
	return &Link{Token: token, Purpose: linktoken.PurposeIssue, Profile: req.Profile, Request: req.ID, ExpiresAt: claims.ExpiresAt.Time}, nil
}

// CheckLink validates a link token without consuming it: signature,
// lifetime, purpose, the account it names, and the account signed in where
// it was opened (session, "" for none). A link serves the principal it was
// minted for, looked up in the directory of its kind.
func (c *Core) CheckLink(token string, purpose linktoken.Purpose, session records.Principal) (*Grant, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return nil, linkRefusal(CodeInvalid, "This page needs the link you were given; the link you opened has no token.")
	}
	claims, err := c.Minter.Verify(token, purpose)
	switch {
	case errors.Is(err, linktoken.ErrExpired):
		return nil, linkRefusal(CodeGone, "This link has expired.")
	case err != nil:
		refusal := linkRefusal(CodeInvalid, "This link is not valid. It may be incomplete or altered.")
		refusal.Err = err
		return nil, refusal
	}
	if session != "" && session != claims.Principal() {
		return nil, linkRefusal(CodeForbidden,
			"This link belongs to another user than the one signed in to this browser: open it where you are signed in as yourself.")
	}
	r, err := c.lookup(claims.Principal())
	if err != nil || !r.Active || r.Bot {
		return nil, &Error{Code: CodeForbidden, Message: "The account this link was made for cannot receive certificates.",
			Next: NextAskAdmin, Hint: "Contact your administrator.", Err: err}
	}
	prof, conn, ok := c.ProfileNamed(claims.Profile)
	if !ok {
		return nil, linkRefusal(CodeGone, "The certificate profile this link was made for no longer exists.")
	}
	if !c.MayUse(r, prof) {
		return nil, &Error{Code: CodeForbidden, Message: "You may no longer get certificates of this profile.",
			Next: NextChooseProfile, Hint: c.profilesHint(r)}
	}
	grant := &Grant{Claims: claims, Requester: r, Profile: prof, Connector: conn}
	if claims.Renews != "" {
		old, err := c.store.GetCertificate(claims.Renews)
		if errors.Is(err, records.ErrNotFound) || (err == nil && old.Owner != r.Principal) {
			return nil, linkRefusal(CodeInvalid, "This renewal link names a certificate that is not yours.")
		}
		if err != nil {
			return nil, err
		}
		grant.Renews = old
	}
	if purpose == linktoken.PurposeCSR {
		// An upload for an approval profile becomes the request.
		return grant, nil
	}
	if claims.Request == "" {
		// The profile may have changed since the link was made.
		approval, err := c.serverKeyNeedsApproval(prof, grant.Renews)
		if err != nil {
			return nil, err
		}
		if approval {
			return nil, &Error{Code: CodeForbidden, Message: "Certificates of this profile now need an approver.",
				Next: NextAskApproval, Hint: "Ask for one again: an approver decides."}
		}
		return grant, nil
	}
	req, err := c.collectable(r, claims.Request)
	var te *records.ErrTransition
	switch {
	case errors.Is(err, ErrRequestNotFound):
		return nil, linkRefusal(CodeNotFound, "The certificate request of this link does not exist.")
	case errors.As(err, &te):
		return nil, &Error{Code: CodeConflict, Message: fmt.Sprintf("This certificate request is %s.", te.From),
			Next: NextSeeRequests, Hint: "Your requests say where it stands."}
	case err != nil:
		return nil, err
	}
	if req.Profile != prof.Name {
		return nil, linkRefusal(CodeInvalid, "This link is not valid.")
	}
	grant.Request = req
	return grant, nil
}

// CheckUnused refuses a link that was used or is being used.
func (c *Core) CheckUnused(g *Grant) error {
	used, err := c.store.TokenUsed(g.Claims.ID)
	if err != nil {
		return err
	}
	if used {
		return ErrLinkUsed
	}
	return nil
}

// claim takes every mark of a link or none: a link already used (or being
// used) is ErrLinkUsed. A claim is final unless the issuance fails and
// release gives it back.
func (c *Core) claim(g *Grant) ([]string, error) {
	marks := g.marks()
	ttl := g.Claims.ExpiresAt.Sub(c.now()) + tokenMarkGrace
	for i, mark := range marks {
		claimed, err := c.store.ClaimToken(mark, ttl)
		if err == nil && claimed {
			continue
		}
		c.release(marks[:i])
		if err != nil {
			return nil, err
		}
		return nil, ErrLinkUsed
	}
	return marks, nil
}

// release gives back a link's marks after an issuance that made nothing.
func (c *Core) release(marks []string) {
	for _, mark := range marks {
		if err := c.store.ReleaseToken(mark); err != nil {
			c.log.LogError("Could not release a link after a failed issuance", "error", err.Error())
		}
	}
}
