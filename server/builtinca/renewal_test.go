package builtinca

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/mattermost/mattermost/server/public/pluginapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/clocktest"
	"github.com/clientcerts/mattermost-plugin-certs/server/config/configtest"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

func TestRenewalThresholdFollowsTheLongestBuiltinProfile(t *testing.T) {
	catalog := func(json string) *profile.Catalog {
		c := configtest.Valid()
		c.ConnectorsAndProfiles = json
		parsed, err := c.Catalog()
		require.NoError(t, err)
		return parsed
	}
	assert.Equal(t, 395*24*time.Hour, RenewalThreshold(catalog("")), "the default profile's 365 days, and 30 to spare")
	assert.Equal(t, 120*24*time.Hour, RenewalThreshold(catalog(`{"connectors": [{"name": "builtin", "type": "builtin"}],
		"profiles": [{"name": "short", "connector": "builtin", "validity_days": 7}]}`)), "never under 90 days and the margin")
	assert.Equal(t, pki.IssuingValidity/2, RenewalThreshold(catalog(`{"connectors": [{"name": "builtin", "type": "builtin"}],
		"profiles": [{"name": "long", "connector": "builtin", "validity_days": 3650}]}`)), "at most half an issuing CA's life")
}

func TestBuiltinIssuingCARenewsItselfWhenDue(t *testing.T) {
	n := newTestNode(t)
	first := n.issuingCA()
	n.runJob()
	assert.Zero(t, n.noticesWith("renewed"), "years ahead: nothing")

	// The default profile gives 365 days: renewal comes 30 days before the
	// issuing CA could no longer give that.
	threshold := RenewalThreshold(n.services().Catalog)
	assert.Equal(t, 395*24*time.Hour, threshold)
	n.advance(first.NotAfter.Sub(n.now()) - threshold - time.Hour)
	n.runJob()
	assert.Zero(t, n.noticesWith("renewed"), "not yet")
	assert.True(t, n.issuingCA().Equal(first))
	n.advance(2 * time.Hour)
	rebuilds := n.rebuilds
	n.runJob()
	n.runJob()
	assert.Equal(t, 1, n.noticesWith("the built-in issuing CA was renewed"), "told once")
	assert.Equal(t, rebuilds+1, n.rebuilds, "the services rebuilt once, to sign with the new CA")
	require.Len(t, n.published, 1, "the other nodes are told")
	assert.Equal(t, RenewedEvent, n.published[0].Id)
	assert.Equal(t, model.PluginClusterEventSendTypeReliable, n.sendTypes[0])

	second := n.issuingCA()
	require.False(t, second.Equal(first))
	assert.Equal(t, "Client Certificates Issuing CA G2", second.Subject.CommonName)
	assert.Equal(t, first.Subject.Organization, second.Subject.Organization)
	assert.NotEqual(t, pki.SubjectID(first), pki.SubjectID(second), "each generation its own issuer name")
	assert.Equal(t, first.RawIssuer, second.RawIssuer, "under the same root")
	assert.True(t, second.NotAfter.After(first.NotAfter))
	assert.Equal(t, 2, n.services().BuiltinCA.Generation())
	stored, err := n.store.GetCA(StoredBuiltin)
	require.NoError(t, err)
	assert.Equal(t, 2, stored.Generation)
	assert.True(t, n.now().Equal(stored.RolledOverAt))
	require.Len(t, stored.Previous, 1, "one renewal, however often the job ran")
	assert.Equal(t, first.Raw, stored.Previous[0].Certificate)
	assert.Equal(t, 1, stored.Previous[0].Generation)
	assert.NotEmpty(t, stored.Previous[0].Keys, "the previous key stays, sealed, to sign its CRL")

	// The previous issuing CA is loaded with the new one, to sign its list.
	loaded, err := n.keeper.Load(n.config())
	require.NoError(t, err)
	assert.True(t, loaded.Current.CA.Certificate.Equal(second))
	assert.Equal(t, 2, loaded.Current.Generation)
	require.Len(t, loaded.Previous, 1)
	assert.True(t, loaded.Previous[0].CA.Certificate.Equal(first))
	assert.Equal(t, 1, loaded.Previous[0].Generation)

	// The notice names both CAs and where relying parties find them.
	notice := n.notices[len(n.notices)-1]
	assert.Contains(t, notice, "`"+markdownCell(second.Subject.String())+"` (valid until "+second.NotAfter.UTC().Format("2006-01-02")+")")
	assert.Contains(t, notice, "`"+markdownCell(first.Subject.String())+"` stays valid until "+first.NotAfter.UTC().Format("2006-01-02"))
	assert.Contains(t, notice, "`"+testSiteURL+"/plugins/certs/ca.pem` now serves both issuing CAs and the root")
	assert.Equal(t, 1, n.logged("Renewed the built-in issuing CA"))
	assert.Empty(t, n.loggedErrors())
}

