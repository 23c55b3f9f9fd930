package linktoken

import (
	"testing"
	"time"
)

// BenchmarkVerify is what checking a link costs on every page and issuance.
func BenchmarkVerify(b *testing.B) {
	m, err := NewMinter(testSecret, time.Now)
	if err != nil {
		b.Fatal(err)
	}
	token, _, err := m.Mint(testUser, PurposeIssue, "default", 10*time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := m.Verify(token, PurposeIssue); err != nil {
			b.Fatal(err)
		}
	}
}
