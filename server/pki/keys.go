// Package pki holds the certificate mechanics of the plugin: key generation,
// certificate templates, the built-in CA hierarchy and PKCS#12 encoding. It knows
// nothing of Mattermost.
package pki

import (
	"crypto"
	"crypto/dsa" //nolint:staticcheck // only to name a refused key type
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
)

// KeyType names a key algorithm and size the plugin can generate and accept.
type KeyType string

const (
	KeyECDSAP256 KeyType = "ecdsa-p256"
	KeyECDSAP384 KeyType = "ecdsa-p384"
	KeyRSA2048   KeyType = "rsa-2048"
	KeyRSA3072   KeyType = "rsa-3072"
	KeyRSA4096   KeyType = "rsa-4096"
)

// KeyTypes lists every supported key type, the default first.
var KeyTypes = []KeyType{KeyECDSAP256, KeyECDSAP384, KeyRSA2048, KeyRSA3072, KeyRSA4096}

// ParseKeyType returns the key type named s, or an error naming the accepted values.
func ParseKeyType(s string) (KeyType, error) {
	for _, kt := range KeyTypes {
		if string(kt) == s {
			return kt, nil
		}
	}
	return "", fmt.Errorf("unknown key type %q (accepted: %v)", s, KeyTypes)
}

// Label names the key type as people read it: "ECDSA P-256", "RSA 2048".
func (kt KeyType) Label() string {
	switch kt {
	case KeyECDSAP256:
		return "ECDSA P-256"
	case KeyECDSAP384:
		return "ECDSA P-384"
	case KeyRSA2048:
		return "RSA 2048"
	case KeyRSA3072:
		return "RSA 3072"
	case KeyRSA4096:
		return "RSA 4096"
	}
	return string(kt)
}

// IsRSA reports an RSA key type: slow to generate (RSA-4096 takes about a
// second of one core, and varies widely), where ECDSA takes microseconds.
func (kt KeyType) IsRSA() bool { return kt.GenerationCost() > 0 }

// GenerationCost is about how long generating a key of this type takes, in
// RSA-2048 keys (about a tenth of a second of one core); ECDSA keys cost
// nothing worth counting.
func (kt KeyType) GenerationCost() int64 {
	switch kt {
	case KeyRSA2048:
		return 1
	case KeyRSA3072:
		return 4
	case KeyRSA4096:
		return 12
	}
	return 0
}

// GenerateKey creates a new private key of the given type.
func GenerateKey(kt KeyType) (crypto.Signer, error) {
	switch kt {
	case KeyECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case KeyECDSAP384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case KeyRSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case KeyRSA3072:
		return rsa.GenerateKey(rand.Reader, 3072)
	case KeyRSA4096:
		return rsa.GenerateKey(rand.Reader, 4096)
	}
	return nil, fmt.Errorf("unknown key type %q", kt)
}

// KeyTypeOf reports the key type of a public key, or an error for keys the
// plugin does not issue certificates for (DSA, small RSA, unusual curves).
func KeyTypeOf(pub crypto.PublicKey) (KeyType, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return KeyECDSAP256, nil
		case elliptic.P384():
			return KeyECDSAP384, nil
		}
		return "", fmt.Errorf("unsupported elliptic curve %s", k.Curve.Params().Name)
	case *rsa.PublicKey:
		switch k.N.BitLen() {
		case 2048:
			return KeyRSA2048, nil
		case 3072:
			return KeyRSA3072, nil
		case 4096:
			return KeyRSA4096, nil
		}
		return "", fmt.Errorf("unsupported RSA key size %d bits", k.N.BitLen())
	case *dsa.PublicKey:
		return "", fmt.Errorf("DSA keys are not supported (use ECDSA or RSA 2048+)")
	case ed25519.PublicKey:
		return "", fmt.Errorf("Ed25519 keys are not supported by client certificate software yet (use ECDSA or RSA 2048+)")
	}
	return "", fmt.Errorf("unsupported public key type %T", pub)
}
