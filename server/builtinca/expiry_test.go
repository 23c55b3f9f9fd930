package builtinca

import (
	"testing"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/config/configtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The admins hear of a CA certificate's expiry well before, each notice
// once. The admin's own CA: the plugin cannot renew it (the built-in one
// renews itself before any notice, see renewal_test.go).
func TestAdminsAreToldBeforeACAExpires(t *testing.T) {
	n := newTestNode(t)
	chainPEM, keyPEM, _ := configtest.CustomCAPEM(t, n.now())
	c := n.config().Clone()
	c.CACertificatePEM, c.CAPrivateKeyPEM = chainPEM, keyPEM
	n.configure(c)
	chain, err := n.services().Core.Connectors["builtin"].Chain(t.Context())
	require.NoError(t, err)
	issuing := chain[0]

	n.runJob()
	assert.Zero(t, n.noticesWith("expires on"), "years ahead: nothing")

	n.advance(issuing.NotAfter.Sub(n.now()) - 80*24*time.Hour)
	n.runJob()
	assert.Equal(t, 1, n.noticesWith("expires on "+issuing.NotAfter.UTC().Format("2006-01-02")))
	assert.Equal(t, 1, n.noticesWith("`"+markdownCell(issuing.Subject.String())+"` of connector `builtin` expires on "+
		issuing.NotAfter.UTC().Format("2006-01-02")+" (in 80 days)"))
	n.advance(25 * time.Hour)
	n.runJob()
	assert.Equal(t, 1, n.noticesWith("expires on"), "once per threshold")
	n.advance(55 * 24 * time.Hour)
	n.runJob()
	assert.Equal(t, 2, n.noticesWith("expires on"), "again at 30 days")
	assert.Zero(t, n.noticesWith("renewed"), "an admin's own CA is not renewed by the plugin")
	after, err := n.services().Core.Connectors["builtin"].Chain(t.Context())
	require.NoError(t, err)
	assert.True(t, after[0].Equal(issuing))
}

// The job looks once a day, whatever node runs it; a node that looks again
// the same day finds nothing to do, and one the next day sends each notice
// only once.
func TestCAExpiryIsLookedAtOnceADay(t *testing.T) {
	n := newTestNode(t)
	chainPEM, keyPEM, _ := configtest.CustomCAPEM(t, n.now())
	c := n.config().Clone()
	c.CACertificatePEM, c.CAPrivateKeyPEM = chainPEM, keyPEM
	n.configure(c)
	chain, err := n.services().Core.Connectors["builtin"].Chain(t.Context())
	require.NoError(t, err)
	n.keeper.NoticeExpiringCAs(n.services()) // today's look: nothing yet

	n.advance(chain[0].NotAfter.Sub(n.now()) - 5*24*time.Hour)
	n.keeper.NoticeExpiringCAs(n.services())
	assert.Equal(t, 1, n.noticesWith("expires on"), "five days before: the 7-day notice")
	n.advance(time.Hour)
	require.NoError(t, n.store.MarkRun("ca-expiry", n.now().Add(-25*time.Hour)))
	n.keeper.NoticeExpiringCAs(n.services())
	assert.Equal(t, 1, n.noticesWith("expires on"), "the 7-day notice is sent once")

	ran, err := n.store.LastRun("ca-expiry")
	require.NoError(t, err)
	assert.True(t, n.now().Equal(ran))
	n.advance(23 * time.Hour)
	n.keeper.NoticeExpiringCAs(n.services())
	again, err := n.store.LastRun("ca-expiry")
	require.NoError(t, err)
	assert.True(t, ran.Equal(again), "not again the same day")

	n.advance(3*24*time.Hour + time.Hour)
	n.keeper.NoticeExpiringCAs(n.services())
	assert.Equal(t, 2, n.noticesWith("expires on"), "the 1-day notice")
	assert.Equal(t, 1, n.noticesWith("(in 0 days)"))
}
