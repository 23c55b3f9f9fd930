package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

func TestSupportPacketHasTheSetUpAndNoSecret(t *testing.T) {
	env := newTestEnvWithCatalog(t, stepCATestCatalog)
	env.api.On("GetServerVersion").Return("11.4.0")
	cfg := env.p.getConfiguration().Clone()
	cfg.SMTPServer = "smtp.example.com"
	cfg.SMTPPort = 587
	cfg.SMTPConnectionSecurity = "starttls"
	cfg.SMTPUsername = "mailer"
	cfg.SMTPPassword = "smtp-password-do-not-leak"
	env.configure(cfg)
	env.issueJSON(env.tokenFor("alice", "vpn"))
	// A key in the settings (as before it is sealed) is redacted too.
	withKey := cfg.Clone()
	withKey.CAPrivateKeyPEM = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----"
	env.p.setConfiguration(withKey)

	files, err := env.p.GenerateSupportData(nil)
	require.NoError(t, err)
	require.Len(t, files, 1)
	assert.Equal(t, "certs/support.yaml", files[0].Filename)
	body := string(files[0].Body)

	for name, secret := range map[string]string{
		"link signing secret":  cfg.LinkSigningSecret,
		"encryption secret":    cfg.EncryptionSecret,
		"SMTP password":        cfg.SMTPPassword,
		"provisioner password": "hunter2-provisioner",
		"CA private key":       "PRIVATE KEY",
	} {
		require.NotEmpty(t, secret)
		assert.NotContains(t, body, secret, "the %s is not in the support packet", name)
	}

	var packet struct {
		PluginVersion    string            `yaml:"plugin_version"`
		ServerVersion    string            `yaml:"server_version"`
		Ready            bool              `yaml:"ready"`
		Settings         map[string]any    `yaml:"settings"`
		RedactedSettings []string          `yaml:"redacted_settings"`
		DefaultProfile   string            `yaml:"default_profile"`
		Connectors       []map[string]any  `yaml:"connectors"`
		Profiles         []map[string]any  `yaml:"profiles"`
		Certificates     map[string]int    `yaml:"certificates"`
		OpenRequests     map[string]any    `yaml:"open_requests"`
		CACertificates   []map[string]any  `yaml:"ca_certificates"`
		Metrics          map[string]string `yaml:"metrics"`
	}
	require.NoError(t, yaml.Unmarshal(files[0].Body, &packet), body)
	assert.Equal(t, manifest.Version, packet.PluginVersion)
	assert.Equal(t, "11.4.0", packet.ServerVersion)
	assert.True(t, packet.Ready)
	assert.Equal(t, "[redacted]", packet.Settings["SMTPPassword"])
	assert.Equal(t, "[redacted]", packet.Settings["LinkSigningSecret"])
	assert.Equal(t, "[redacted]", packet.Settings["CAPrivateKeyPEM"])
	assert.Equal(t, "mailer", packet.Settings["SMTPUsername"])
	assert.Equal(t, "smtp.example.com", packet.Settings["SMTPServer"])
	assert.Equal(t, "[set]", packet.Settings["ConnectorsAndProfiles"])
	assert.Contains(t, packet.RedactedSettings, "connectors[].stepca.provisioner_password")

	require.Len(t, packet.Connectors, 2)
	assert.Equal(t, "corp", packet.Connectors[1]["name"])
	stepCA := packet.Connectors[1]["stepca"].(map[string]any)
	assert.Equal(t, "[redacted]", stepCA["provisioner_password"])
	assert.Equal(t, "https://127.0.0.1:1", stepCA["url"])
	require.Len(t, packet.Profiles, 2)
	assert.Equal(t, "vpn", packet.DefaultProfile)

	assert.Equal(t, map[string]int{"issued": 1, "expired": 0, "revoked": 0}, packet.Certificates)
	assert.Equal(t, 0, packet.OpenRequests["total"])
	// The built-in CA's chain (the step-ca at port 1 cannot be asked).
	require.Len(t, packet.CACertificates, 2)
	for _, ca := range packet.CACertificates {
		assert.Equal(t, "builtin", ca["connector"])
		assert.NotEmpty(t, ca["not_after"])
		assert.NotEmpty(t, ca["fingerprint_sha256"])
	}
}
