package builtinca

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/config"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/sealbox"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

const (
	// renewalMargin is added to the longest validity a profile of the
	// built-in CA gives, so that the issuing CA is renewed before it would
	// ever cut a certificate short, with time to spare for a job that did
	// not run for a while.
	renewalMargin = 30 * 24 * time.Hour
	// renewalMinimum keeps renewal ahead of the first CA-expiry notice
	// (caExpiryNotices), which is for CAs an admin must renew.
	renewalMinimum = 90 * 24 * time.Hour
	// renewalMaximum caps the threshold for very long profiles: a new
	// issuing CA at most every half of its life; certificates longer than
	// that are clamped to their CA near its end.
	renewalMaximum = pki.IssuingValidity / 2

	// RenewedEvent is the cluster event that tells the other nodes to
	// load the new issuing CA.
	RenewedEvent = "ca-renewed"
	// caCheckInterval bounds how often a node reads the stored CA for a
	// request it cannot answer: anyone may send those.
	caCheckInterval = time.Minute
)

// RenewalThreshold is the remaining life under which the built-in issuing
// CA is renewed: the longest validity of the profiles it signs for, plus a
// margin, so that the issuing CA outlives every certificate it signs.
func RenewalThreshold(catalog *profile.Catalog) time.Duration {
	builtin := map[string]bool{}
	for _, conn := range catalog.Connectors {
		builtin[conn.Name] = conn.Type == profile.TypeBuiltin
	}
	longest := time.Duration(0)
	for i := range catalog.Profiles {
		if builtin[catalog.Profiles[i].Connector] {
			longest = max(longest, catalog.Profiles[i].Validity())
		}
	}
	return min(max(longest, renewalMinimum)+renewalMargin, renewalMaximum)
}

// ErrRenewalNotPossible is a renewal that cannot be done, in words for an
// administrator.
type ErrRenewalNotPossible struct{ Reason string }

func (e *ErrRenewalNotPossible) Error() string { return e.Reason }

// Renewal is a built-in issuing CA that took over from another.
type Renewal struct {
	Previous, Current *x509.Certificate
	Generation        int
}

// RenewIfDue renews the built-in issuing CA when less than the threshold
// of its life is left: the request job's duty, on whichever node runs it.
// It first loads a CA another node renewed.
func (k *Keeper) RenewIfDue(s *app.Snapshot) {
	if s.BuiltinCA == nil {
		return
	}
	if k.ReloadIfStale(s) {
		if s, _ = k.Current.Get(); s == nil || s.BuiltinCA == nil {
			return
		}
	}
	chain, _ := s.BuiltinCA.Chain(context.Background())
	threshold := RenewalThreshold(s.Catalog)
	now := k.Now()
	if chain[0].NotAfter.Sub(now) >= threshold {
		return
	}
	if renewalEnd(chain[len(chain)-1], now).Sub(now) < threshold {
		// The root expires too soon for a new issuing CA to be worth it:
		// only an administrator can replace the root, and the CA-expiry
		// notices tell them.
		return
	}
	if _, err := k.Renew(s.Config, threshold, false); err != nil {
		k.Log.LogError("Could not renew the built-in issuing CA", "error", err.Error())
	}
}

// renewalEnd is when a new issuing CA made now would expire: never after
// its root.
func renewalEnd(root *x509.Certificate, now time.Time) time.Time {
	end := now.Add(pki.IssuingValidity)
	if end.After(root.NotAfter) {
		return root.NotAfter
	}
	return end
}

