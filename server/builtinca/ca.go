package builtinca

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"

	"github.com/clientcerts/mattermost-plugin-certs/server/config"
	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/sealbox"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

// KV names of the stored CAs: the generated one, and the admin's own once
// its key has been moved out of the settings.
const (
	StoredBuiltin = "builtin"
	StoredCustom  = "custom"
)

// Contexts bind sealed keys to their purpose, so one sealed value cannot be
// passed off as another.
const (
	sealContextIssuingKey = "builtin-ca/issuing-key"
	sealContextRootKey    = "builtin-ca/root-key"
	sealContextCustomKey  = "custom-ca/key"
)

// Loaded is the CA a configuration signs with and, for the built-in
// CA, the issuing CAs it took over from that have not expired.
type Loaded struct {
	Current  connector.IssuingCA
	Previous []connector.IssuingCA
}

// Load returns the CA the configuration asks for: the admin's own, or the
// built-in one, generated on first use, with the issuing CAs it took over
// from.
func (k *Keeper) Load(c *config.Configuration) (*Loaded, error) {
	if c.UsesCustomCA() && !c.CustomKeyIsSealed() {
		k.Log.LogWarn("The custom CA private key is stored in clear in the server configuration; save the plugin settings in the System Console to encrypt it")
		ca, err := c.CustomCA(k.Now())
		if err != nil {
			return nil, err
		}
		return &Loaded{Current: connector.IssuingCA{CA: ca, Generation: 1}}, nil
	}
	key, err := sealbox.NewKey(c.EncryptionSecret)
	if err != nil {
		return nil, err
	}
	if c.UsesCustomCA() {
		ca, err := k.openCustom(c, key)
		if err != nil {
			return nil, err
		}
		return &Loaded{Current: connector.IssuingCA{CA: ca, Generation: 1}}, nil
	}
	stored, err := k.Store.GetCA(StoredBuiltin)
	if errors.Is(err, records.ErrNotFound) {
		stored, err = k.createBuiltin(key)
	}
	if err != nil {
		return nil, err
	}
	return k.openBuiltin(stored, key)
}

// createBuiltin generates the built-in hierarchy exactly once for the whole
// cluster: under a cluster lock, and stored only if no other node stored one
// first.
func (k *Keeper) createBuiltin(key *sealbox.Key) (*store.CA, error) {
	mutex, err := k.NewMutex("certs-builtin-ca")
	if err != nil {
		return nil, err
	}
	mutex.Lock()
	defer mutex.Unlock()

	if existing, err := k.Store.GetCA(StoredBuiltin); err == nil {
		return existing, nil
	} else if !errors.Is(err, records.ErrNotFound) {
		return nil, err
	}

	h, err := pki.GenerateHierarchy(k.Current.Site().Name, k.Now())
	if err != nil {
		return nil, fmt.Errorf("generate the built-in CA: %w", err)
	}
	issuingKey, err := config.SealPrivateKey(key, h.IssuingKey, sealContextIssuingKey)
	if err != nil {
		return nil, err
	}
	rootKey, err := config.SealPrivateKey(key, h.RootKey, sealContextRootKey)
	if err != nil {
		return nil, err
	}
	record := &store.CA{
		Chain:       [][]byte{h.Issuing.Raw, h.Root.Raw},
		IssuingKeys: []records.SealedKey{issuingKey},
		RootKeys:    []records.SealedKey{rootKey},
		CreatedAt:   k.Now(),
	}
	created, err := k.Store.CreateCA(StoredBuiltin, record)
	if err != nil {
		return nil, err
	}
	if !created {
		// A node that does not share our lock (an older version) won.
		return k.Store.GetCA(StoredBuiltin)
	}
	k.Log.LogInfo("Generated the built-in certificate authority", "root", h.Root.Subject.String(), "fingerprint", pki.Fingerprint(h.Root))
	return record, nil
}

// openCustom loads the admin's CA: certificates from the settings, the key
// from the KV store where ConfigurationWillBeSaved sealed it.
func (k *Keeper) openCustom(c *config.Configuration, key *sealbox.Key) (*pki.CA, error) {
	chain, err := c.CustomCAChain()
	if err != nil {
		return nil, err
	}
	stored, err := k.Store.GetCA(StoredCustom)
	if errors.Is(err, records.ErrNotFound) {
		return nil, errors.New("CA private key: the sealed key is missing from the KV store; paste the key again")
	}
	if err != nil {
		return nil, err
	}
	if len(stored.Chain) == 0 || !bytes.Equal(stored.Chain[0], chain[0].Raw) {
		return nil, errors.New("CA private key: the sealed key belongs to another CA certificate; paste the key again")
	}
	return k.openSealed(StoredCustom, stored, chain, key, sealContextCustomKey)
}

// SealCustomKey moves a custom CA key from the settings into the KV store,
// sealed, and returns the marker that replaces it in the settings.
func (k *Keeper) SealCustomKey(c *config.Configuration) (string, error) {
	ca, err := c.CustomCA(k.Now())
	if err != nil {
		return "", err
	}
	key, err := sealbox.NewKey(c.EncryptionSecret)
	if err != nil {
		return "", err
	}
	sealed, err := config.SealPrivateKey(key, ca.Signer, sealContextCustomKey)
	if err != nil {
		return "", err
	}
	if err := k.Store.SaveCA(StoredCustom, &store.CA{
		Chain:       [][]byte{ca.Certificate.Raw},
		IssuingKeys: []records.SealedKey{sealed},
		CreatedAt:   k.Now(),
	}); err != nil {
		return "", err
	}
	return config.SealedKeyPrefix + pki.Fingerprint(ca.Certificate), nil
}

