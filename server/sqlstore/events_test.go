//go:build e2e

package sqlstore

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRecordEventWritesARowWithItsDetail(t *testing.T) {
	s, clock, db := newTestStore(t)
	detail := map[string]any{"profiles": map[string]any{"added": []string{"vpn"}}}
	require.NoError(t, s.RecordEvent("settings.changed", "", detail))

	var at int64
	var kind, actor, owner, got string
	require.NoError(t, db.QueryRow(`SELECT at, kind, actor, owner, detail->'profiles'->'added'->>0 FROM certs_events WHERE kind = 'settings.changed'`).
		Scan(&at, &kind, &actor, &owner, &got))
	assert.Equal(t, clock.Now().UnixMilli(), at)
	assert.Equal(t, "", actor)
	assert.Equal(t, "", owner)
	assert.Equal(t, "vpn", got)

	assert.Error(t, s.RecordEvent("", "", nil), "an event without a kind is refused")
}