// Many nodes that find the CA due at once, without a shared lock (the
// KV compare-and-set decides): one new CA, one notice.
func TestCARenewalIsMadeOnceAcrossNodes(t *testing.T) {
	n := newTestNode(t)
	first := n.issuingCA()
	s := n.services()
	threshold := RenewalThreshold(s.Catalog)
	n.advance(first.NotAfter.Sub(n.now()) - threshold + time.Hour)
	n.keeper.NewMutex = func(string) (Locker, error) { return &sync.Mutex{}, nil }

	var renewed atomic.Int32
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			r, err := n.keeper.Renew(s.Config, threshold, false)
			assert.NoError(t, err)
			if r != nil {
				renewed.Add(1)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int32(1), renewed.Load())
	stored, err := n.store.GetCA(StoredBuiltin)
	require.NoError(t, err)
	assert.Equal(t, 2, stored.Generation)
	assert.Len(t, stored.Previous, 1)
	assert.Equal(t, 1, n.noticesWith("renewed"))
	n.runJob()
	assert.Equal(t, 1, n.noticesWith("renewed"))
}

// A node that did not renew learns of the new CA: from the cluster event,
// at its next job run, or when asked for what only the new CA answers, at
// most once a minute.
func TestANodeLoadsTheCAAnotherNodeRenewed(t *testing.T) {
	kv, clock := &pluginapi.MemoryStore{}, clocktest.New(time.Now())
	renewing, other := newNode(t, kv, clock), newNode(t, kv, clock)
	require.True(t, renewing.root().Equal(other.root()), "one CA for the cluster")
	stale := other.services()
	_, err := renewing.keeper.Renew(renewing.config(), RenewalThreshold(stale.Catalog), true)
	require.NoError(t, err)
	renewed := renewing.issuingCA()
	assert.Equal(t, 1, stale.BuiltinCA.Generation(), "the other node still signs with the first")

	// The cluster event.
	other.keeper.OnClusterEvent(model.PluginClusterEvent{Id: "something-else"})
	assert.Equal(t, 1, other.services().BuiltinCA.Generation(), "another event: nothing")
	other.keeper.OnClusterEvent(model.PluginClusterEvent{Id: RenewedEvent})
	assert.Equal(t, 2, other.services().BuiltinCA.Generation())
	assert.True(t, other.issuingCA().Equal(renewed))
	rebuilds := other.rebuilds
	other.keeper.OnClusterEvent(model.PluginClusterEvent{Id: RenewedEvent})
	assert.Equal(t, rebuilds, other.rebuilds, "a CA loaded already is not loaded again")

	// A request this node could not answer.
	other.keeper.Current.Store(stale)
	assert.True(t, other.keeper.ReloadIfRenewed(stale))
	assert.Equal(t, 2, other.services().BuiltinCA.Generation())
	other.keeper.Current.Store(stale)
	assert.False(t, other.keeper.ReloadIfRenewed(stale), "at most once a minute")
	other.advance(time.Minute)
	assert.True(t, other.keeper.ReloadIfRenewed(stale))

	// The job.
	other.keeper.Current.Store(stale)
	other.runJob()
	assert.Equal(t, 2, other.services().BuiltinCA.Generation())
	assert.True(t, other.issuingCA().Equal(renewed))
	assert.Zero(t, other.noticesWith("renewed"), "the node that renewed tells the admins")
	assert.Equal(t, 1, renewing.noticesWith("renewed"))
	assert.False(t, other.keeper.ReloadIfStale(other.services()), "nothing stale left")
}

// Near the end of the root, the issuing CA renews as long as the root
// leaves it enough life; then it stops, and the admins are told of the
// expiry instead of a new root being made behind their backs.
func TestCARenewalStopsWhereTheRootEnds(t *testing.T) {
	n := newTestNode(t)
	first := n.issuingCA()
	root := n.root()
	threshold := RenewalThreshold(n.services().Catalog)

	n.advance(first.NotAfter.Sub(n.now()) - threshold + time.Hour)
	n.runJob()
	second := n.issuingCA()
	require.Equal(t, "Client Certificates Issuing CA G2", second.Subject.CommonName)

	n.advance(second.NotAfter.Sub(n.now()) - threshold + time.Hour)
	n.runJob()
	third := n.issuingCA()
	require.Equal(t, "Client Certificates Issuing CA G3", third.Subject.CommonName)
	assert.Equal(t, root.NotAfter, third.NotAfter, "never past the root")
	stored, err := n.store.GetCA(StoredBuiltin)
	require.NoError(t, err)
	require.Len(t, stored.Previous, 1, "the first expired: dropped")
	assert.Equal(t, 2, stored.Previous[0].Generation)
	loaded, err := n.keeper.Load(n.config())
	require.NoError(t, err)
	require.Len(t, loaded.Previous, 1)
	assert.True(t, loaded.Previous[0].CA.Certificate.Equal(second))

	n.advance(root.NotAfter.Sub(n.now()) - 80*24*time.Hour)
	n.runJob()
	assert.True(t, n.issuingCA().Equal(third), "no new CA the root would cut short")
	assert.Equal(t, 2, n.noticesWith("renewed"))
	assert.Equal(t, 1, n.noticesWith("`"+markdownCell(root.Subject.String())+"` of connector `builtin` expires on"), "the root's expiry is the admins' to handle")
	_, err = n.keeper.Renew(n.config(), threshold, true)
	var impossible *ErrRenewalNotPossible
	require.ErrorAs(t, err, &impossible)
	assert.Contains(t, impossible.Reason, "a new root is needed")
	assert.Equal(t, impossible.Reason, err.Error())
}