// openBuiltin decrypts the issuing keys with the current secret: the
// current CA's, and those of the issuing CAs it took over from that have
// not expired (one that cannot be opened is left out, with an error in the
// log: its certificates get no CRL, but the new ones are signed).
func (k *Keeper) openBuiltin(stored *store.CA, key *sealbox.Key) (*Loaded, error) {
	chain := make([]*x509.Certificate, 0, len(stored.Chain))
	for _, der := range stored.Chain {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("the stored CA certificate is corrupt: %w", err)
		}
		chain = append(chain, cert)
	}
	ca, err := k.openSealed(StoredBuiltin, stored, chain, key, sealContextIssuingKey)
	if err != nil {
		return nil, err
	}
	loaded := &Loaded{Current: connector.IssuingCA{CA: ca, Generation: max(stored.Generation, 1)}}
	now := k.Now()
	for _, prev := range stored.Previous {
		cert, err := x509.ParseCertificate(prev.Certificate)
		if err != nil {
			k.Log.LogError("A previous built-in issuing CA is corrupt; its certificates get no revocation list", "generation", prev.Generation, "error", err.Error())
			continue
		}
		if !now.Before(cert.NotAfter) {
			continue // so are all its certificates: nothing left to answer for
		}
		sealed, ok := config.FindSealed(prev.Keys, key.ID())
		if !ok {
			k.Log.LogError("A previous built-in issuing CA key was encrypted with a different encryption secret; its certificates get no revocation list", "generation", prev.Generation)
			continue
		}
		signer, err := config.OpenPrivateKey(key, sealed, sealContextIssuingKey)
		if err == nil {
			var previous *pki.CA
			if previous, err = pki.NewCA(append([]*x509.Certificate{cert}, chain[1:]...), signer, now); err == nil {
				loaded.Previous = append(loaded.Previous, connector.IssuingCA{CA: previous, Generation: prev.Generation})
				continue
			}
		}
		k.Log.LogError("A previous built-in issuing CA cannot sign; its certificates get no revocation list", "generation", prev.Generation, "error", err.Error())
	}
	return loaded, nil
}

// openSealed decrypts a stored CA's signing key with the current secret and
// pairs it with chain. Copies sealed under an earlier secret are dropped once
// the current one works.
func (k *Keeper) openSealed(name string, stored *store.CA, chain []*x509.Certificate, key *sealbox.Key, context string) (*pki.CA, error) {
	sealed, ok := config.FindSealed(stored.IssuingKeys, key.ID())
	if !ok {
		return nil, fmt.Errorf("the %s CA key was encrypted with a different encryption secret; restore the previous secret in the plugin settings", name)
	}
	signer, err := config.OpenPrivateKey(key, sealed, context)
	if err != nil {
		return nil, err
	}
	ca, err := pki.NewCA(chain, signer, k.Now())
	if err != nil {
		return nil, fmt.Errorf("the %s CA cannot sign: %w", name, err)
	}
	if len(stored.IssuingKeys) > 1 || len(stored.RootKeys) > 1 || slices.ContainsFunc(stored.Previous, func(prev store.PreviousCA) bool { return len(prev.Keys) > 1 }) {
		k.dropStaleSealedKeys(name, key.ID())
	}
	return ca, nil
}

// Reseal adds copies of every stored CA key sealed under newSecret, so
// the CAs survive a change of the encryption secret. The old copies stay
// until the new secret is in use (the save could still fail).
func (k *Keeper) Reseal(oldSecret, newSecret string) error {
	if err := k.reseal(StoredBuiltin, sealContextIssuingKey, sealContextRootKey, oldSecret, newSecret); err != nil {
		return err
	}
	return k.reseal(StoredCustom, sealContextCustomKey, "", oldSecret, newSecret)
}

func (k *Keeper) reseal(name, issuingContext, rootContext, oldSecret, newSecret string) error {
	if _, err := k.Store.GetCA(name); errors.Is(err, records.ErrNotFound) {
		return nil
	}
	oldKey, newKey, err := config.SealKeys(oldSecret, newSecret)
	if err != nil {
		return err
	}
	return k.Store.UpdateCA(name, func(ca *store.CA) error {
		var err error
		if ca.IssuingKeys, err = config.Resealed(ca.IssuingKeys, oldKey, newKey, issuingContext); err != nil {
			return err
		}
		for i := range ca.Previous {
			if ca.Previous[i].Keys, err = config.Resealed(ca.Previous[i].Keys, oldKey, newKey, issuingContext); err != nil {
				return err
			}
		}
		ca.RootKeys, err = config.Resealed(ca.RootKeys, oldKey, newKey, rootContext)
		return err
	})
}

func (k *Keeper) dropStaleSealedKeys(name, keyID string) {
	err := k.Store.UpdateCA(name, func(ca *store.CA) error {
		ca.IssuingKeys = config.KeepSealed(ca.IssuingKeys, keyID)
		ca.RootKeys = config.KeepSealed(ca.RootKeys, keyID)
		for i := range ca.Previous {
			ca.Previous[i].Keys = config.KeepSealed(ca.Previous[i].Keys, keyID)
		}
		return nil
	})
	if err != nil {
		k.Log.LogWarn("Could not drop CA keys sealed under a previous encryption secret", "error", err.Error())
	}
}
