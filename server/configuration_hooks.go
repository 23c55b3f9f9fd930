package main

import (
	"fmt"
	"maps"
	"reflect"

	"github.com/clientcerts/mattermost-plugin-certs/server/config"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/local"
	"github.com/clientcerts/mattermost-plugin-certs/server/observe"
	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pkg/errors"
)

// getConfiguration returns the active configuration snapshot. Never modify
// it: make a Clone.
func (p *Plugin) getConfiguration() *config.Configuration {
	p.configurationLock.RLock()
	defer p.configurationLock.RUnlock()
	if p.configuration == nil {
		c := &config.Configuration{}
		c.SetDefaults()
		return c
	}
	return p.configuration
}

func (p *Plugin) setConfiguration(c *config.Configuration) {
	p.configurationLock.Lock()
	defer p.configurationLock.Unlock()
	p.configuration = c
}

// OnConfigurationChange loads the new settings. The server may call it before
// OnActivate, so it only rebuilds the services once the plugin is active.
func (p *Plugin) OnConfigurationChange() error {
	c := &config.Configuration{}
	if err := p.API.LoadPluginConfiguration(c); err != nil {
		return errors.Wrap(err, "failed to load the plugin configuration")
	}
	c.SetDefaults()
	p.setConfiguration(c)
	if p.client != nil {
		p.applyConfiguration(c)
	}
	return nil
}

// ConfigurationWillBeSaved refuses a System Console save that would break the
// plugin, with a message that names the setting. It runs for every config
// save on the server, so it only judges the plugin's own section, and only
// when that section changed: an unrelated save is never blocked. A save it
// lets through is recorded (an event row and an audit record), by name only.
func (p *Plugin) ConfigurationWillBeSaved(newCfg *model.Config) (saved *model.Config, err error) {
	var change *observe.SettingsChange
	defer func() {
		if err == nil {
			observe.RecordSettingsChange(change, p.events, p.API, p.API)
		}
	}()
	if newCfg == nil {
		return nil, nil
	}
	id := manifest.Id
	newSettings := newCfg.PluginSettings.Plugins[id]
	var oldSettings map[string]any
	if current := p.API.GetUnsanitizedConfig(); current != nil {
		oldSettings = current.PluginSettings.Plugins[id]
	}
	if newSettings == nil || reflect.DeepEqual(newSettings, oldSettings) {
		return nil, nil
	}
	next, err := config.FromMap(newSettings)
	if err != nil {
		return nil, fmt.Errorf("Client Certificates: %w", err)
	}
	current := p.getConfiguration()
	next = next.WithSecretsFrom(current)
	if err := next.IsValid(); err != nil {
		return nil, fmt.Errorf("Client Certificates: %w", err)
	}
	if p.store == nil {
		return nil, nil
	}
	// The same check as the settings form's (POST /api/v1/admin/settings/check).
	parsed, err := next.CheckCatalog()
	if err != nil {
		return nil, fmt.Errorf("Client Certificates: %w", err)
	}
	change = observe.DiffSettings(current, next)
	// The approvers and teams the admin names now are the accounts and
	// teams these names mean from now on.
	if err := p.dir.BindSavedNames(parsed); err != nil {
		return nil, fmt.Errorf("Client Certificates: connectors and profiles: %w", err)
	}
	if err := p.checkStepCAConnectors(current, next, parsed); err != nil {
		return nil, fmt.Errorf("Client Certificates: %w", err)
	}
	if err := p.checkOIDCProvider(current, next); err != nil {
		return nil, fmt.Errorf("Client Certificates: %w", err)
	}
	if current.EncryptionSecret != "" && next.EncryptionSecret != current.EncryptionSecret {
		if err := p.caKeeper.Reseal(current.EncryptionSecret, next.EncryptionSecret); err != nil {
			return nil, fmt.Errorf("Client Certificates: the encryption secret cannot be changed: %w", err)
		}
		if err := p.secrets.Reseal(next.SealedMarkers(), current.EncryptionSecret, next.EncryptionSecret); err != nil {
			return nil, fmt.Errorf("Client Certificates: the encryption secret cannot be changed: %w", err)
		}
		if err := p.resealHeldKeys(current.EncryptionSecret, next.EncryptionSecret); err != nil {
			return nil, fmt.Errorf("Client Certificates: the encryption secret cannot be changed: %w", err)
		}
	}
	if next.EncryptionSecret == "" {
		return nil, nil
	}
	// Keep secrets out of the server configuration: seal them into the KV
	// store and save only markers in their place.
	changed := false
	if next.UsesCustomCA() && !next.CustomKeyIsSealed() {
		marker, err := p.caKeeper.SealCustomKey(next)
		if err != nil {
			return nil, fmt.Errorf("Client Certificates: the CA private key cannot be stored: %w", err)
		}
		config.SetSetting(newSettings, "CAPrivateKeyPEM", marker)
		changed = true
	}
	sealed, err := p.secrets.SealSettings(newSettings, next)
	if err != nil {
		return nil, fmt.Errorf("Client Certificates: %w", err)
	}
	if changed || sealed {
		return newCfg, nil
	}
	return nil, nil
}

// ensureSecrets generates the link signing and encryption secrets if the
// admin has not saved any, once for the whole cluster, and saves them in the
// plugin's settings where the System Console shows and can regenerate them.
func (p *Plugin) ensureSecrets() error {
	c := p.getConfiguration()
	if c.LinkSigningSecret != "" && c.EncryptionSecret != "" {
		return nil
	}
	mutex, err := p.newMutex("certs-secrets")
	if err != nil {
		return err
	}
	mutex.Lock()
	defer mutex.Unlock()

	// Another node may have generated them while this one waited.
	settings := map[string]any{}
	if cfg := p.client.Configuration.GetUnsanitizedConfig(); cfg != nil {
		maps.Copy(settings, cfg.PluginSettings.Plugins[manifest.Id])
	}
	fresh, err := config.FromMap(settings)
	if err != nil {
		return err
	}
	changed, err := fresh.GenerateMissingSecrets(settings)
	if err != nil {
		return err
	}
	if changed {
		if err := p.client.Configuration.SavePluginConfig(settings); err != nil {
			return errors.Wrap(err, "save generated secrets")
		}
	}
	p.setConfiguration(fresh)
	return nil
}

// resealHeldKeys seals the keys open requests hold (CA-pending, kept for
// download), and the local accounts' authenticator-app secrets, under the
// new encryption secret too.
func (p *Plugin) resealHeldKeys(oldSecret, newSecret string) error {
	oldKey, newKey, err := config.SealKeys(oldSecret, newSecret)
	if err != nil {
		return err
	}
	if err := local.ResealTOTP(p.store, oldKey, newKey); err != nil {
		return err
	}
	if p.inventory == nil {
		return nil
	}
	return enroll.ResealHeldKeys(p.inventory, oldKey, newKey, p.now)
}
