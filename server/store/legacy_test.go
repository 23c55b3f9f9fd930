package store

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// The plugin API filters a page of keys by prefix after reading it: a
// page of other keys comes back empty, and the records after it must
// still be read. Before, a KV store with a thousand keys sorted before the
// records (bindings, say) moved none of them to the database.
func TestEveryRecordIsReadAmongThousandsOfOtherKeys(t *testing.T) {
	s, kv := newTestStore(t)
	for i := range 1200 {
		_, err := kv.Set(fmt.Sprintf("binding:user:u%04d", i), "id")
		require.NoError(t, err)
	}
	alice := records.MattermostUser("alice")
	for _, serial := range []string{"01", "02", "03"} {
		require.NoError(t, s.CreateCertificate(testCertificate(serial, alice)))
	}
	for i := range 1100 {
		_, err := kv.Set(fmt.Sprintf("token:t%04d", i), []byte(tokenUsed))
		require.NoError(t, err)
	}
	var seen []string
	require.NoError(t, s.EachCertificate(func(c *records.Certificate) error {
		seen = append(seen, c.Serial)
		return nil
	}))
	assert.Equal(t, []string{"01", "02", "03"}, seen)
}
