package pki

import "crypto/rand"

// passphraseAlphabet has 31 characters that cannot be confused when read off
// a screen or typed on a phone: no 0/o, 1/l/i, no upper case.
const passphraseAlphabet = "23456789abcdefghjkmnpqrstuvwxyz"

const (
	passphraseGroups     = 6
	passphraseGroupChars = 5
)

// NewPassphrase returns a random passphrase of 6 groups of 5 characters from a
// 31-symbol alphabet: 30 × log2(31) ≈ 148 bits, read and typed in groups.
// Each symbol takes five random bits and a draw of the one value left over
// (31) is discarded, so every symbol is equally likely: a byte modulo 31
// would favour eight of them. One read of random bytes serves the whole
// passphrase nearly always; a big.Int per symbol cost more than the rest of
// a request's bookkeeping.
func NewPassphrase() (string, error) {
	const symbols = passphraseGroups * passphraseGroupChars
	out := make([]byte, 0, symbols+passphraseGroups-1)
	var random [2 * symbols]byte
	for drawn := 0; drawn < symbols; {
		if _, err := rand.Read(random[:]); err != nil {
			return "", err
		}
		for _, b := range random {
			v := int(b & 0x1f)
			if v >= len(passphraseAlphabet) {
				continue
			}
			if drawn > 0 && drawn%passphraseGroupChars == 0 {
				out = append(out, '-')
			}
			out = append(out, passphraseAlphabet[v])
			if drawn++; drawn == symbols {
				break
			}
		}
	}
	return string(out), nil
}
