package pki

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"time"
)

// Revoked is one entry of a certificate revocation list.
type Revoked struct {
	Serial     *big.Int
	RevokedAt  time.Time
	ReasonCode int
}

// SignCRL makes the CA's certificate revocation list (RFC 5280): number
// must grow with every list the CA issues, and relying parties fetch the
// next one before nextUpdate.
func (ca *CA) SignCRL(number int64, revoked []Revoked, thisUpdate, nextUpdate time.Time) ([]byte, error) {
	entries := make([]x509.RevocationListEntry, 0, len(revoked))
	for _, r := range revoked {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: r.Serial, RevocationTime: r.RevokedAt.UTC(), ReasonCode: r.ReasonCode})
	}
	der, err := x509.CreateRevocationList(randReader, &x509.RevocationList{
		Number:                    big.NewInt(number),
		ThisUpdate:                thisUpdate.UTC(),
		NextUpdate:                nextUpdate.UTC(),
		RevokedCertificateEntries: entries,
		ExtraExtensions:           []pkix.Extension{},
	}, ca.Certificate, ca.Signer)
	if err != nil {
		return nil, fmt.Errorf("sign the CRL: %w", err)
	}
	return der, nil
}
