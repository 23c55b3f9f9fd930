//go:build e2e

package sqlstore

import (
	"math/big"
	"testing"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// BenchmarkIssueCRL signs the list of a CA with 100,000 revoked
// certificates: the read of its revocations, the signature and the write,
// under its lock, as a revocation has it done.
func BenchmarkIssueCRL(b *testing.B) {
	s, clock, db := newTestStore(b)
	now := clock.Now()
	h, err := pki.GenerateHierarchy("Bench", now)
	if err != nil {
		b.Fatal(err)
	}
	scope := records.CRLScope{Connector: "builtin", Issuer: pki.SubjectID(h.Issuing)}
	const n = 100_000
	if _, err := db.Exec(`INSERT INTO certs_certificates (serial, issuer, connector, owner, subject, common_name, fingerprint,
			not_before, not_after, state, revoked_at, revocation_reason, der, created_at)
		SELECT '1' || lpad(to_hex(g), 31, '0'), $2, 'builtin', 'mm:bench', 'CN=b', 'b', 'fp' || g, $3::bigint, $3::bigint + 86400000::bigint * 365,
			'revoked', $3::bigint, 'keyCompromise', '\x30'::bytea, $3::bigint
		FROM generate_series(1, $1) AS g`, n, scope.Issuer, millis(now)); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Exec(`VACUUM ANALYZE certs_certificates`); err != nil {
		b.Fatal(err)
	}
	always := func(*records.CRL) bool { return true }
	var size int
	for b.Loop() {
		crl, err := s.IssueCRL(scope, now, always, func(number int64, revoked []records.Revocation) (*records.CRL, error) {
			list := make([]pki.Revoked, 0, len(revoked))
			for _, r := range revoked {
				serial, _ := new(big.Int).SetString(r.Serial, 16)
				list = append(list, pki.Revoked{Serial: serial, RevokedAt: time.UnixMilli(r.RevokedAt), ReasonCode: records.ReasonCode(r.Reason)})
			}
			der, err := h.CA().SignCRL(number, list, now, now.Add(time.Hour))
			return &records.CRL{ThisUpdate: now, NextUpdate: now.Add(time.Hour), DER: der}, err
		})
		if err != nil {
			b.Fatal(err)
		}
		size = len(crl.DER)
	}
	b.ReportMetric(float64(size), "bytes/list")

}
