package observe

import (
	"context"
	"crypto/x509"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/config"
	"github.com/clientcerts/mattermost-plugin-certs/server/config/configtest"
	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// fakeRecords are records as the support packet counts them.
type fakeRecords struct {
	counts records.StateCounts
	open   []*records.Request
	err    error
}

func (f *fakeRecords) CountCertificates(time.Time) (records.StateCounts, error) {
	return f.counts, f.err
}

func (f *fakeRecords) ListOpenRequests() ([]*records.Request, error) { return f.open, f.err }

// quietLog is the core's log, unread.
type quietLog struct{}

func (quietLog) LogInfo(string, ...any)  {}
func (quietLog) LogWarn(string, ...any)  {}
func (quietLog) LogError(string, ...any) {}

// downConnector is a CA that cannot be asked for its chain.
type downConnector struct{ connector.Connector }

func (downConnector) Chain(context.Context) ([]*x509.Certificate, error) {
	return nil, errors.New("connection refused")
}

// testSupport is the support packet of cfg, with the services of its
// catalog in use (the built-in CA, and a step-ca that is down) unless
// ready is false.
func testSupport(t *testing.T, cfg *config.Configuration, ready bool, inventory SupportRecords) *Support {
	t.Helper()
	current := &app.Current{}
	if ready {
		catalog, err := cfg.Catalog()
		require.NoError(t, err)
		builtin := builtinConnector(t, time.Now)
		core := enroll.New(enroll.Settings{Catalog: catalog, Connectors: map[string]connector.Connector{
			"builtin": builtin, "corp": downConnector{builtin},
		}}, enroll.Ports{Log: quietLog{}, Clock: time.Now})
		current.Store(&app.Snapshot{Config: cfg, Catalog: catalog, Core: core})
	} else if err := cfg.IsValid(); err != nil {
		current.Fail(err.Error())
	}
	return &Support{
		PluginID: "certs", PluginVersion: "1.2.3",
		ServerVersion: func() string { return "11.4.0" },
		Config:        func() *config.Configuration { return cfg },
		Current:       current,
		Records:       func() SupportRecords { return inventory },
		Now:           time.Now,
	}
}

func TestSupportPacketHasTheSetUpAndNoSecret(t *testing.T) {
	cfg := configtest.Valid()
	cfg.ConnectorsAndProfiles = stepCATestCatalog
	cfg.SMTPServer = "smtp.example.com"
	cfg.SMTPPort = 587
	cfg.SMTPConnectionSecurity = "starttls"
	cfg.SMTPUsername = "mailer"
	cfg.SMTPPassword = "smtp-password-do-not-leak"
	// A key in the settings (as before it is sealed) is redacted too.
	cfg.CAPrivateKeyPEM = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----"
	inventory := &fakeRecords{counts: records.StateCounts{Issued: 1}, open: []*records.Request{
		{ID: "a", State: records.RequestPending}, {ID: "b", State: records.RequestPending}, {ID: "c", State: records.RequestWaitingCA}}}

	files, err := testSupport(t, cfg, true, inventory).Files()
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
		GeneratedAt      string            `yaml:"generated_at"`
		Ready            bool              `yaml:"ready"`
		Settings         map[string]any    `yaml:"settings"`
		RedactedSettings []string          `yaml:"redacted_settings"`
		DefaultProfile   string            `yaml:"default_profile"`
		Connectors       []map[string]any  `yaml:"connectors"`
		Profiles         []map[string]any  `yaml:"profiles"`
		Certificates     map[string]int    `yaml:"certificates"`
		OpenRequests     map[string]any    `yaml:"open_requests"`
		CACertificates   []map[string]any  `yaml:"ca_certificates"`
		Problems         []string          `yaml:"problems"`
		Metrics          map[string]string `yaml:"metrics"`
	}
	require.NoError(t, yaml.Unmarshal(files[0].Body, &packet), body)
	assert.Equal(t, "1.2.3", packet.PluginVersion)
	assert.Equal(t, "11.4.0", packet.ServerVersion)
	assert.NotEmpty(t, packet.GeneratedAt)
	assert.True(t, packet.Ready)
	assert.Equal(t, redacted, packet.Settings["SMTPPassword"])
	assert.Equal(t, redacted, packet.Settings["LinkSigningSecret"])
	assert.Equal(t, redacted, packet.Settings["CAPrivateKeyPEM"])
	assert.Equal(t, "", packet.Settings["CACertificatePEM"], "not set")
	assert.Equal(t, "mailer", packet.Settings["SMTPUsername"])
	assert.Equal(t, "smtp.example.com", packet.Settings["SMTPServer"])
	assert.Equal(t, 587, packet.Settings["SMTPPort"])
	assert.Equal(t, setButNotShown, packet.Settings["ConnectorsAndProfiles"])
	assert.Contains(t, packet.RedactedSettings, "connectors[].stepca.provisioner_password")
	assert.Contains(t, packet.RedactedSettings, "EncryptionSecret")

	require.Len(t, packet.Connectors, 2)
	assert.Equal(t, "corp", packet.Connectors[1]["name"])
	stepCA := packet.Connectors[1]["stepca"].(map[string]any)
	assert.Equal(t, redacted, stepCA["provisioner_password"])
	assert.Equal(t, "https://127.0.0.1:1", stepCA["url"])
	require.Len(t, packet.Profiles, 2)
	assert.Equal(t, "vpn", packet.DefaultProfile)

	assert.Equal(t, map[string]int{"issued": 1, "expired": 0, "revoked": 0}, packet.Certificates)
	assert.Equal(t, 3, packet.OpenRequests["total"])
	assert.Equal(t, map[string]any{"pending": 2, "waiting_ca": 1}, packet.OpenRequests["by_state"])
	// The built-in CA's chain (the step-ca cannot be asked).
	require.Len(t, packet.CACertificates, 2)
	for _, ca := range packet.CACertificates {
		assert.Equal(t, "builtin", ca["connector"])
		assert.NotEmpty(t, ca["subject"])
		assert.NotEmpty(t, ca["not_after"])
		assert.NotEmpty(t, ca["fingerprint_sha256"])
		assert.Greater(t, ca["days_left"], 365)
	}
	assert.Empty(t, packet.Problems)
	assert.Contains(t, packet.Metrics["path"], "/plugins/certs/metrics")
}

