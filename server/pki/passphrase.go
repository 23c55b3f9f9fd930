package pki

import (
	"crypto/rand"
	"math/big"
	"strings"
)

// passphraseAlphabet has 31 characters that cannot be confused when read off
// a screen or typed on a phone: no 0/o, 1/l/i, no upper case.
const passphraseAlphabet = "23456789abcdefghjkmnpqrstuvwxyz"

const (
	passphraseGroups     = 6
	passphraseGroupChars = 5
)

// NewPassphrase returns a random passphrase of 6 groups of 5 characters from a
// 31-symbol alphabet: 30 × log2(31) ≈ 148 bits, read and typed in groups.
func NewPassphrase() (string, error) {
	alphabetSize := big.NewInt(int64(len(passphraseAlphabet)))
	groups := make([]string, 0, passphraseGroups)
	for range passphraseGroups {
		var b strings.Builder
		for range passphraseGroupChars {
			n, err := rand.Int(rand.Reader, alphabetSize)
			if err != nil {
				return "", err
			}
			b.WriteByte(passphraseAlphabet[n.Int64()])
		}
		groups = append(groups, b.String())
	}
	return strings.Join(groups, "-"), nil
}
