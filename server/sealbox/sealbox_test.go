package sealbox_test

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/sealbox"
)

const (
	secret      = "q6Yy0m3l8Jx2V9cW4pR7tK1nB5hD0sFe"
	otherSecret = "Zr3T8vN1kQ6wP2mX9cL5jH0gF4dS7aBy"
	caContext   = "ca:builtin:issuing"
)

func newKey(t *testing.T, s string) *sealbox.Key {
	t.Helper()
	k, err := sealbox.NewKey(s)
	require.NoError(t, err)
	return k
}

func TestSealOpenRoundTrip(t *testing.T) {
	k := newKey(t, secret)
	big := make([]byte, 64<<10)
	_, err := rand.Read(big)
	require.NoError(t, err)

	tests := []struct {
		name      string
		plaintext []byte
		context   string
	}{
		{"private key", []byte("-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n"), caContext},
		{"binary", []byte{0, 1, 2, 0xff, 0}, caContext},
		{"empty plaintext", nil, caContext},
		{"empty context", []byte("secret"), ""},
		{"large", big, caContext},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sealed, err := k.Seal(tc.plaintext, tc.context)
			require.NoError(t, err)
			if len(tc.plaintext) > 0 {
				assert.False(t, bytes.Contains(sealed, tc.plaintext), "plaintext visible in sealed data")
			}

			opened, err := k.Open(sealed, tc.context)
			require.NoError(t, err)
			if len(tc.plaintext) == 0 {
				assert.Empty(t, opened)
			} else {
				assert.Equal(t, tc.plaintext, opened)
			}

			// Another Key from the same secret (after a restart) opens it.
			opened, err = newKey(t, secret).Open(sealed, tc.context)
			require.NoError(t, err)
			assert.Equal(t, len(tc.plaintext), len(opened))
		})
	}
}

func TestSealDoesNotKeepAReferenceToThePlaintext(t *testing.T) {
	k := newKey(t, secret)
	plaintext := []byte("root key material")
	sealed, err := k.Seal(plaintext, caContext)
	require.NoError(t, err)
	for i := range plaintext {
		plaintext[i] = 0
	}
	opened, err := k.Open(sealed, caContext)
	require.NoError(t, err)
	assert.Equal(t, []byte("root key material"), opened)
}

func TestSealIsRandomized(t *testing.T) {
	k := newKey(t, secret)
	plaintext := []byte("the same plaintext")
	seen := map[string]bool{}
	for range 100 {
		sealed, err := k.Seal(plaintext, caContext)
		require.NoError(t, err)
		require.False(t, seen[string(sealed)], "two seals of the same plaintext are identical")
		seen[string(sealed)] = true
	}

	a, err := k.Seal(plaintext, caContext)
	require.NoError(t, err)
	b, err := k.Seal(plaintext, caContext)
	require.NoError(t, err)
	// Different nonces (the first 12 bytes), not only different ciphertexts.
	assert.NotEqual(t, a[:12], b[:12])
	assert.Len(t, a, 12+len(plaintext)+16, "nonce + ciphertext + GCM tag")
}

func TestOpenRefuses(t *testing.T) {
	k := newKey(t, secret)
	plaintext := []byte("issuing CA private key")
	sealed, err := k.Seal(plaintext, caContext)
	require.NoError(t, err)

	flip := func(i int) []byte {
		out := bytes.Clone(sealed)
		out[i] ^= 0x80
		return out
	}

	tests := []struct {
		name    string
		key     *sealbox.Key
		sealed  []byte
		context string
	}{
		{"wrong key", newKey(t, otherSecret), sealed, caContext},
		{"wrong context", k, sealed, "ca:builtin:root"},
		{"empty context", k, sealed, ""},
		{"context with a suffix", k, sealed, caContext + "x"},
		{"nonce tampered", k, flip(0), caContext},
		{"ciphertext tampered", k, flip(12), caContext},
		{"tag tampered", k, flip(len(sealed) - 1), caContext},
		{"truncated by one byte", k, sealed[:len(sealed)-1], caContext},
		{"truncated to nonce and tag", k, sealed[:12+16], caContext},
		{"shorter than nonce and tag", k, sealed[:12+15], caContext},
		{"nonce only", k, sealed[:12], caContext},
		{"empty", k, []byte{}, caContext},
		{"nil", k, nil, caContext},
		{"extended", k, append(bytes.Clone(sealed), 0), caContext},
		{"random bytes", k, bytes.Repeat([]byte{0x42}, len(sealed)), caContext},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opened, err := tc.key.Open(tc.sealed, tc.context)
			require.ErrorIs(t, err, sealbox.ErrWrongKey)
			assert.Nil(t, opened)
		})
	}

	// None of the above damaged the original.
	opened, err := k.Open(sealed, caContext)
	require.NoError(t, err)
	assert.Equal(t, plaintext, opened)
}

func TestKeyID(t *testing.T) {
	a := newKey(t, secret)
	b := newKey(t, secret)
	c := newKey(t, otherSecret)

	assert.Equal(t, a.ID(), b.ID(), "same secret, same id")
	assert.NotEqual(t, a.ID(), c.ID(), "different secrets, different ids")
	assert.Regexp(t, `^[0-9a-f]{16}$`, a.ID())

	// The id does not give the secret away.
	assert.NotContains(t, secret, a.ID())
	assert.False(t, strings.Contains(a.ID(), secret[:8]))

	// Secrets that differ in one character have different ids.
	d := newKey(t, secret[:len(secret)-1]+"X")
	assert.NotEqual(t, a.ID(), d.ID())
}

func TestNewKeySecretLength(t *testing.T) {
	for _, s := range []string{"", "short", strings.Repeat("x", 15)} {
		k, err := sealbox.NewKey(s)
		require.Error(t, err, "secret of %d characters", len(s))
		assert.Nil(t, k)
	}
	k, err := sealbox.NewKey(strings.Repeat("x", 16))
	require.NoError(t, err)
	require.NotNil(t, k)
	// Very long secrets work too.
	_, err = sealbox.NewKey(strings.Repeat("x", 4096))
	require.NoError(t, err)
}

func TestConcurrentUse(t *testing.T) {
	k := newKey(t, secret)
	done := make(chan error, 20)
	for i := range 20 {
		go func() {
			plaintext := []byte(strings.Repeat(string(rune('a'+i)), 100))
			sealed, err := k.Seal(plaintext, caContext)
			if err != nil {
				done <- err
				return
			}
			opened, err := k.Open(sealed, caContext)
			if err == nil && !bytes.Equal(opened, plaintext) {
				err = assert.AnError
			}
			done <- err
		}()
	}
	for range 20 {
		require.NoError(t, <-done)
	}
}
