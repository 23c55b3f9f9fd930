package config

import (
	"crypto"
	"errors"
	"fmt"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/sealbox"
)

// SealKeys are the keys of the old and the new encryption secret.
func SealKeys(oldSecret, newSecret string) (*sealbox.Key, *sealbox.Key, error) {
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

// Resealed is keys with a copy sealed under newKey of the one sealed under
// oldKey, unless there is one already.
func Resealed(keys []records.SealedKey, oldKey, newKey *sealbox.Key, context string) ([]records.SealedKey, error) {
	if len(keys) == 0 {
		return keys, nil
	}
	if _, ok := FindSealed(keys, newKey.ID()); ok {
		return keys, nil
	}
	sealed, ok := FindSealed(keys, oldKey.ID())
	if !ok {
		return nil, errors.New("the stored CA key is not encrypted with the current secret")
	}
	plain, err := oldKey.Open(sealed.Sealed, context)
	if err != nil {
		return nil, err
	}
	again, err := newKey.Seal(plain, context)
	if err != nil {
		return nil, err
	}
	return append(keys, records.SealedKey{KeyID: newKey.ID(), Sealed: again}), nil
}

// FindSealed is the copy sealed under keyID.
func FindSealed(keys []records.SealedKey, keyID string) (records.SealedKey, bool) {
	for _, k := range keys {
		if k.KeyID == keyID {
			return k, true
		}
	}
	return records.SealedKey{}, false
}

// KeepSealed keeps only the copies sealed under keyID.
func KeepSealed(keys []records.SealedKey, keyID string) []records.SealedKey {
	var kept []records.SealedKey
	for _, k := range keys {
		if k.KeyID == keyID {
			kept = append(kept, k)
		}
	}
	return kept
}

// SealPrivateKey seals a private key for one purpose (context).
func SealPrivateKey(key *sealbox.Key, signer crypto.Signer, context string) (records.SealedKey, error) {
	der, err := pki.MarshalPrivateKey(signer)
	if err != nil {
		return records.SealedKey{}, err
	}
	sealed, err := key.Seal(der, context)
	if err != nil {
		return records.SealedKey{}, err
	}
	return records.SealedKey{KeyID: key.ID(), Sealed: sealed}, nil
}

// OpenPrivateKey opens a key SealPrivateKey sealed.
func OpenPrivateKey(key *sealbox.Key, sealed records.SealedKey, context string) (crypto.Signer, error) {
	der, err := key.Open(sealed.Sealed, context)
	if err != nil {
		return nil, fmt.Errorf("the stored CA key cannot be decrypted: %w", err)
	}
	return pki.ParsePrivateKeyDER(der)
}
