package pki_test

import (
	"testing"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

func BenchmarkGenerateKey(b *testing.B) {
	for _, kt := range []pki.KeyType{pki.KeyECDSAP256, pki.KeyECDSAP384, pki.KeyRSA2048} {
		b.Run(string(kt), func(b *testing.B) {
			for b.Loop() {
				if _, err := pki.GenerateKey(kt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSignLeaf(b *testing.B) {
	ca := testHierarchy(b).CA()
	pub := p256Key(b).Public()
	spec := leafSpec()
	for b.Loop() {
		if _, err := ca.Sign(pub, spec); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNewCSR(b *testing.B) {
	key := p256Key(b)
	emails := []string{"alice@example.com"}
	for b.Loop() {
		if _, err := pki.NewCSR(key, "alice", emails); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodePKCS12(b *testing.B) {
	ca := testHierarchy(b).CA()
	key := p256Key(b)
	leaf := signLeaf(b, ca, key.Public())
	for _, format := range []pki.PKCS12Format{pki.PKCS12Compatible, pki.PKCS12Modern} {
		b.Run(string(format), func(b *testing.B) {
			for b.Loop() {
				if _, err := pki.EncodePKCS12(format, key, leaf, ca.Chain, "abcde-fghjk-mnpqr-stuvw-xyz23-45678"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkNewPassphrase(b *testing.B) {
	for b.Loop() {
		if _, err := pki.NewPassphrase(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIssuanceFloor is the cryptographic work of one enrollment with a
// server-generated key and the default settings (ECDSA P-256, compatible
// PKCS#12), in one process with nothing else around it: key generation, CSR,
// CSR check, signing, passphrase and PKCS#12 encoding. The plugin's
// end-to-end issuance benchmark is compared against this floor.
func BenchmarkIssuanceFloor(b *testing.B) {
	ca := testHierarchy(b).CA()
	for b.Loop() {
		key, err := pki.GenerateKey(pki.KeyECDSAP256)
		if err != nil {
			b.Fatal(err)
		}
		csr, err := pki.NewCSR(key, "alice", []string{"alice@example.com"})
		if err != nil {
			b.Fatal(err)
		}
		if err := csr.CheckSignature(); err != nil {
			b.Fatal(err)
		}
		spec := leafSpec()
		cert, err := ca.Sign(csr.PublicKey, spec)
		if err != nil {
			b.Fatal(err)
		}
		passphrase, err := pki.NewPassphrase()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := pki.EncodePKCS12(pki.PKCS12Compatible, key, cert, ca.Chain, passphrase); err != nil {
			b.Fatal(err)
		}
	}
}