// An admin may renew at once, however far the end; the admin's own CA is
// not the plugin's to renew.
func TestForcedRenewals(t *testing.T) {
	n := newTestNode(t)
	first := n.issuingCA()
	s := n.services()
	r, err := n.keeper.Renew(s.Config, RenewalThreshold(s.Catalog), false)
	require.NoError(t, err)
	assert.Nil(t, r, "not due")

	r, err = n.keeper.Renew(s.Config, RenewalThreshold(s.Catalog), true)
	require.NoError(t, err)
	require.NotNil(t, r)
	assert.Equal(t, 2, r.Generation)
	assert.True(t, r.Previous.Equal(first))
	assert.True(t, r.Current.Equal(n.issuingCA()))
	assert.Equal(t, 1, n.noticesWith("renewed"))

	r, err = n.keeper.Renew(n.config(), RenewalThreshold(s.Catalog), true)
	require.NoError(t, err)
	assert.Equal(t, 3, r.Generation)
	stored, err := n.store.GetCA(StoredBuiltin)
	require.NoError(t, err)
	assert.Len(t, stored.Previous, 2, "both earlier issuing CAs, newest first")
	assert.Equal(t, 2, stored.Previous[0].Generation)
	assert.Equal(t, first.Raw, stored.Previous[1].Certificate)

	chainPEM, keyPEM, _ := configtest.CustomCAPEM(t, n.now())
	c := n.config().Clone()
	c.CACertificatePEM, c.CAPrivateKeyPEM = chainPEM, keyPEM
	n.configure(c)
	assert.Nil(t, n.services().BuiltinCA, "the admin's own CA renews nothing itself")
	_, err = n.keeper.Renew(c, RenewalThreshold(s.Catalog), true)
	var impossible *ErrRenewalNotPossible
	require.ErrorAs(t, err, &impossible)
	assert.Contains(t, impossible.Reason, "administrator's own")
}

// The keys of the issuing CAs a renewal kept are resealed with the rest
// when the encryption secret changes.
func TestPreviousIssuingCAKeysFollowTheEncryptionSecret(t *testing.T) {
	n := newTestNode(t)
	first := n.issuingCA()
	_, err := n.keeper.Renew(n.config(), RenewalThreshold(n.services().Catalog), true)
	require.NoError(t, err)
	old := n.config()
	next := old.Clone()
	next.EncryptionSecret = "f" + old.EncryptionSecret[1:]
	require.NoError(t, n.keeper.Reseal(old.EncryptionSecret, next.EncryptionSecret))
	n.configure(next)
	loaded, err := n.keeper.Load(next)
	require.NoError(t, err)
	require.Len(t, loaded.Previous, 1)
	assert.True(t, loaded.Previous[0].CA.Certificate.Equal(first))
	stored, err := n.store.GetCA(StoredBuiltin)
	require.NoError(t, err)
	assert.Len(t, stored.Previous[0].Keys, 1, "the copy under the old secret is dropped once the new one works")

	// A previous key under no secret in use: left out, with an error, and
	// the current CA still signs.
	other := next.Clone()
	other.EncryptionSecret = strings.Repeat("g", 43)
	require.NoError(t, n.keeper.Reseal(next.EncryptionSecret, other.EncryptionSecret))
	require.NoError(t, n.store.UpdateCA(StoredBuiltin, func(ca *store.CA) error {
		ca.Previous[0].Keys = ca.Previous[0].Keys[:1] // only the copy under next
		return nil
	}))
	loaded, err = n.keeper.Load(other)
	require.NoError(t, err)
	assert.Empty(t, loaded.Previous)
	assert.Equal(t, 1, n.logged("A previous built-in issuing CA key was encrypted with a different encryption secret"))
}
