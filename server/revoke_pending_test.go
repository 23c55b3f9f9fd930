package main

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
)

// downForRevocation is a CA that signs, and cannot be reached for
// revocations while down is set.
type downForRevocation struct {
	connector.Connector
	down    atomic.Bool
	revokes atomic.Int32
}

func (d *downForRevocation) Revoke(ctx context.Context, req connector.RevokeRequest) error {
	if d.down.Load() {
		return &connector.Error{Kind: connector.KindUnavailable, Connector: "builtin", Message: "connection refused"}
	}
	d.revokes.Add(1)
	return d.Connector.Revoke(ctx, req)
}

// A CA that cannot be reached when a certificate is revoked: the record is
// revoked at once and says the CA is pending; the job tells the CA once it
// answers.
func TestRevocationPendingAtAnUnreachableCAIsRetried(t *testing.T) {
	env := newTestEnv(t)
	s := mustServices(t, env)
	ca := &downForRevocation{Connector: s.core.Connectors["builtin"]}
	ca.down.Store(true)
	env.p.services.Store(withConnector(s, "builtin", ca))
	serial := env.issueJSON(env.token("alice")).Serial

	reply := env.run("alice", "/cert revoke "+serial)
	assert.Contains(t, reply, "is revoked in this plugin's records")
	assert.Contains(t, reply, "will be told as soon as it answers")
	record, err := env.p.store.GetCertificate(serial)
	require.NoError(t, err)
	assert.True(t, record.RevocationPending)
	assert.Contains(t, tableRowWith(env.run("alice", "/cert list"), serial), "revoked (pending at the CA)")

	env.p.runRequestJob()
	assert.Zero(t, ca.revokes.Load(), "still down")
	ca.down.Store(false)
	env.p.runRequestJob()
	assert.Equal(t, int32(1), ca.revokes.Load(), "told once it answers")
	record, err = env.p.store.GetCertificate(serial)
	require.NoError(t, err)
	assert.False(t, record.RevocationPending)
	env.p.runRequestJob()
	assert.Equal(t, int32(1), ca.revokes.Load(), "and not again")
}