func TestSupportPacketWhileMisconfiguredSaysWhy(t *testing.T) {
	bad := configtest.Valid()
	bad.LinkLifetimeMinutes = 600
	packet := testSupport(t, bad, false, nil).Packet()
	assert.False(t, packet.Ready)
	assert.Contains(t, packet.SetupError, "Link lifetime")
	assert.Empty(t, packet.CACertificates)
	assert.Nil(t, packet.Certificates, "no records open: nothing counted, and no problem either")
	assert.Nil(t, packet.OpenRequests)
	assert.Empty(t, packet.Problems)
	assert.Equal(t, 600.0, packet.Settings["LinkLifetimeMinutes"], "as the settings read it")
}

// What cannot be read is named among the problems; the rest is there.
func TestSupportPacketNamesItsProblems(t *testing.T) {
	broken := configtest.Valid()
	broken.ConnectorsAndProfiles = `{"connectors": [`
	packet := testSupport(t, broken, false, &fakeRecords{err: errors.New("the database is away")}).Packet()
	require.Len(t, packet.Problems, 3)
	assert.Contains(t, packet.Problems[0], "the connectors and profiles do not parse")
	assert.Contains(t, packet.Problems[1], "the certificates could not be counted: the database is away")
	assert.Contains(t, packet.Problems[2], "the open requests could not be listed: the database is away")
	assert.Empty(t, packet.Connectors)
	assert.Equal(t, "1.2.3", packet.PluginVersion)
}

// Every setting is shown, summarized or redacted, and only one of them: a
// new setting fails here until someone decides which.
func TestSupportPacketClassifiesEverySetting(t *testing.T) {
	lists := [][]string{supportShownSettings, supportSummarizedSettings, supportRedactedSettings}
	for key := range fieldsOf(&config.Configuration{}) {
		in := 0
		for _, list := range lists {
			if slices.Contains(list, key) {
				in++
			}
		}
		assert.Equal(t, 1, in, "setting %s must be in exactly one of the support packet's lists", key)
	}
	for _, list := range lists {
		for _, key := range list {
			_, ok := fieldsOf(&config.Configuration{})[key]
			assert.True(t, ok || strings.HasPrefix(key, "connectors"), "%s is not a setting", key)
		}
	}
}
