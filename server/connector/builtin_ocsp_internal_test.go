package connector

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

// Whatever the periods and the clock do, a node makes a responder for a
// CA at most once an hour while the one it has is still valid; one that is
// not valid now is replaced at once, unless the CA has ended too.
func TestOCSPResponderIsMadeAtMostHourly(t *testing.T) {
	now := time.Date(2031, time.March, 4, 5, 6, 7, 0, time.UTC)
	h, err := pki.GenerateHierarchy("Example Corp", now.Add(-time.Hour))
	require.NoError(t, err)
	ca := h.CA()
	// Made 29 days ago: a day left, and a new one would outlive it.
	old, err := ca.NewOCSPResponder(now.Add(-29*24*time.Hour), responderValidity)
	require.NoError(t, err)
	r := &ocspResponder{current: old, tried: now.Add(-10 * time.Minute)}
	assert.False(t, r.due(ca, now), "made ten minutes ago")
	r.tried = now.Add(-responderMinInterval)
	assert.True(t, r.due(ca, now))

	r.tried = now
	assert.True(t, r.due(ca, old.Certificate.NotAfter), "expired: replaced at once")
	assert.True(t, r.due(ca, old.Certificate.NotBefore.Add(-time.Second)), "not valid yet (the clock went back): replaced at once")
	assert.False(t, r.due(ca, h.Issuing.NotAfter.Add(time.Hour)), "no new one can be valid after the CA's end")
}
