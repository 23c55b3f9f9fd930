package observe

import (
	"reflect"
	"slices"
	"sort"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/clientcerts/mattermost-plugin-certs/server/config"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
)

// The audit of settings saves: which settings, connectors and profiles a
// save changed, by name only.

// EventLog writes events of the inventory that no record change carries.
type EventLog interface {
	RecordEvent(kind, actor string, detail any) error
}

// Logger is the part of the server's log the observers write to.
type Logger interface {
	LogWarn(msg string, keyValuePairs ...any)
}

// SettingsChange is what a save changed in the plugin's settings, by name
// only: the settings whose values changed, and the connectors and
// profiles added, removed or changed (with the fields that changed).
// Values are never kept: some are secrets.
type SettingsChange struct {
	Settings       []string
	Connectors     NamesChange
	Profiles       NamesChange
	DefaultProfile []string // [before, after] when it changed
}

// NamesChange is what changed of a list of named catalog entries.
type NamesChange struct {
	Added, Removed []string
	// Changed maps a name to the fields that changed, as dotted paths
	// ("stepca.provisioner_password").
	Changed map[string][]string
}

func (n NamesChange) empty() bool {
	return len(n.Added) == 0 && len(n.Removed) == 0 && len(n.Changed) == 0
}

func (n NamesChange) asMap() map[string]any {
	out := map[string]any{}
	if len(n.Added) > 0 {
		out["added"] = n.Added
	}
	if len(n.Removed) > 0 {
		out["removed"] = n.Removed
	}
	if len(n.Changed) > 0 {
		changed := map[string]any{}
		for name, fields := range n.Changed {
			changed[name] = fields
		}
		out["changed"] = changed
	}
	return out
}

func (c *SettingsChange) empty() bool {
	return len(c.Settings) == 0 && c.Connectors.empty() && c.Profiles.empty() && len(c.DefaultProfile) == 0
}

// detail is the change as plain maps and string lists: the audit record
// crosses the plugin RPC (gob), which carries no other types in its meta.
func (c *SettingsChange) detail() map[string]any {
	out := map[string]any{}
	if len(c.Settings) > 0 {
		out["settings"] = c.Settings
	}
	if !c.Connectors.empty() {
		out["connectors"] = c.Connectors.asMap()
	}
	if !c.Profiles.empty() {
		out["profiles"] = c.Profiles.asMap()
	}
	if len(c.DefaultProfile) > 0 {
		out["default_profile"] = c.DefaultProfile
	}
	return out
}

// DiffSettings is what changes from current to next (whose masked secrets
// have been filled in from current, so an untouched secret is unchanged).
// A catalog that does not parse counts as empty.
func DiffSettings(current, next *config.Configuration) *SettingsChange {
	change := &SettingsChange{}
	before, after := fieldsOf(current), fieldsOf(next)
	for _, key := range sortedKeys(before, after) {
		if key != "ConnectorsAndProfiles" && !reflect.DeepEqual(before[key], after[key]) {
			change.Settings = append(change.Settings, key)
		}
	}
	oldCatalog, _ := current.Catalog()
	newCatalog, _ := next.Catalog()
	if oldCatalog == nil {
		oldCatalog = &profile.Catalog{}
	}
	if newCatalog == nil {
		newCatalog = &profile.Catalog{}
	}
	change.Connectors = diffNamed(oldCatalog.Connectors, newCatalog.Connectors, func(c profile.Connector) string { return c.Name })
	change.Profiles = diffNamed(oldCatalog.Profiles, newCatalog.Profiles, func(p profile.Profile) string { return p.Name })
	if oldCatalog.DefaultProfile != newCatalog.DefaultProfile {
		change.DefaultProfile = []string{oldCatalog.DefaultProfile, newCatalog.DefaultProfile}
	}
	return change
}

// diffNamed compares two lists of catalog entries by name.
func diffNamed[T any](before, after []T, name func(T) string) NamesChange {
	var out NamesChange
	old := map[string]map[string]any{}
	for _, e := range before {
		old[name(e)] = fieldsOf(e)
	}
	seen := map[string]bool{}
	for _, e := range after {
		n := name(e)
		seen[n] = true
		prior, ok := old[n]
		if !ok {
			out.Added = append(out.Added, n)
			continue
		}
		now := fieldsOf(e)
		var fields []string
		for _, key := range sortedKeys(prior, now) {
			if !reflect.DeepEqual(prior[key], now[key]) {
				fields = append(fields, key)
			}
		}
		if len(fields) > 0 {
			if out.Changed == nil {
				out.Changed = map[string][]string{}
			}
			out.Changed[n] = fields
		}
	}
	for _, e := range before {
		if n := name(e); !seen[n] {
			out.Removed = append(out.Removed, n)
		}
	}
	return out
}

// fieldsOf is v's JSON fields, nested objects flattened to dotted paths.
func fieldsOf(v any) map[string]any {
	tree := fieldsTree(v)
	if tree == nil {
		return nil
	}
	out := map[string]any{}
	var flatten func(prefix string, m map[string]any)
	flatten = func(prefix string, m map[string]any) {
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok {
				flatten(prefix+k+".", sub)
				continue
			}
			out[prefix+k] = v
		}
	}
	flatten("", tree)
	return out
}

func sortedKeys(maps ...map[string]any) []string {
	var keys []string
	for _, m := range maps {
		for k := range m {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return keys
}

// RecordSettingsChange writes the event row (to events, when not nil) and
// the audit record of a settings save; a nil or empty change writes
// nothing. The hook that saves has no user: the server's own audit record
// of the config save (updateConfig, patchConfig) names who did it.
func RecordSettingsChange(change *SettingsChange, events EventLog, audit AuditLog, log Logger) {
	if change == nil || change.empty() {
		return
	}
	detail := change.detail()
	if events != nil {
		if err := events.RecordEvent("settings.changed", "", detail); err != nil {
			log.LogWarn("Could not record a settings change in the inventory's events", "error", err.Error())
		}
	}
	rec := newAuditRecord(AuditUpdateSettings, model.AuditStatusSuccess, "")
	rec.AddEventObjectType("plugin_settings")
	for k, v := range detail {
		rec.AddMeta(k, v)
	}
	audit.LogAuditRec(rec)
}
