package stepcatest_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/connector/stepcatest"
)

// checkCtx bounds a check as an admin's save does, with room for a
// race-instrumented key decryption on a busy machine.
func checkCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func requireSetting(t *testing.T, err error, field string, want ...string) {
	t.Helper()
	require.Error(t, err)
	var fe *connector.StepCAConfigError
	require.ErrorAs(t, err, &fe, "not a setting error: %v", err)
	assert.Equal(t, field, fe.Field, "error: %v", err)
	for _, w := range want {
		assert.Contains(t, fe.Message, w)
	}
	assert.False(t, connector.IsUnavailable(err))
}

func TestCheckWithRealStepCA(t *testing.T) {
	a := stepcatest.Start(t, stepcatest.Options{})

	t.Run("right settings", func(t *testing.T) {
		require.NoError(t, connector.CheckStepCA(checkCtx(t), config(a)))
		c := newConnector(t, config(a))
		require.NoError(t, c.Check(checkCtx(t)))
		assert.EqualValues(t, 1, c.KeyDecryptions())
	})
	t.Run("wrong password", func(t *testing.T) {
		cfg := config(a)
		cfg.ProvisionerPassword = "not-the-password"
		err := connector.CheckStepCA(checkCtx(t), cfg)
		requireSetting(t, err, "ProvisionerPassword", `the provisioner password does not decrypt the key of provisioner "mattermost"`)
		assert.NotContains(t, err.Error(), "not-the-password")
		assert.NotContains(t, err.Error(), a.Password)
	})
	t.Run("wrong root fingerprint", func(t *testing.T) {
		cfg := config(a)
		cfg.RootFingerprint = strings.Repeat("0f", 32)
		requireSetting(t, connector.CheckStepCA(checkCtx(t), cfg), "RootFingerprint", "fingerprint")
	})
	t.Run("root of another step-ca", func(t *testing.T) {
		other := stepcatest.Start(t, stepcatest.Options{})
		cfg := config(a)
		cfg.RootFingerprint = other.Fingerprint
		requireSetting(t, connector.CheckStepCA(checkCtx(t), cfg), "RootFingerprint", "fingerprint")
	})
	t.Run("unknown provisioner", func(t *testing.T) {
		cfg := config(a)
		cfg.Provisioner = "nobody"
		requireSetting(t, connector.CheckStepCA(checkCtx(t), cfg), "Provisioner", `no JWK provisioner named "nobody"`)
	})
	t.Run("ACME provisioner", func(t *testing.T) {
		cfg := config(a)
		cfg.Provisioner = "acme"
		requireSetting(t, connector.CheckStepCA(checkCtx(t), cfg), "Provisioner", "needs a JWK provisioner")
	})
	t.Run("unreachable", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := l.Addr().String()
		require.NoError(t, l.Close())
		cfg := config(a)
		cfg.URL = "https://" + addr
		err = connector.CheckStepCA(checkCtx(t), cfg)
		requireKind(t, err, connector.KindUnavailable, "could not be reached")
		assert.True(t, connector.IsUnavailable(err))
		var fe *connector.StepCAConfigError
		assert.False(t, errors.As(err, &fe))
	})
	t.Run("stopped", func(t *testing.T) {
		stopped := stepcatest.Start(t, stepcatest.Options{})
		stopped.Stop()
		err := connector.CheckStepCA(checkCtx(t), config(stopped))
		requireKind(t, err, connector.KindUnavailable)
	})
}
