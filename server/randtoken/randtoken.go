// Package randtoken makes the random tokens a browser or a link carries
// (session ids, set-password links), and the hash the store keeps of
// them instead, so that reading the store gives no one a token.
package randtoken

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// New is 32 random bytes, URL-safe base64 (43 characters).
func New() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Hash is what a store keeps of a token: its SHA-256, in hex.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
