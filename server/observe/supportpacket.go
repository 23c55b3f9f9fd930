package observe

import (
	"context"
	"encoding/json"
	"path"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"gopkg.in/yaml.v3"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/config"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// Settings in the support packet. Every setting is in exactly one list (a
// test checks it), so a new one is left out until someone decides.
var (
	// supportShownSettings are copied as they are.
	supportShownSettings = []string{
		"LinkLifetimeMinutes", "CertificateValidityDays", "KeyType", "PKCS12Format",
		"EmailNotifications", "ReminderDays", "RevocationBaseURL", "CertificatesPerUserPerDay", "OnDeactivation", "EmailDelivery", "PortalLocalAccounts", "PortalSecondFactor", "OIDCIssuer", "OIDCClientID", "OIDCScopes", "OIDCUsernameClaim", "OIDCEmailClaim", "OIDCAllowedDomains", "OIDCGroupsClaim", "OIDCRequiredGroup", "OIDCButtonLabel",
		"SMTPServer", "SMTPPort", "SMTPConnectionSecurity", "SMTPUsername", "SMTPFrom",
	}
	// supportSummarizedSettings are long and public (certificates, the
	// catalog shown below on its own): only whether they are set.
	supportSummarizedSettings = []string{"CACertificatePEM", "AttestationRoots", "ConnectorsAndProfiles"}
	// supportRedactedSettings are secrets: only whether they are set. The
	// provisioner passwords of step-ca connectors are redacted too.
	supportRedactedSettings = []string{"LinkSigningSecret", "EncryptionSecret", "CAPrivateKeyPEM", "SMTPPassword", "OIDCClientSecret"}
)

const (
	redacted        = "[redacted]"
	setButNotShown  = "[set]"
	supportCAWithin = 100 * 365 * 24 * time.Hour // every CA certificate
	supportTimeout  = 30 * time.Second
)

// SupportPacket is the plugin's file in a Support Packet.
type SupportPacket struct {
	PluginVersion    string            `yaml:"plugin_version"`
	ServerVersion    string            `yaml:"server_version"`
	GeneratedAt      string            `yaml:"generated_at"`
	Ready            bool              `yaml:"ready"`
	SetupError       string            `yaml:"setup_error,omitempty"`
	Settings         map[string]any    `yaml:"settings"`
	RedactedSettings []string          `yaml:"redacted_settings"`
	DefaultProfile   string            `yaml:"default_profile,omitempty"`
	Connectors       []map[string]any  `yaml:"connectors"`
	Profiles         []map[string]any  `yaml:"profiles"`
	Certificates     map[string]int    `yaml:"certificates,omitempty"`
	OpenRequests     *openRequests     `yaml:"open_requests,omitempty"`
	CACertificates   []supportCACert   `yaml:"ca_certificates,omitempty"`
	Problems         []string          `yaml:"problems,omitempty"`
	Metrics          map[string]string `yaml:"metrics,omitempty"`
}

type openRequests struct {
	Total   int            `yaml:"total"`
	ByState map[string]int `yaml:"by_state,omitempty"`
}

type supportCACert struct {
	Connector   string `yaml:"connector"`
	Subject     string `yaml:"subject"`
	NotAfter    string `yaml:"not_after"`
	DaysLeft    int    `yaml:"days_left"`
	Fingerprint string `yaml:"fingerprint_sha256"`
}

// SupportRecords is what the support packet counts of the records.
type SupportRecords interface {
	CountCertificates(now time.Time) (records.StateCounts, error)
	ListOpenRequests() ([]*records.Request, error)
}

// Support gathers the plugin's file of a Support Packet.
type Support struct {
	// PluginID and PluginVersion are the plugin's, from its manifest.
	PluginID, PluginVersion string
	// ServerVersion asks the server its version.
	ServerVersion func() string
	// Config is the configuration in use.
	Config func() *config.Configuration
	// Current is the snapshot of services in use, or why there is none.
	Current *app.Current
	// Records are the certificate and request records; nil before they
	// are open.
	Records func() SupportRecords
	// Now is the clock.
	Now func() time.Time
}

// Files is <plugin id>/support.yaml for a Support Packet: what support
// needs to understand a set-up, without a secret.
func (s *Support) Files() ([]*model.FileData, error) {
	packet := s.Packet()
	body, err := yaml.Marshal(packet)
	if err != nil {
		return nil, err
	}
	return []*model.FileData{{Filename: path.Join(s.PluginID, "support.yaml"), Body: body}}, nil
}

// Packet is the content of the support file.
func (s *Support) Packet() *SupportPacket {
	now := s.Now()
	c := s.Config()
	packet := &SupportPacket{
		PluginVersion:    s.PluginVersion,
		ServerVersion:    s.ServerVersion(),
		GeneratedAt:      now.UTC().Format(time.RFC3339),
		Settings:         supportSettings(c),
		RedactedSettings: append(append([]string{}, supportRedactedSettings...), "connectors[].stepca.provisioner_password"),
	}
	catalog, err := c.Catalog()
	if err != nil {
		packet.Problems = append(packet.Problems, "the connectors and profiles do not parse: "+err.Error())
	} else {
		packet.DefaultProfile = catalog.DefaultProfile
		for _, conn := range catalog.Connectors {
			packet.Connectors = append(packet.Connectors, supportConnector(conn))
		}
		for _, prof := range catalog.Profiles {
			packet.Profiles = append(packet.Profiles, fieldsTree(prof))
		}
	}

	snapshot, err := s.Current.Get()
	if err != nil {
		packet.SetupError = err.Error()
	} else {
		packet.Ready = true
		ctx, cancel := context.WithTimeout(context.Background(), supportTimeout)
		defer cancel()
		for _, ca := range snapshot.Core.ExpiringCAs(ctx, supportCAWithin) {
			packet.CACertificates = append(packet.CACertificates, supportCACert{
				Connector:   ca.Connector,
				Subject:     ca.Certificate.Subject.String(),
				NotAfter:    ca.Certificate.NotAfter.UTC().Format(time.RFC3339),
				DaysLeft:    int(ca.Certificate.NotAfter.Sub(now).Hours() / 24),
				Fingerprint: pki.Fingerprint(ca.Certificate),
			})
		}
	}

	if inventory := s.Records(); inventory != nil {
		if counts, err := inventory.CountCertificates(now); err != nil {
			packet.Problems = append(packet.Problems, "the certificates could not be counted: "+err.Error())
		} else {
			packet.Certificates = map[string]int{"issued": counts.Issued, "expired": counts.Expired, "revoked": counts.Revoked}
		}
		if open, err := inventory.ListOpenRequests(); err != nil {
			packet.Problems = append(packet.Problems, "the open requests could not be listed: "+err.Error())
		} else {
			packet.OpenRequests = &openRequests{Total: len(open), ByState: map[string]int{}}
			for _, r := range open {
				packet.OpenRequests.ByState[string(r.State)]++
			}
		}
	}
	packet.Metrics = map[string]string{"path": "/plugins/" + s.PluginID + "/metrics on the server's metrics listener (MetricsSettings.Enable)"}
	return packet
}

// supportSettings are the settings: shown ones as they are, the others only
// whether they are set.
func supportSettings(c *config.Configuration) map[string]any {
	fields := fieldsOf(c)
	out := map[string]any{}
	for _, key := range supportShownSettings {
		out[key] = fields[key]
	}
	mark := func(keys []string, word string) {
		for _, key := range keys {
			if v, _ := fields[key].(string); v != "" {
				out[key] = word
			} else {
				out[key] = ""
			}
		}
	}
	mark(supportSummarizedSettings, setButNotShown)
	mark(supportRedactedSettings, redacted)
	return out
}

// supportConnector is a connector without its provisioner password.
func supportConnector(conn profile.Connector) map[string]any {
	if conn.StepCA != nil {
		stepCA := *conn.StepCA
		if stepCA.ProvisionerPassword != "" {
			stepCA.ProvisionerPassword = redacted
		}
		conn.StepCA = &stepCA
	}
	return fieldsTree(conn)
}

// fieldsTree is v as its JSON fields, for YAML to write under the same
// names the catalog uses.
func fieldsTree(v any) map[string]any {
	data, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var tree map[string]any
	if json.Unmarshal(data, &tree) != nil {
		return nil
	}
	return tree
}
