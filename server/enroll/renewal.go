package enroll

import (
	"context"
	"errors"

	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// A renewal is a new certificate of the same profile that replaces one of
// the owner's (StartEnrollment with StartRequest.Renews): its link or
// request names the certificate it replaces, and so does its record. For
// the profile's overlap after the renewal is made the two take one place
// in the owner's limits (then the job revokes the replaced one, where the
// profile limits valid certificates); the profile may skip its approvers
// for it, and may revoke the replaced certificate once the renewal is
// issued.

// renewalSkipsApproval reports whether a renewal of old needs no approver:
// the profile says so, and old is valid, so an approver decided on it and
// nothing has withdrawn it since.
func (c *Core) renewalSkipsApproval(prof *profile.Profile, old *records.Certificate) bool {
	return prof.RequiresApproval && prof.Renewal.SkipApproval && old != nil &&
		old.StateAt(c.now()) == string(records.CertIssued)
}

// takeOverKey lets a renewal's upload certify the key that renews, the
// replaced certificate, holds: its claim passes to the upload. Any other
// holder refuses the upload (a compromised key never got this far: see
// refuseCompromisedKey). It returns the certificate the claim came from.
func (c *Core) takeOverKey(checked *checkedCSR, holder, upload records.KeyHolder, renews *records.Certificate) (*records.Certificate, error) {
	if renews == nil || holder.Kind != records.KeyHeldByCertificate || holder.ID != renews.Serial ||
		renews.KeyFingerprint != checked.keyFingerprint {
		return nil, duplicateKeyError(holder)
	}
	if err := c.store.MoveKey(checked.keyFingerprint, holder, upload, IssueTimeout+tokenMarkGrace); err != nil {
		// Another upload of the same renewal took it first.
		return nil, duplicateKeyError(records.KeyHolder{Kind: records.KeyHeldByUpload})
	}
	return renews, nil
}

// giveBackKey undoes a claim that came to nothing: the key is free again,
// or, when a renewal took it over from the certificate it replaces, that
// certificate holds it again until it expires.
func (c *Core) giveBackKey(fingerprint string, holder records.KeyHolder, reused *records.Certificate) {
	var err error
	if reused == nil {
		err = c.store.ReleaseKey(fingerprint, holder)
	} else {
		back := records.KeyHolder{Kind: records.KeyHeldByCertificate, ID: reused.Serial}
		err = c.store.MoveKey(fingerprint, holder, back, keyMarkLifetime(c.now(), reused))
	}
	if err != nil {
		c.log.LogError("Could not release a public key after a failed issuance", "error", err.Error())
	}
}

// revokeReplaced revokes, as superseded, the certificate a renewal
// replaces, for a profile that asks for it. The renewal is issued either
// way: a revocation that fails is logged, and the owner may revoke it.
func (c *Core) revokeReplaced(renewal *records.Certificate) {
	old, err := c.store.GetCertificate(renewal.Renews)
	if err != nil || old.Owner != renewal.Owner || old.State != records.CertIssued {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), IssueTimeout)
	defer cancel()
	// Its owner revokes it, by renewing it.
	if _, err := c.revokeRecord(ctx, old, records.ReasonSuperseded, string(renewal.Owner)); err != nil && !errors.Is(err, ErrAlreadyRevoked) {
		c.log.LogWarn("Could not revoke the certificate a renewal replaces", "serial", old.Serial, "renewal", renewal.Serial, "error", err.Error())
		return
	}
	c.log.LogInfo("A renewal revoked the certificate it replaces", "serial", old.Serial, "renewal", renewal.Serial)
}

// actorRenewal is who revokes a certificate whose renewal's overlap
// ended.
const actorRenewal = "renewal"

// EndRenewalOverlaps revokes, as superseded, the certificates whose
// renewal's overlap is over, in the profiles that limit how many valid
// certificates one holds: a renewal takes the place of what it replaces
// for a bounded time, never for good. Its owner is told. A job's duty.
func (c *Core) EndRenewalOverlaps(ctx context.Context) {
	now := c.now()
	for i := range c.Catalog.Profiles {
		prof := &c.Catalog.Profiles[i]
		if prof.Limits.Active == 0 {
			continue
		}
		ended, err := c.store.OverlapsEnded(prof.Name, now.Add(-prof.Renewal.Overlap()), now, 100)
		if err != nil {
			c.log.LogError("Could not list the certificates whose renewal overlap ended", "profile", prof.Name, "error", err.Error())
			continue
		}
		for _, old := range ended {
			revoked, err := c.revokeRecord(ctx, old, records.ReasonSuperseded, actorRenewal)
			if err != nil {
				if !errors.Is(err, ErrAlreadyRevoked) {
					c.log.LogWarn("Could not revoke a certificate whose renewal overlap ended", "serial", old.Serial, "error", err.Error())
				}
				continue
			}
			c.log.LogInfo("A renewal's overlap ended: the certificate it replaced is revoked", "serial", old.Serial, "profile", prof.Name)
			if owner, err := c.lookup(old.Owner); err == nil {
				c.notifierOf(owner.Principal).RenewalOverlapEnded(owner, revoked.Record)
			}
		}
	}
}
