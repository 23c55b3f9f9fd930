// Package pkibench is the yardstick of the benchmarks: the cryptographic work
// of one enrollment with a server-generated key (key generation, signing,
// PKCS#12 encoding), alone in one process. The plugin's figures, in process
// and through a real server, are read against it, measured in the same run.
package pkibench

import (
	"crypto/x509"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

// Passphrase protects the floor's PKCS#12 files; its length is that of
// pki.NewPassphrase's.
const Passphrase = "abcde-fghjk-mnpqr-stuvw-xyz23-45678"

// Floor does the work of one enrollment: a key of type kt, a certificate
// for it signed by ca, and both with the chain as a PKCS#12 file.
func Floor(ca *pki.CA, kt pki.KeyType, format pki.PKCS12Format) ([]byte, error) {
	key, err := pki.GenerateKey(kt)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	cert, err := ca.Sign(key.Public(), pki.LeafSpec{
		CommonName: "alice", Emails: []string{"alice@example.com"},
		NotBefore: now, NotAfter: now.Add(24 * time.Hour),
		ExtKeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return nil, err
	}
	return pki.EncodePKCS12(format, key, cert, ca.Chain, Passphrase)
}

// CSRFloor does the work of signing an uploaded CSR: parsing it, checking
// its signature and key type, and signing a certificate for its key.
func CSRFloor(ca *pki.CA, csrPEM []byte) error {
	csr, _, err := pki.ParseCSR(csrPEM, pki.KeyTypes)
	if err != nil {
		return err
	}
	now := time.Now()
	_, err = ca.Sign(csr.PublicKey, pki.LeafSpec{
		CommonName: "alice", NotBefore: now, NotAfter: now.Add(24 * time.Hour),
		ExtKeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	return err
}
