package main

import (
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/plugin/plugintest"
	"github.com/mattermost/mattermost/server/public/pluginapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/config"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

// TestBuiltinCAIsCreatedOnceAcrossNodes starts several plugin instances over
// one KV store at once, as the nodes of a cluster do, and checks they all end
// up with the same CA. The instances do not share a lock, so this also
// covers a node that does not take the cluster mutex: the store's
// create-if-absent decides.
func TestBuiltinCAIsCreatedOnceAcrossNodes(t *testing.T) {
	first := newTestEnv(t)
	shared := &pluginapi.MemoryStore{}
	const nodes = 6
	roots := make([][]byte, nodes)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := NewPlugin()
			p.SetAPI(first.p.API)
			p.client = pluginapi.NewClient(first.p.API, &plugintest.Driver{})
			p.store = store.New(shared)
			p.secrets = &config.Secrets{KV: p.store, Now: func() time.Time { return p.now() }}
			p.newMutex = func(string) (locker, error) { return &sync.Mutex{}, nil }
			loaded, err := p.loadCA(validConfiguration())
			if assert.NoError(t, err) {
				chain := loaded.current.CA.Chain
				roots[i] = chain[len(chain)-1].Raw
			}
		}()
	}
	wg.Wait()
	for i := 1; i < nodes; i++ {
		assert.Equal(t, roots[0], roots[i], "node %d has another CA", i)
	}
	stored, err := store.New(shared).GetCA(builtinCAName)
	require.NoError(t, err)
	assert.Equal(t, roots[0], stored.Chain[1])
}

func TestBuiltinCAKeysAreSealedAtRest(t *testing.T) {
	env := newTestEnv(t)
	stored, err := env.p.store.GetCA(builtinCAName)
	require.NoError(t, err)
	require.Len(t, stored.IssuingKeys, 1)
	require.Len(t, stored.RootKeys, 1)
	// The sealed bytes are not a DER private key.
	for _, k := range append(stored.IssuingKeys, stored.RootKeys...) {
		assert.NotEmpty(t, k.KeyID)
		_, parseErr := parsePKCS8(k.Sealed)
		assert.Error(t, parseErr)
	}
}
