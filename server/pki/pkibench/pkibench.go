// Package pkibench is the yardstick of the benchmarks: the cryptographic work
// of one enrollment with a server-generated key (key generation, signing,
// PKCS#12 encoding), alone in one process. The plugin's figures, in process
// and through a real server, are read against it, measured in the same run.
package pkibench

import (
	"crypto/x509"
	"net/url"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

// Passphrase protects the floor's PKCS#12 files; its length is that of
// pki.NewPassphrase's.
const Passphrase = "abcde-fghjk-mnpqr-stuvw-xyz23-45678"

// accountURI is an account's identity URI, as the plugin writes it.
var accountURI = &url.URL{Scheme: "mattermost", Host: "chat.example.com", Path: "/users/" + "k8d3jqf5xpbyxgw1mcu9ocmzqe"}

// Floor does the work of one enrollment: a key of type kt, a certificate
// for it signed by ca, and both with the chain as a PKCS#12 file. The
// certificate has the names and extensions of the one the built-in CA
// issues with the default profile (see leafSpec), so that a gap to the
// floor is bookkeeping, not a larger certificate.
func Floor(ca *pki.CA, kt pki.KeyType, format pki.PKCS12Format) ([]byte, error) {
	key, err := pki.GenerateKey(kt)
	if err != nil {
		return nil, err
	}
	cert, err := ca.Sign(key.Public(), leafSpec([]string{"alice@example.com"}))
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
	_, err = ca.Sign(csr.PublicKey, leafSpec(nil))
	return err
}

// leafSpec is the certificate the built-in CA issues for a user with the
// default profile: the user's name, emails, the account's id as a URI, and
// where the CA's CRL and OCSP responder are.
func leafSpec(emails []string) pki.LeafSpec {
	now := time.Now()
	return pki.LeafSpec{
		CommonName: "alice", Emails: emails, URIs: []*url.URL{accountURI},
		CRLDistributionPoints: []string{"https://chat.example.com/plugins/certs/crl/builtin.crl"},
		OCSPServer:            []string{"https://chat.example.com/plugins/certs/ocsp"},
		NotBefore:             now, NotAfter: now.Add(24 * time.Hour),
		ExtKeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
}
