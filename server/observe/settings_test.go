package observe

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/config"
	"github.com/clientcerts/mattermost-plugin-certs/server/config/configtest"
)

const stepCATestCatalog = `{
  "connectors": [{"name": "builtin", "type": "builtin"},
    {"name": "corp", "type": "stepca", "stepca": {"url": "https://127.0.0.1:1", "root_fingerprint": "` + "abababababababababababababababababababababababababababababababab" + `",
      "provisioner": "mattermost", "provisioner_password": "hunter2-provisioner", "timeout_seconds": 2}}],
  "profiles": [{"name": "vpn", "connector": "builtin"}, {"name": "step", "connector": "corp", "validity_days": 1}]
}`

// fakeEvents keeps the events recorded.
type fakeEvents struct {
	mu     sync.Mutex
	events []fakeEvent
	err    error
}

type fakeEvent struct {
	kind, actor string
	detail      any
}

func (f *fakeEvents) RecordEvent(kind, actor string, detail any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.events = append(f.events, fakeEvent{kind: kind, actor: actor, detail: detail})
	return nil
}

func TestDiffSettingsNamesChangedFieldsOnly(t *testing.T) {
	before := &config.Configuration{ConnectorsAndProfiles: stepCATestCatalog}
	before.SetDefaults()
	after := before.Clone()
	after.ConnectorsAndProfiles = strings.Replace(strings.Replace(stepCATestCatalog, "hunter2-provisioner", "new-secret-pw", 1),
		`"validity_days": 1`, `"validity_days": 2`, 1)
	change := DiffSettings(before, after)
	assert.Empty(t, change.Settings, "the catalog is described by its entries")
	assert.Equal(t, map[string][]string{"corp": {"stepca.provisioner_password"}}, change.Connectors.Changed)
	assert.Equal(t, map[string][]string{"step": {"validity_days"}}, change.Profiles.Changed)
	assert.NotContains(t, fmt.Sprint(change.detail()), "new-secret-pw")
	assert.NotContains(t, fmt.Sprint(change.detail()), "hunter2")
	assert.True(t, DiffSettings(before, before.Clone()).empty())
}

// A save that adds a catalog: the settings by name, the connectors and
// profiles added and removed, the default profile; never a value.
func TestSettingsChangeIsRecordedByNameWithoutSecrets(t *testing.T) {
	current := configtest.Valid()
	next := current.Clone()
	next.ConnectorsAndProfiles = stepCATestCatalog
	next.EmailDelivery = config.EmailDeliveryOff
	next.SMTPPassword = "smtp-password-do-not-leak"
	change := DiffSettings(current, next)

	events, audit := &fakeEvents{}, &fakeAudit{t: t}
	RecordSettingsChange(change, events, audit, audit)
	require.Len(t, events.events, 1)
	event := events.events[0]
	assert.Equal(t, "settings.changed", event.kind)
	assert.Empty(t, event.actor, "the save hook does not know who saved")
	detail := event.detail.(map[string]any)
	assert.Equal(t, []string{"EmailDelivery", "SMTPPassword"}, detail["settings"])
	assert.Equal(t, map[string]any{"added": []string{"corp"}}, detail["connectors"])
	assert.Equal(t, map[string]any{"added": []string{"vpn", "step"}, "removed": []string{"default"}}, detail["profiles"])
	assert.Equal(t, []string{"default", "vpn"}, detail["default_profile"])

	rec := audit.One(t, AuditUpdateSettings)
	assert.Equal(t, model.AuditStatusSuccess, rec.Status)
	assert.Equal(t, "plugin_settings", rec.EventData.ObjectType)
	assert.Equal(t, detail["connectors"], rec.Meta["connectors"])
	assert.Equal(t, detail["settings"], rec.Meta["settings"])
	for _, secret := range []string{"hunter2-provisioner", "smtp-password-do-not-leak", current.EncryptionSecret} {
		assert.NotContains(t, audit.Text(), secret)
		assert.NotContains(t, fmt.Sprint(events.events), secret)
	}

	// Nothing changed, or no change known: nothing recorded.
	RecordSettingsChange(DiffSettings(next, next.Clone()), events, audit, audit)
	RecordSettingsChange(nil, events, audit, audit)
	assert.Len(t, events.events, 1)
	assert.Len(t, audit.Of(AuditUpdateSettings), 1)

	// Before the inventory is open there are no events: the audit still
	// records; an event that cannot be written is a warning.
	RecordSettingsChange(change, nil, audit, audit)
	assert.Len(t, audit.Of(AuditUpdateSettings), 2)
	RecordSettingsChange(change, &fakeEvents{err: errors.New("database away")}, audit, audit)
	assert.Len(t, audit.Of(AuditUpdateSettings), 3)
	require.Len(t, audit.warns, 1)
	assert.Contains(t, audit.warns[0], "database away")
}

// A catalog that does not parse counts as empty, rather than hiding the
// rest of the change.
func TestDiffSettingsWithABrokenCatalog(t *testing.T) {
	current := configtest.Valid()
	next := current.Clone()
	next.ConnectorsAndProfiles = `{"connectors": [`
	next.KeyType = "rsa-2048"
	change := DiffSettings(current, next)
	assert.Equal(t, []string{"KeyType"}, change.Settings)
	assert.Equal(t, []string{"builtin"}, change.Connectors.Removed)
	assert.Equal(t, []string{"default"}, change.Profiles.Removed)
	assert.Equal(t, []string{"default", ""}, change.DefaultProfile)
}
