package main

import (
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/builtinca"
	"github.com/clientcerts/mattermost-plugin-certs/server/config"
	"github.com/clientcerts/mattermost-plugin-certs/server/config/configtest"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

// saveConfig runs ConfigurationWillBeSaved with the plugin's section changed
// from current to next.
func (env *testEnv) saveConfig(current, next map[string]any) error {
	env.t.Helper()
	_, err := env.saveConfigReturning(current, next)
	return err
}

// saveConfigReturning is saveConfig that also returns the config the hook
// asks the server to save instead (nil when unchanged).
func (env *testEnv) saveConfigReturning(current, next map[string]any) (*model.Config, error) {
	env.t.Helper()
	currentCfg := &model.Config{}
	currentCfg.SetDefaults()
	currentCfg.PluginSettings.Plugins = map[string]map[string]any{"certs": current}
	env.api.ExpectedCalls = removeCalls(env.api.ExpectedCalls, "GetUnsanitizedConfig")
	env.api.On("GetUnsanitizedConfig").Return(currentCfg)
	nextCfg := &model.Config{}
	nextCfg.SetDefaults()
	nextCfg.PluginSettings.Plugins = map[string]map[string]any{"certs": next}
	return env.p.ConfigurationWillBeSaved(nextCfg)
}

func TestConfigurationWillBeSaved(t *testing.T) {
	env := newTestEnv(t)
	cfg := env.p.getConfiguration()
	current := map[string]any{
		"linklifetimeminutes": 5, "linksigningsecret": cfg.LinkSigningSecret, "encryptionsecret": cfg.EncryptionSecret,
	}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for key, val := range current {
			m[key] = val
		}
		m[k] = v
		return m
	}

	require.NoError(t, env.saveConfig(current, with("linklifetimeminutes", 10)))

	err := env.saveConfig(current, with("linklifetimeminutes", 600))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Client Certificates: Link lifetime must be between 1 and 60 minutes (got 600)")

	err = env.saveConfig(current, with("keytype", "rsa-1024"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Key type")

	err = env.saveConfig(current, with("linklifetimeminutes", "soon"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not a whole number")

	// The System Console sends secrets back masked: that is not a change.
	require.NoError(t, env.saveConfig(current, with("linksigningsecret", model.FakeSetting)))

	// A save that leaves the plugin's section alone is never blocked, even
	// if that section is broken (it may predate validation).
	broken := with("linklifetimeminutes", 600)
	require.NoError(t, env.saveConfig(broken, broken))
	require.NoError(t, env.saveConfig(current, nil))
}

func TestConfigurationWillBeSavedResealsTheCAForANewSecret(t *testing.T) {
	env := newTestEnv(t)
	before, err := env.p.current.Get()
	require.NoError(t, err)
	cfg := env.p.getConfiguration()
	newSecret := strings.Repeat("n", 43)
	current := map[string]any{"linksigningsecret": cfg.LinkSigningSecret, "encryptionsecret": cfg.EncryptionSecret}
	next := map[string]any{"linksigningsecret": cfg.LinkSigningSecret, "encryptionsecret": newSecret}
	require.NoError(t, env.saveConfig(current, next))

	stored, err := env.p.store.GetCA(builtinca.StoredBuiltin)
	require.NoError(t, err)
	assert.Len(t, stored.IssuingKeys, 2, "old and new copies until the new secret is in use")

	rotated := cfg.Clone()
	rotated.EncryptionSecret = newSecret
	env.configure(rotated)
	after, err := env.p.current.Get()
	require.NoError(t, err)
	assert.Equal(t, rootOf(t, before), rootOf(t, after), "same CA after the rotation")

	stored, err = env.p.store.GetCA(builtinca.StoredBuiltin)
	require.NoError(t, err)
	assert.Len(t, stored.IssuingKeys, 1, "the copy under the old secret is dropped")
	assert.Len(t, stored.RootKeys, 1)
}

func TestWrongEncryptionSecretIsReportedNotReplaced(t *testing.T) {
	env := newTestEnv(t)
	before, err := env.p.current.Get()
	require.NoError(t, err)
	wrong := env.p.getConfiguration().Clone()
	wrong.EncryptionSecret = strings.Repeat("w", 43)
	env.p.applyConfiguration(wrong)
	_, err = env.p.current.Get()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "different encryption secret")

	// The CA was not regenerated behind the admin's back.
	right := wrong.Clone()
	right.EncryptionSecret = strings.Repeat("e", 43)
	env.configure(right)
	after, err := env.p.current.Get()
	require.NoError(t, err)
	assert.Equal(t, rootOf(t, before), rootOf(t, after))
}

func TestCustomCAIssues(t *testing.T) {
	env := newTestEnv(t)
	chainPEM, keyPEM, h := configtest.CustomCAPEM(t, time.Now())
	c := env.p.getConfiguration().Clone()
	c.CACertificatePEM, c.CAPrivateKeyPEM = chainPEM, keyPEM
	c.KeyType = string(pki.KeyRSA2048)
	c.PKCS12Format = string(pki.PKCS12Modern)
	env.configure(c)

	resp := env.issueJSON(env.token("alice"))
	record, err := env.p.store.GetCertificate(resp.Serial)
	require.NoError(t, err)
	assert.Equal(t, "rsa-2048", record.KeyType)
	leaf, err := x509.ParseCertificate(record.DER)
	require.NoError(t, err)
	require.NoError(t, leaf.CheckSignatureFrom(h.Issuing))
	s, err := env.p.current.Get()
	require.NoError(t, err)
	assert.Equal(t, h.Root.Raw, rootOf(t, s))
}

func TestCustomCAKeyIsMovedOutOfTheSettings(t *testing.T) {
	env := newTestEnv(t)
	chainPEM, keyPEM, h := configtest.CustomCAPEM(t, time.Now())
	cfg := env.p.getConfiguration()
	current := map[string]any{"linksigningsecret": cfg.LinkSigningSecret, "encryptionsecret": cfg.EncryptionSecret}
	next := map[string]any{"linksigningsecret": cfg.LinkSigningSecret, "encryptionsecret": cfg.EncryptionSecret,
		"cacertificatepem": chainPEM, "CAPrivateKeyPEM": keyPEM}
	saved, err := env.saveConfigReturning(current, next)
	require.NoError(t, err)
	require.NotNil(t, saved, "the hook returns the config with the key replaced")
	settings := saved.PluginSettings.Plugins["certs"]
	assert.Equal(t, "sealed:"+pki.Fingerprint(h.Issuing), settings["caprivatekeypem"])
	assert.NotContains(t, settings, "CAPrivateKeyPEM")
	for _, v := range settings {
		assert.NotContains(t, v, "PRIVATE KEY")
	}

	// The saved settings work: the key comes from the KV store.
	loaded, err := config.FromMap(settings)
	require.NoError(t, err)
	env.configure(loaded)
	resp := env.issueJSON(env.token("alice"))
	record, err := env.p.store.GetCertificate(resp.Serial)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(record.DER)
	require.NoError(t, err)
	require.NoError(t, leaf.CheckSignatureFrom(h.Issuing))

	// A marker that does not match the certificate is refused at save time.
	otherChain, _, _ := configtest.CustomCAPEM(t, time.Now())
	mismatched := loaded.Clone()
	mismatched.CACertificatePEM = otherChain
	err = mismatched.IsValid()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "belongs to another CA certificate")

	// Changing the encryption secret keeps the custom key usable.
	rotatedSettings := map[string]any{}
	for k, v := range settings {
		rotatedSettings[k] = v
	}
	rotatedSettings["encryptionsecret"] = strings.Repeat("r", 43)
	require.NoError(t, env.saveConfig(settings, rotatedSettings))
	rotated, err := config.FromMap(rotatedSettings)
	require.NoError(t, err)
	env.configure(rotated)
	env.issueJSON(env.token("alice"))
}
