package pki_test

import (
	"encoding/asn1"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

var serialFormat = regexp.MustCompile(`^1[0-9a-f]{32}$`)

func TestNewSerial(t *testing.T) {
	const draws = 2000
	seen := make(map[string]bool, draws)
	// Over many draws every one of the 128 random bits must have been seen
	// both set and clear; a stuck bit means less randomness than promised.
	everSet := new(big.Int)
	everClear := new(big.Int)
	low128 := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))

	for range draws {
		n, err := pki.NewSerial()
		require.NoError(t, err)
		require.Equal(t, 1, n.Sign(), "serial must be positive")

		// Fixed width: a leading 0x01 octet above 16 random octets.
		require.Equal(t, 129, n.BitLen())
		require.Equal(t, int64(1), new(big.Int).Rsh(n, 128).Int64())
		s := pki.FormatSerial(n)
		require.Regexp(t, serialFormat, s)
		require.Len(t, s, 33)

		// RFC 5280 4.1.2.2: at most 20 octets in DER.
		der, err := asn1.Marshal(n)
		require.NoError(t, err)
		require.LessOrEqual(t, len(der)-2, 20)

		require.False(t, seen[s], "duplicate serial %s", s)
		seen[s] = true

		low := new(big.Int).And(n, low128)
		everSet.Or(everSet, low)
		everClear.Or(everClear, new(big.Int).AndNot(low128, low))
	}
	assert.Equal(t, 0, everSet.Cmp(low128), "some random bit was never set: %x", everSet)
	assert.Equal(t, 0, everClear.Cmp(low128), "some random bit was never clear: %x", everClear)
}

func TestFormatSerial(t *testing.T) {
	assert.Equal(t, "abcdef0123", pki.FormatSerial(big.NewInt(0xabcdef0123)))
	assert.Equal(t, "1", pki.FormatSerial(big.NewInt(1)))
	n, ok := new(big.Int).SetString("1ABCDEF00000000000000000000000000", 16)
	require.True(t, ok)
	assert.Equal(t, "1abcdef00000000000000000000000000", pki.FormatSerial(n))
}

func TestNormalizeSerial(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"canonical", "1a2b3c", "1a2b3c"},
		{"upper case", "1A2B3C", "1a2b3c"},
		{"colons", "1a:2b:3c", "1a2b3c"},
		{"openssl style", "01:A2:B3:C4", "1a2b3c4"},
		{"0x prefix", "0x1a2b", "1a2b"},
		{"0X prefix", "0X1A2B", "1a2b"},
		{"0x prefix and colons", "0x1A:2B", "1a2b"},
		{"surrounding space", "  1a2b \n", "1a2b"},
		{"leading zeros", "00001a2b", "1a2b"},
		{"64 hex digits is the limit", strings.Repeat("f", 64), strings.Repeat("f", 64)},

		{"empty", "", ""},
		{"blank", "   \t", ""},
		{"bare 0x", "0x", ""},
		{"colons only", ":::", ""},
		{"zero", "0", ""},
		{"zeros with colons", "00:00:00", ""},
		{"negative", "-1a", ""},
		{"negative with prefix", "-0x1a", ""},
		{"prefix then negative", "0x-1a", ""},
		{"plus sign", "+1a", ""},
		{"prefix then plus sign", "0x+1a", ""},
		{"double prefix", "0x0x1a", ""},
		{"not hex", "1a2g", ""},
		{"word", "serial", ""},
		{"inner space", "1a 2b", ""},
		{"underscore", "1a_2b", ""},
		{"decimal point", "1a.2b", ""},
		{"injection", "1a2b;drop", ""},
		{"fullwidth digits", "１２３", ""},
		{"overlong", strings.Repeat("f", 65), ""},
		{"overlong with zeros", strings.Repeat("0", 64) + "1", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, pki.NormalizeSerial(tc.in))
		})
	}
}

// A serial as the plugin prints it, and as other tools print it (upper case,
// colon-separated octets), normalizes back to the same string.
func TestNormalizeSerialRoundTrip(t *testing.T) {
	for range 100 {
		n, err := pki.NewSerial()
		require.NoError(t, err)
		canonical := pki.FormatSerial(n)
		require.Equal(t, canonical, pki.NormalizeSerial(canonical))

		var octets []string
		for _, b := range n.Bytes() {
			octets = append(octets, fmt.Sprintf("%02X", b))
		}
		require.Equal(t, canonical, pki.NormalizeSerial(strings.Join(octets, ":")))
		require.Equal(t, canonical, pki.NormalizeSerial("0x"+strings.ToUpper(canonical)))
	}
}
