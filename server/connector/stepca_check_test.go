package connector_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/connector/connectortest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
)

// requireSettingError checks that err is Check's refusal of field, with
// the connector's error (KindMisconfigured) behind it.
func requireSettingError(t *testing.T, err error, field string, want ...string) *connector.StepCAConfigError {
	t.Helper()
	require.Error(t, err)
	var fe *connector.StepCAConfigError
	require.ErrorAs(t, err, &fe, "not a setting error: %v", err)
	assert.Equal(t, field, fe.Field, "error: %v", err)
	for _, w := range want {
		assert.Contains(t, fe.Message, w)
	}
	assert.Equal(t, fe.Message, err.Error(), "the message alone, for the admin's save")
	ce := connector.AsError(err)
	require.NotNil(t, ce, "the connector's error is the cause")
	assert.Equal(t, connector.KindMisconfigured, ce.Kind)
	assert.False(t, connector.IsUnavailable(err))
	assert.NotContains(t, err.Error(), stepCAFakePassword)
	return fe
}

func TestStepCACheckPassesAndSignsNothing(t *testing.T) {
	f := newStepCAFake(t)
	c := f.connector()
	require.NoError(t, c.Check(context.Background()))
	assert.EqualValues(t, 1, f.rootFetches.Load())
	assert.EqualValues(t, 1, f.provisionerFetches.Load())
	assert.EqualValues(t, 1, c.KeyDecryptions())
	assert.Zero(t, f.signs.Load())

	// Nothing is kept: a second check asks the CA again.
	require.NoError(t, c.Check(context.Background()))
	assert.EqualValues(t, 2, f.rootFetches.Load())
	assert.EqualValues(t, 2, c.KeyDecryptions())

	require.NoError(t, connector.CheckStepCA(context.Background(), f.config()))
}

func TestStepCACheckNamesTheWrongSetting(t *testing.T) {
	ctx := context.Background()
	t.Run("wrong password", func(t *testing.T) {
		f := newStepCAFake(t)
		err := f.connector(func(cfg *connector.StepCAConfig) { cfg.ProvisionerPassword = "wrong" }).Check(ctx)
		requireSettingError(t, err, "ProvisionerPassword", `the provisioner password does not decrypt the key of provisioner "mattermost"`)
		assert.NotContains(t, err.Error(), "wrong")
	})
	t.Run("fingerprint of another root", func(t *testing.T) {
		f := newStepCAFake(t)
		other := stepCANewPKI(t, "Other")
		err := f.connector(func(cfg *connector.StepCAConfig) { cfg.RootFingerprint = other.fingerprint() }).Check(ctx)
		requireSettingError(t, err, "RootFingerprint", "no root certificate with the configured fingerprint")
	})
	t.Run("root does not hash to the fingerprint", func(t *testing.T) {
		f := newStepCAFake(t)
		other := stepCANewPKI(t, "Other")
		f.route("GET /root/", func(w http.ResponseWriter, _ *http.Request) {
			stepCAJSON(w, http.StatusOK, map[string]any{"ca": stepCAPEM(other.root)})
		})
		requireSettingError(t, f.connector().Check(ctx), "RootFingerprint", "does not match the configured fingerprint")
	})
	t.Run("TLS certificate of another root", func(t *testing.T) {
		f := newStepCAFake(t)
		impostor := stepCANewPKI(t, "Impostor")
		srv := httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{impostor.serverCert(t)}, MinVersion: tls.VersionTLS12}
		srv.StartTLS()
		t.Cleanup(srv.Close)
		err := f.connector(func(cfg *connector.StepCAConfig) { cfg.URL = srv.URL }).Check(ctx)
		requireSettingError(t, err, "RootFingerprint", "does not chain to the root with the configured fingerprint")
	})
	t.Run("unknown provisioner", func(t *testing.T) {
		f := newStepCAFake(t)
		err := f.connector(func(cfg *connector.StepCAConfig) { cfg.Provisioner = "nobody" }).Check(ctx)
		requireSettingError(t, err, "Provisioner", `no JWK provisioner named "nobody"`)
	})
	t.Run("not a JWK provisioner", func(t *testing.T) {
		f := newStepCAFake(t)
		err := f.connector(func(cfg *connector.StepCAConfig) { cfg.Provisioner = "acme" }).Check(ctx)
		requireSettingError(t, err, "Provisioner", "of type ACME")
	})
	t.Run("not a step-ca", func(t *testing.T) {
		srv := httptest.NewTLSServer(http.NotFoundHandler())
		t.Cleanup(srv.Close)
		err := connector.CheckStepCA(ctx, connector.StepCAConfig{Name: "corp-ca", URL: srv.URL, RootFingerprint: strings.Repeat("ab", 32),
			Provisioner: "mattermost", ProvisionerPassword: "pw"})
		requireSettingError(t, err, "URL", "is the URL a step-ca?")
	})
	t.Run("plain HTTP", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		t.Cleanup(srv.Close)
		err := connector.CheckStepCA(ctx, connector.StepCAConfig{Name: "corp-ca", URL: strings.Replace(srv.URL, "http:", "https:", 1),
			RootFingerprint: strings.Repeat("ab", 32), Provisioner: "mattermost", ProvisionerPassword: "pw"})
		requireSettingError(t, err, "URL", "does not answer with TLS")
	})
	t.Run("invalid settings", func(t *testing.T) {
		f := newStepCAFake(t)
		cfg := f.config()
		cfg.RootFingerprint = "abc"
		var fe *connector.StepCAConfigError
		require.ErrorAs(t, connector.CheckStepCA(ctx, cfg), &fe)
		assert.Equal(t, "RootFingerprint", fe.Field)
		assert.Zero(t, f.rootFetches.Load(), "a setting wrong on its face asks nothing")
	})
}

func TestStepCACheckTellsAnUnreachableCAApart(t *testing.T) {
	ctx := context.Background()
	f := newStepCAFake(t)
	t.Run("closed port", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := l.Addr().String()
		require.NoError(t, l.Close())
		err = f.connector(func(cfg *connector.StepCAConfig) { cfg.URL = "https://" + addr }).Check(ctx)
		ce := stepCAErr(t, err, connector.KindUnavailable, "could not be reached")
		assert.True(t, connector.IsUnavailable(err))
		var fe *connector.StepCAConfigError
		assert.False(t, errors.As(err, &fe), "nothing is known about the settings")
		assert.True(t, ce.Retryable())
	})
	t.Run("no answer within the caller's deadline", func(t *testing.T) {
		addr := connectortest.SilentServer(t)
		ctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		err := f.connector(func(cfg *connector.StepCAConfig) { cfg.URL = "https://" + addr }).Check(ctx)
		stepCAErr(t, err, connector.KindUnavailable, "in time")
		assert.True(t, connector.IsUnavailable(err))
	})
	t.Run("CA error", func(t *testing.T) {
		f.route("GET /root/", func(w http.ResponseWriter, _ *http.Request) { stepCAFail(w, http.StatusServiceUnavailable, "down") })
		err := f.connector().Check(ctx)
		stepCAErr(t, err, connector.KindUnavailable, "unavailable (HTTP 503)")
	})
	assert.False(t, connector.IsUnavailable(nil))
	assert.False(t, connector.IsUnavailable(errors.New("other")))
}
