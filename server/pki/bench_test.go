package pki_test

import (
	"testing"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki/pkibench"
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
		if _, err := pki.NewCSR(key, "alice", emails, nil); err != nil {
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
				if _, err := pki.EncodePKCS12(format, key, leaf, ca.Chain, pkibench.Passphrase); err != nil {
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

// BenchmarkIssuanceFloor is the cryptographic work of one enrollment with
// the default settings (ECDSA P-256, compatible PKCS#12): the floor the
// plugin's issuance benchmarks are compared against.
func BenchmarkIssuanceFloor(b *testing.B) {
	ca := testHierarchy(b).CA()
	for b.Loop() {
		if _, err := pkibench.Floor(ca, pki.KeyECDSAP256, pki.PKCS12Compatible); err != nil {
			b.Fatal(err)
		}
	}
}
