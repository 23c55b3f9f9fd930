package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/sealbox"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

// sealContextConnectorSecret binds sealed connector credentials to their use.
const sealContextConnectorSecret = "connector/secret"

// isSealedSecret reports whether a setting value is a reference to a secret
// sealed in the KV store rather than the secret itself.
func isSealedSecret(v string) bool { return strings.HasPrefix(v, sealedKeyPrefix) }

// sealSecret stores plaintext sealed under encryptionSecret and returns the
// marker that stands for it in the settings.
func (p *Plugin) sealSecret(encryptionSecret, plaintext string) (string, error) {
	key, err := sealbox.NewKey(encryptionSecret)
	if err != nil {
		return "", err
	}
	sealed, err := key.Seal([]byte(plaintext), sealContextConnectorSecret)
	if err != nil {
		return "", err
	}
	id := model.NewId()
	if err := p.store.SaveSecret(id, &store.Secret{Keys: []records.SealedKey{{KeyID: key.ID(), Sealed: sealed}}, CreatedAt: p.now()}); err != nil {
		return "", err
	}
	return sealedKeyPrefix + id, nil
}

// openSecret returns the secret a marker stands for.
func (p *Plugin) openSecret(encryptionSecret, marker string) (string, error) {
	key, err := sealbox.NewKey(encryptionSecret)
	if err != nil {
		return "", err
	}
	secret, err := p.store.GetSecret(strings.TrimPrefix(marker, sealedKeyPrefix))
	if errors.Is(err, records.ErrNotFound) {
		return "", errors.New("the stored password is missing; enter it again")
	}
	if err != nil {
		return "", err
	}
	sealed, ok := findSealed(secret.Keys, key.ID())
	if !ok {
		return "", errors.New("the stored password was encrypted with a different encryption secret; enter it again")
	}
	plain, err := key.Open(sealed.Sealed, sealContextConnectorSecret)
	if err != nil {
		return "", err
	}
	return string(plain), nil
}

// resealSecrets adds copies of the sealed secrets markers refer to, sealed
// under newSecret.
func (p *Plugin) resealSecrets(markers []string, oldSecret, newSecret string) error {
	oldKey, newKey, err := sealKeys(oldSecret, newSecret)
	if err != nil {
		return err
	}
	for _, marker := range markers {
		err := p.store.UpdateSecret(strings.TrimPrefix(marker, sealedKeyPrefix), func(s *store.Secret) error {
			var err error
			s.Keys, err = resealed(s.Keys, oldKey, newKey, sealContextConnectorSecret)
			return err
		})
		if err != nil && !errors.Is(err, records.ErrNotFound) {
			return err
		}
	}
	return nil
}

// sealCatalogSecrets replaces every connector password written in clear in
// the catalog JSON with a sealed marker. It returns the JSON to save and
// whether anything changed. The rest of the admin's JSON is kept as written
// (only re-indented).
func (p *Plugin) sealCatalogSecrets(catalogJSON, encryptionSecret string) (string, bool, error) {
	if strings.TrimSpace(catalogJSON) == "" {
		return catalogJSON, false, nil
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(catalogJSON), &doc); err != nil {
		return "", false, err
	}
	changed := false
	connectors, _ := doc["connectors"].([]any)
	for _, c := range connectors {
		conn, _ := c.(map[string]any)
		settings, _ := conn["stepca"].(map[string]any)
		password, _ := settings["provisioner_password"].(string)
		if password == "" || isSealedSecret(password) {
			continue
		}
		marker, err := p.sealSecret(encryptionSecret, password)
		if err != nil {
			return "", false, fmt.Errorf("connector %v: the password cannot be stored: %w", conn["name"], err)
		}
		settings["provisioner_password"] = marker
		changed = true
	}
	if !changed {
		return catalogJSON, false, nil
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return "", false, err
	}
	return string(out), true, nil
}

// sealedMarkers lists the sealed-secret markers of a configuration: the
// connector passwords in its catalog and the SMTP password.
func (c *configuration) sealedMarkers() []string {
	markers := sealedMarkersIn(c.ConnectorsAndProfiles)
	if isSealedSecret(c.SMTPPassword) {
		markers = append(markers, c.SMTPPassword)
	}
	return markers
}

// sealedMarkersIn lists the sealed-secret markers in a catalog JSON.
func sealedMarkersIn(catalogJSON string) []string {
	var doc struct {
		Connectors []struct {
			StepCA *struct {
				ProvisionerPassword string `json:"provisioner_password"`
			} `json:"stepca"`
		} `json:"connectors"`
	}
	if json.Unmarshal([]byte(catalogJSON), &doc) != nil {
		return nil
	}
	var markers []string
	for _, c := range doc.Connectors {
		if c.StepCA != nil && isSealedSecret(c.StepCA.ProvisionerPassword) {
			markers = append(markers, c.StepCA.ProvisionerPassword)
		}
	}
	return markers
}

// resealHeldKeys seals the keys open requests hold (CA-pending, kept for
// download) under the new encryption secret too.
func (p *Plugin) resealHeldKeys(oldSecret, newSecret string) error {
	oldKey, newKey, err := sealKeys(oldSecret, newSecret)
	if err != nil {
		return err
	}
	if p.inventory == nil {
		return nil
	}
	return enroll.ResealHeldKeys(p.inventory, oldKey, newKey, p.now)
}

// sealKeys are the keys of the old and the new encryption secret.
func sealKeys(oldSecret, newSecret string) (*sealbox.Key, *sealbox.Key, error) {
	oldKey, err := sealbox.NewKey(oldSecret)
	if err != nil {
		return nil, nil, err
	}
	newKey, err := sealbox.NewKey(newSecret)
	if err != nil {
		return nil, nil, err
	}
	return oldKey, newKey, nil
}
