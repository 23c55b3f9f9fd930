package config

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/sealbox"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

// sealContextConnectorSecret binds sealed connector credentials to their use.
const sealContextConnectorSecret = "connector/secret"

// IsSealedSecret reports whether a setting value is a reference to a secret
// sealed in the KV store rather than the secret itself.
func IsSealedSecret(v string) bool { return strings.HasPrefix(v, SealedKeyPrefix) }

// Secrets keeps the passwords of the settings sealed in the KV store, so
// that the server configuration holds only markers that stand for them.
type Secrets struct {
	KV  *store.Store
	Now func() time.Time
}

// Seal stores plaintext sealed under encryptionSecret and returns the
// marker that stands for it in the settings.
func (s *Secrets) Seal(encryptionSecret, plaintext string) (string, error) {
	key, err := sealbox.NewKey(encryptionSecret)
	if err != nil {
		return "", err
	}
	sealed, err := key.Seal([]byte(plaintext), sealContextConnectorSecret)
	if err != nil {
		return "", err
	}
	id := model.NewId()
	if err := s.KV.SaveSecret(id, &store.Secret{Keys: []records.SealedKey{{KeyID: key.ID(), Sealed: sealed}}, CreatedAt: s.Now()}); err != nil {
		return "", err
	}
	return SealedKeyPrefix + id, nil
}

// Open returns the secret a marker stands for.
func (s *Secrets) Open(encryptionSecret, marker string) (string, error) {
	key, err := sealbox.NewKey(encryptionSecret)
	if err != nil {
		return "", err
	}
	secret, err := s.KV.GetSecret(strings.TrimPrefix(marker, SealedKeyPrefix))
	if errors.Is(err, records.ErrNotFound) {
		return "", errors.New("the stored password is missing; enter it again")
	}
	if err != nil {
		return "", err
	}
	sealed, ok := FindSealed(secret.Keys, key.ID())
	if !ok {
		return "", errors.New("the stored password was encrypted with a different encryption secret; enter it again")
	}
	plain, err := key.Open(sealed.Sealed, sealContextConnectorSecret)
	if err != nil {
		return "", err
	}
	return string(plain), nil
}

// OpenIfSealed is Open for a setting that may hold the secret itself.
func (s *Secrets) OpenIfSealed(encryptionSecret, value string) (string, error) {
	if !IsSealedSecret(value) {
		return value, nil
	}
	return s.Open(encryptionSecret, value)
}

// Reseal adds copies of the sealed secrets markers refer to, sealed under
// newSecret.
func (s *Secrets) Reseal(markers []string, oldSecret, newSecret string) error {
	oldKey, newKey, err := SealKeys(oldSecret, newSecret)
	if err != nil {
		return err
	}
	for _, marker := range markers {
		err := s.KV.UpdateSecret(strings.TrimPrefix(marker, SealedKeyPrefix), func(sec *store.Secret) error {
			var err error
			sec.Keys, err = Resealed(sec.Keys, oldKey, newKey, sealContextConnectorSecret)
			return err
		})
		if err != nil && !errors.Is(err, records.ErrNotFound) {
			return err
		}
	}
	return nil
}

// SealCatalog replaces every connector password written in clear in the
// catalog JSON with a sealed marker. It returns the JSON to save and
// whether anything changed. The rest of the admin's JSON is kept as written
// (only re-indented).
func (s *Secrets) SealCatalog(catalogJSON, encryptionSecret string) (string, bool, error) {
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
		if password == "" || IsSealedSecret(password) {
			continue
		}
		marker, err := s.Seal(encryptionSecret, password)
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

// SealedMarkers lists the sealed-secret markers of a configuration: the
// connector passwords in its catalog and the SMTP password.
func (c *Configuration) SealedMarkers() []string {
	markers := sealedMarkersIn(c.ConnectorsAndProfiles)
	for _, secret := range []string{c.SMTPPassword, c.OIDCClientSecret} {
		if IsSealedSecret(secret) {
			markers = append(markers, secret)
		}
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
		if c.StepCA != nil && IsSealedSecret(c.StepCA.ProvisionerPassword) {
			markers = append(markers, c.StepCA.ProvisionerPassword)
		}
	}
	return markers
}

// SetSetting sets a plugin setting in a config map. The server stores keys in
// lower case; any spelling of the key is replaced so that only one remains.
func SetSetting(settings map[string]any, key string, value any) {
	for k := range settings {
		if strings.EqualFold(k, key) {
			delete(settings, k)
		}
	}
	settings[strings.ToLower(key)] = value
}

// newSecret returns 32 random bytes as URL-safe base64 (43 characters), the
// same strength the System Console's Regenerate button gives.
func newSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// GenerateMissingSecrets fills the link signing and encryption secrets c
// lacks with new ones, in c and in settings (the plugin's section of the
// server configuration), and says whether it made any.
func (c *Configuration) GenerateMissingSecrets(settings map[string]any) (bool, error) {
	changed := false
	for _, s := range []struct {
		key   string
		value *string
	}{
		{"LinkSigningSecret", &c.LinkSigningSecret},
		{"EncryptionSecret", &c.EncryptionSecret},
	} {
		if *s.value != "" {
			continue
		}
		secret, err := newSecret()
		if err != nil {
			return false, err
		}
		*s.value = secret
		SetSetting(settings, s.key, secret)
		changed = true
	}
	return changed, nil
}

// SealSettings keeps the passwords of next out of the server
// configuration: each one written in clear (the SMTP password, step-ca
// provisioner passwords in the catalog) is sealed into the KV store and
// replaced in settings by its marker. It says whether settings changed.
func (s *Secrets) SealSettings(settings map[string]any, next *Configuration) (bool, error) {
	changed := false
	if next.SMTPPassword != "" && !IsSealedSecret(next.SMTPPassword) {
		marker, err := s.Seal(next.EncryptionSecret, next.SMTPPassword)
		if err != nil {
			return false, fmt.Errorf("the SMTP password cannot be stored: %w", err)
		}
		SetSetting(settings, "SMTPPassword", marker)
		changed = true
	}
	if next.OIDCClientSecret != "" && !IsSealedSecret(next.OIDCClientSecret) {
		marker, err := s.Seal(next.EncryptionSecret, next.OIDCClientSecret)
		if err != nil {
			return false, fmt.Errorf("the OpenID Connect client secret cannot be stored: %w", err)
		}
		SetSetting(settings, "OIDCClientSecret", marker)
		changed = true
	}
	catalog, sealed, err := s.SealCatalog(next.ConnectorsAndProfiles, next.EncryptionSecret)
	if err != nil {
		return false, fmt.Errorf("connectors and profiles: %w", err)
	}
	if sealed {
		SetSetting(settings, "ConnectorsAndProfiles", catalog)
		changed = true
	}
	return changed, nil
}
