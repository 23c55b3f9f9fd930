package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The admins hear of a CA certificate's expiry well before, each notice
// once. The admin's own CA: the plugin cannot renew it (the built-in one
// renews itself before any notice, see carenewal_test.go).
func TestAdminsAreToldBeforeACAExpires(t *testing.T) {
	env := newTestEnv(t)
	chainPEM, keyPEM, _ := customCAPEM(t)
	c := env.p.getConfiguration().Clone()
	c.CACertificatePEM, c.CAPrivateKeyPEM = chainPEM, keyPEM
	env.configure(c)
	chain, err := mustServices(t, env).Core.Connectors["builtin"].Chain(t.Context())
	require.NoError(t, err)
	issuing := chain[0]

	env.p.runRequestJob()
	assert.Zero(t, env.noticesTo("carol", "expires on"), "years ahead: nothing")

	env.advance(issuing.NotAfter.Sub(env.now()) - 80*24*time.Hour)
	env.p.runRequestJob()
	assert.Equal(t, 1, env.noticesTo("carol", "expires on "+issuing.NotAfter.UTC().Format("2006-01-02")))
	env.advance(25 * time.Hour)
	env.p.runRequestJob()
	assert.Equal(t, 1, env.noticesTo("carol", "expires on"), "once per threshold")
	env.advance(55 * 24 * time.Hour)
	env.p.runRequestJob()
	assert.Equal(t, 2, env.noticesTo("carol", "expires on"), "again at 30 days")
	assert.Zero(t, env.noticesTo("carol", "renewed"), "an admin's own CA is not renewed by the plugin")
	after, err := mustServices(t, env).Core.Connectors["builtin"].Chain(t.Context())
	require.NoError(t, err)
	assert.True(t, after[0].Equal(issuing))
}
