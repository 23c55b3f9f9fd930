package enroll

import (
	"context"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// DeactivationAction is what a deactivated account's certificates come to.
type DeactivationAction string

const (
	// DeactivationRevoke revokes them (affiliationChanged).
	DeactivationRevoke DeactivationAction = "revoke"
	// DeactivationNotify only tells the admins which remain valid.
	DeactivationNotify DeactivationAction = "notify"
	// DeactivationOff does nothing.
	DeactivationOff DeactivationAction = "off"
)

// actorDeactivation is who revokes when an account is deactivated.
const actorDeactivation = "deactivation"

// Deactivated is what became of a deactivated account's valid
// certificates.
type Deactivated struct {
	Owner *Requester
	// Revoked were revoked now, each with how far it reached; Valid are
	// still valid (the action only notifies, or a revocation failed:
	// Failed says why).
	Revoked []*Revoked
	Valid   []*records.Certificate
	Failed  []error
}

// Deactivate applies action to the valid certificates of an account that
// was deactivated. It may run more than once for one account (the hook,
// then the daily job): certificates already revoked are left alone.
func (c *Core) Deactivate(ctx context.Context, owner *Requester, action DeactivationAction) (*Deactivated, error) {
	out := &Deactivated{Owner: owner}
	if action == DeactivationOff {
		return out, nil
	}
	certs, err := c.store.ListCertificates(owner.Principal)
	if err != nil {
		return nil, err
	}
	now := c.now()
	for _, cert := range certs {
		if cert.StateAt(now) != string(records.CertIssued) {
			continue
		}
		if action != DeactivationRevoke {
			out.Valid = append(out.Valid, cert)
			continue
		}
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		revoked, err := c.revokeRecord(ctx, cert, records.ReasonAffiliationChanged, actorDeactivation)
		cancel()
		if err != nil {
			c.log.LogError("Could not revoke a deactivated user's certificate", "principal", string(owner.Principal), "serial", cert.Serial, "error", err.Error())
			out.Valid = append(out.Valid, cert)
			out.Failed = append(out.Failed, err)
			continue
		}
		out.Revoked = append(out.Revoked, revoked)
	}
	return out, nil
}
