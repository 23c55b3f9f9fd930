package pki_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

// documentedAlphabet is the passphrase alphabet as documented: digits and
// lower-case letters without the look-alikes 0/o and 1/l/i.
const documentedAlphabet = "23456789abcdefghjkmnpqrstuvwxyz"

var passphraseFormat = regexp.MustCompile(`^[` + documentedAlphabet + `]{5}(-[` + documentedAlphabet + `]{5}){5}$`)

func TestDocumentedAlphabet(t *testing.T) {
	// 31 symbols: 30 × log2(31) ≈ 148 bits per passphrase.
	require.Len(t, documentedAlphabet, 31)
	for _, confusable := range "01ilo" {
		require.NotContains(t, documentedAlphabet, string(confusable))
	}
}

func TestNewPassphrase(t *testing.T) {
	const draws = 1000
	seen := make(map[string]bool, draws)
	symbols := map[rune]int{}
	for range draws {
		p, err := pki.NewPassphrase()
		require.NoError(t, err)
		require.Regexp(t, passphraseFormat, p)
		groups := strings.Split(p, "-")
		require.Len(t, groups, 6)
		for _, g := range groups {
			require.Len(t, g, 5)
		}
		require.False(t, seen[p], "duplicate passphrase %s", p)
		seen[p] = true
		for _, r := range strings.ReplaceAll(p, "-", "") {
			symbols[r]++
		}
	}
	// 30,000 symbols drawn: every symbol of the alphabet shows up (each has
	// probability 1/31), so none is left out of the draw.
	for _, r := range documentedAlphabet {
		assert.Positive(t, symbols[r], "symbol %q never drawn", r)
	}
	assert.Len(t, symbols, len(documentedAlphabet))
}

// Every symbol is equally likely: with 300,000 symbols drawn each is seen
// about 9,677 times (σ ≈ 97), and a bound of six σ either way holds by
// chance but catches a byte taken modulo 31, which draws eight symbols
// 9/8 as often as the rest (about 870 more each).
func TestPassphraseSymbolsAreEquallyLikely(t *testing.T) {
	const draws = 10000
	counts := map[rune]int{}
	for range draws {
		p, err := pki.NewPassphrase()
		require.NoError(t, err)
		for _, r := range strings.ReplaceAll(p, "-", "") {
			counts[r]++
		}
	}
	expected := draws * 30 / len(documentedAlphabet)
	for _, r := range documentedAlphabet {
		assert.InDelta(t, expected, counts[r], 600, "symbol %q", r)
	}
}