// Renew makes a new issuing CA under the built-in root, with its
// own subject (its generation), when less than threshold of the current
// one's life is left, or at once if force. The current one is kept in the
// record until it expires, so its certificates keep their CRL and OCSP
// answers. Under the cluster lock that guards the CA's creation, and
// written with a compare-and-set from the record it read: however many
// nodes try, one new CA is made. It returns nil when none was due.
func (k *Keeper) Renew(c *config.Configuration, threshold time.Duration, force bool) (*Renewal, error) {
	if c.UsesCustomCA() {
		return nil, &ErrRenewalNotPossible{"the CA is the administrator's own: the plugin does not hold the key of its parent, so it cannot renew it; renew it where it was made and paste the new certificate and key in the settings"}
	}
	key, err := sealbox.NewKey(c.EncryptionSecret)
	if err != nil {
		return nil, err
	}
	mutex, err := k.NewMutex("certs-builtin-ca")
	if err != nil {
		return nil, err
	}
	mutex.Lock()
	defer mutex.Unlock()

	stored, err := k.Store.GetCA(StoredBuiltin)
	if errors.Is(err, records.ErrNotFound) {
		return nil, nil // made on first use, new
	}
	if err != nil {
		return nil, err
	}
	current, err := x509.ParseCertificate(stored.Chain[0])
	if err != nil {
		return nil, fmt.Errorf("the stored CA certificate is corrupt: %w", err)
	}
	root, err := x509.ParseCertificate(stored.Chain[len(stored.Chain)-1])
	if err != nil {
		return nil, fmt.Errorf("the stored CA certificate is corrupt: %w", err)
	}
	now := k.Now()
	if !force && current.NotAfter.Sub(now) >= threshold {
		return nil, nil // another node renewed it already
	}
	end := renewalEnd(root, now)
	if end.Sub(now) < threshold {
		return nil, &ErrRenewalNotPossible{fmt.Sprintf("the built-in root CA expires on %s, too soon for a new issuing CA under it; a new root is needed",
			root.NotAfter.UTC().Format("2006-01-02"))}
	}
	sealedRoot, ok := config.FindSealed(stored.RootKeys, key.ID())
	if !ok {
		return nil, &ErrRenewalNotPossible{"the built-in root CA key is not stored under the current encryption secret"}
	}
	rootKey, err := config.OpenPrivateKey(key, sealedRoot, sealContextRootKey)
	if err != nil {
		return nil, err
	}
	issuingKey, err := pki.GenerateKey(pki.KeyECDSAP256)
	if err != nil {
		return nil, err
	}
	generation := max(stored.Generation, 1) + 1
	next, err := pki.NewIssuingCA(root, rootKey, issuingKey, current.Subject.Organization, generation, now, end)
	if err != nil {
		return nil, fmt.Errorf("make the new issuing CA: %w", err)
	}
	sealed, err := config.SealPrivateKey(key, issuingKey, sealContextIssuingKey)
	if err != nil {
		return nil, err
	}
	errRenewed := errors.New("renewed meanwhile")
	err = k.Store.UpdateCA(StoredBuiltin, func(ca *store.CA) error {
		if len(ca.Chain) == 0 || !bytes.Equal(ca.Chain[0], stored.Chain[0]) {
			return errRenewed // by a node that does not share our lock
		}
		previous := []store.PreviousCA{{Certificate: ca.Chain[0], Keys: ca.IssuingKeys, Generation: max(ca.Generation, 1)}}
		for _, prev := range ca.Previous {
			if cert, err := x509.ParseCertificate(prev.Certificate); err == nil && now.Before(cert.NotAfter) {
				previous = append(previous, prev)
			}
		}
		ca.Previous = previous
		ca.Chain = append([][]byte{next.Certificate.Raw}, ca.Chain[1:]...)
		ca.IssuingKeys = []records.SealedKey{sealed}
		ca.Generation = generation
		ca.RolledOverAt = now
		return nil
	})
	if errors.Is(err, errRenewed) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	k.Log.LogInfo("Renewed the built-in issuing CA", "previous", current.Subject.String(), "current", next.Certificate.Subject.String(),
		"generation", generation, "fingerprint", pki.Fingerprint(next.Certificate), "expires", next.Certificate.NotAfter.UTC().Format(time.RFC3339))
	r := &Renewal{Previous: current, Current: next.Certificate, Generation: generation}
	k.afterRenewal(r)
	return r, nil
}

// afterRenewal puts the new CA to work on this node and the others, and
// tells the system admins, once: only the node that renewed gets here.
func (k *Keeper) afterRenewal(r *Renewal) {
	k.Rebuild()
	if err := k.Publish(model.PluginClusterEvent{Id: RenewedEvent}, model.PluginClusterEventSendOptions{
		SendType: model.PluginClusterEventSendTypeReliable,
	}); err != nil {
		k.Log.LogWarn("Could not tell the other nodes of the renewed CA; each loads it at its next job run", "error", err.Error())
	}
	k.NoticeAdmins(fmt.Sprintf("**Client Certificates:** the built-in issuing CA was renewed. `%s` (valid until %s) now signs new certificates, under the same root. "+
		"The previous issuing CA `%s` stays valid until %s, and so do the certificates it signed, with their revocation list and OCSP answers. "+
		"`%s/plugins/%s/ca.pem` now serves both issuing CAs and the root: a server that trusts the root needs nothing; one configured with the issuing CA alone must add the new one.",
		markdownCell(r.Current.Subject.String()), r.Current.NotAfter.UTC().Format("2006-01-02"),
		markdownCell(r.Previous.Subject.String()), r.Previous.NotAfter.UTC().Format("2006-01-02"), k.Current.Site().URL, k.PluginID))
}

// OnClusterEvent loads the issuing CA another node made, when ev says so.
func (k *Keeper) OnClusterEvent(ev model.PluginClusterEvent) {
	if ev.Id != RenewedEvent {
		return
	}
	if s, err := k.Current.Get(); err == nil {
		k.ReloadIfStale(s)
	}
}

// ReloadIfRenewed is ReloadIfStale for a request this node could not
// answer (a CRL or an OCSP issuer it does not know), at most once per
// caCheckInterval.
func (k *Keeper) ReloadIfRenewed(s *app.Snapshot) bool {
	now := k.Now().UnixMilli()
	last := k.checkedAt.Load()
	if last != 0 && now-last < caCheckInterval.Milliseconds() {
		return false
	}
	if !k.checkedAt.CompareAndSwap(last, now) {
		return false
	}
	return k.ReloadIfStale(s)
}

// ReloadIfStale rebuilds the services when the stored built-in CA is of
// another generation than the one they sign with, and says whether it did.
func (k *Keeper) ReloadIfStale(s *app.Snapshot) bool {
	if s.BuiltinCA == nil {
		return false
	}
	stored, err := k.Store.GetCA(StoredBuiltin)
	if err != nil || max(stored.Generation, 1) == s.BuiltinCA.Generation() {
		return false
	}
	k.Rebuild()
	return true
}
