package builtinca

import (
	"crypto/x509"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/pluginapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/config"
	"github.com/clientcerts/mattermost-plugin-certs/server/config/configtest"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

// TestBuiltinCAIsCreatedOnceAcrossNodes starts several keepers over one KV
// store at once, as the nodes of a cluster do, and checks they all end up
// with the same CA. The keepers do not share a lock, so this also covers a
// node that does not take the cluster mutex: the store's create-if-absent
// decides.
func TestBuiltinCAIsCreatedOnceAcrossNodes(t *testing.T) {
	shared := &pluginapi.MemoryStore{}
	first := newTestNode(t)
	const nodes = 6
	roots := make([][]byte, nodes)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := &Keeper{
				Store:    store.New(shared),
				NewMutex: func(string) (Locker, error) { return &sync.Mutex{}, nil },
				Now:      time.Now,
				Log:      first,
				Current:  &app.Current{},
			}
			loaded, err := k.Load(configtest.Valid())
			if assert.NoError(t, err) {
				chain := loaded.Current.CA.Chain
				roots[i] = chain[len(chain)-1].Raw
			}
		}()
	}
	wg.Wait()
	for i := 1; i < nodes; i++ {
		assert.Equal(t, roots[0], roots[i], "node %d has another CA", i)
	}
	stored, err := store.New(shared).GetCA(StoredBuiltin)
	require.NoError(t, err)
	assert.Equal(t, roots[0], stored.Chain[1])
}

func TestBuiltinCAKeysAreSealedAtRest(t *testing.T) {
	n := newTestNode(t)
	stored, err := n.store.GetCA(StoredBuiltin)
	require.NoError(t, err)
	require.Len(t, stored.IssuingKeys, 1)
	require.Len(t, stored.RootKeys, 1)
	// The sealed bytes are not a DER private key.
	for _, k := range append(stored.IssuingKeys, stored.RootKeys...) {
		assert.NotEmpty(t, k.KeyID)
		_, parseErr := x509.ParsePKCS8PrivateKey(k.Sealed)
		assert.Error(t, parseErr)
	}
	assert.Equal(t, 1, n.logged("Generated the built-in certificate authority"), "made once")
	assert.Contains(t, n.root().Subject.String(), "Example", "named after the site")
}

// The admin's own CA: its key in clear in the settings works (with a
// warning), and once sealed into the KV store it is loaded from there.
func TestCustomCAKeyIsSealedAndLoaded(t *testing.T) {
	n := newTestNode(t)
	chainPEM, keyPEM, h := configtest.CustomCAPEM(t, n.now())
	c := configtest.Valid()
	c.CACertificatePEM, c.CAPrivateKeyPEM = chainPEM, keyPEM
	loaded, err := n.keeper.Load(c)
	require.NoError(t, err)
	assert.True(t, loaded.Current.CA.Certificate.Equal(h.Issuing))
	assert.Equal(t, 1, loaded.Current.Generation)
	assert.Equal(t, 1, n.logged("stored in clear"))

	marker, err := n.keeper.SealCustomKey(c)
	require.NoError(t, err)
	assert.Equal(t, config.SealedKeyPrefix+pki.Fingerprint(h.Issuing), marker)
	stored, err := n.store.GetCA(StoredCustom)
	require.NoError(t, err)
	require.Len(t, stored.IssuingKeys, 1)
	assert.NotContains(t, string(stored.IssuingKeys[0].Sealed), "PRIVATE KEY")

	sealed := c.Clone()
	sealed.CAPrivateKeyPEM = marker
	loaded, err = n.keeper.Load(sealed)
	require.NoError(t, err)
	assert.True(t, loaded.Current.CA.Certificate.Equal(h.Issuing))
	assert.Equal(t, 1, n.logged("stored in clear"), "no warning for a sealed key")

	// Another secret cannot open it, and says so.
	other := sealed.Clone()
	other.EncryptionSecret = strings.Repeat("o", 43)
	_, err = n.keeper.Load(other)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "different encryption secret")

	// The certificate of another CA with the sealed key: refused.
	otherChain, _, _ := configtest.CustomCAPEM(t, n.now())
	mismatched := sealed.Clone()
	mismatched.CACertificatePEM = otherChain
	_, err = n.keeper.Load(mismatched)
	require.Error(t, err)
}

// A change of the encryption secret keeps both CAs: copies under the new
// secret are added, and the old ones dropped once the new one is in use.
func TestCAsAreResealedForANewSecret(t *testing.T) {
	n := newTestNode(t)
	before := n.root()
	chainPEM, keyPEM, h := configtest.CustomCAPEM(t, n.now())
	custom := configtest.Valid()
	custom.CACertificatePEM, custom.CAPrivateKeyPEM = chainPEM, keyPEM
	marker, err := n.keeper.SealCustomKey(custom)
	require.NoError(t, err)

	old := n.config()
	newSecret := strings.Repeat("n", 43)
	require.NoError(t, n.keeper.Reseal(old.EncryptionSecret, newSecret))
	require.NoError(t, n.keeper.Reseal(old.EncryptionSecret, newSecret), "twice is once")
	for _, name := range []string{StoredBuiltin, StoredCustom} {
		stored, err := n.store.GetCA(name)
		require.NoError(t, err)
		assert.Len(t, stored.IssuingKeys, 2, "%s: old and new copies until the new secret is in use", name)
	}

	rotated := old.Clone()
	rotated.EncryptionSecret = newSecret
	n.configure(rotated)
	assert.True(t, n.root().Equal(before), "same CA after the rotation")
	stored, err := n.store.GetCA(StoredBuiltin)
	require.NoError(t, err)
	assert.Len(t, stored.IssuingKeys, 1, "the copy under the old secret is dropped")
	assert.Len(t, stored.RootKeys, 1)

	custom.EncryptionSecret = newSecret
	custom.CAPrivateKeyPEM = marker
	loaded, err := n.keeper.Load(custom)
	require.NoError(t, err)
	assert.True(t, loaded.Current.CA.Certificate.Equal(h.Issuing))
	stored, err = n.store.GetCA(StoredCustom)
	require.NoError(t, err)
	assert.Len(t, stored.IssuingKeys, 1)

	// A secret the keys are not sealed under cannot be the old one.
	require.Error(t, n.keeper.Reseal(strings.Repeat("x", 43), strings.Repeat("y", 43)))
}
