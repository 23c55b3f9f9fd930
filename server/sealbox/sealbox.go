// Package sealbox encrypts small secrets (CA private keys) for storage at rest
// with AES-256-GCM under a key derived from a configured secret.
package sealbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// ErrWrongKey means the sealed data was not made with this key (or was
// tampered with): AES-GCM authentication failed.
var ErrWrongKey = errors.New("sealed data cannot be opened with this key")

// Key is an AES-256 key derived from a secret, with a public identifier so
// stored data can say which secret sealed it without revealing it.
type Key struct {
	aead cipher.AEAD
	id   string
}

// NewKey derives a key from secret. The secret must carry enough entropy
// (the plugin generates 32 random bytes); HKDF only stretches and separates.
func NewKey(secret string) (*Key, error) {
	if len(secret) < 16 {
		return nil, fmt.Errorf("encryption secret is too short (%d characters, need at least 16)", len(secret))
	}
	raw, err := hkdf.Key(sha256.New, []byte(secret), nil, "certs plugin sealbox v1", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	idRaw, err := hkdf.Key(sha256.New, []byte(secret), nil, "certs plugin sealbox key id v1", 8)
	if err != nil {
		return nil, err
	}
	return &Key{aead: aead, id: hex.EncodeToString(idRaw)}, nil
}

// ID identifies the key; equal secrets give equal IDs.
func (k *Key) ID() string { return k.id }

// Seal encrypts plaintext. context is authenticated but not stored: the same
// context must be given to Open, which binds a sealed value to its purpose.
func (k *Key) Seal(plaintext []byte, context string) ([]byte, error) {
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return k.aead.Seal(nonce, nonce, plaintext, []byte(context)), nil
}

// Open decrypts data sealed by Seal with the same key and context.
func (k *Key) Open(sealed []byte, context string) ([]byte, error) {
	n := k.aead.NonceSize()
	if len(sealed) < n+k.aead.Overhead() {
		return nil, ErrWrongKey
	}
	plaintext, err := k.aead.Open(nil, sealed[:n], sealed[n:], []byte(context))
	if err != nil {
		return nil, ErrWrongKey
	}
	return plaintext, nil
}
