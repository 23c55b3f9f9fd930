// Package attesttest makes hardware-attestation hierarchies for tests: a
// root like Yubico's PIV attestation CA, a device intermediate like a
// YubiKey's "f9" certificate, and attestation certificates for any key,
// carrying the YubiKey extensions.
package attesttest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/attest"
)

// Hierarchy is a root CA and one device's attestation intermediate.
type Hierarchy struct {
	Root         *x509.Certificate
	Intermediate *x509.Certificate
	rootKey      crypto.Signer
	deviceKey    crypto.Signer
	// DeviceSerial is written into every attestation.
	DeviceSerial int64
}

// New makes a hierarchy whose device has serial deviceSerial.
func New(name string, deviceSerial int64) (*Hierarchy, error) {
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	root, err := sign(&x509.Certificate{
		Subject:               pkix.Name{CommonName: name + " PIV Root CA"},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}, nil, rootKey.Public(), rootKey)
	if err != nil {
		return nil, err
	}
	deviceKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	intermediate, err := sign(&x509.Certificate{
		Subject:               pkix.Name{CommonName: name + " PIV Attestation"},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}, root, deviceKey.Public(), rootKey)
	if err != nil {
		return nil, err
	}
	return &Hierarchy{Root: root, Intermediate: intermediate, rootKey: rootKey, deviceKey: deviceKey, DeviceSerial: deviceSerial}, nil
}

// RootPEM is the root as an administrator pastes it into the settings.
func (h *Hierarchy) RootPEM() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: h.Root.Raw}))
}

// Attest returns the attestation certificate for key, with the device's
// intermediate, as the PEM a user uploads.
func (h *Hierarchy) Attest(key crypto.PublicKey) (string, error) {
	cert, err := h.AttestationCertificate(key, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})) +
		string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: h.Intermediate.Raw})), nil
}

// AttestationCertificate attests key for the given validity, as a YubiKey
// 5.4.3 (USB-C Keychain, PIN once, touch always) does.
func (h *Hierarchy) AttestationCertificate(key crypto.PublicKey, notBefore, notAfter time.Time) (*x509.Certificate, error) {
	serial, err := asn1.Marshal(big.NewInt(h.DeviceSerial))
	if err != nil {
		return nil, err
	}
	return sign(&x509.Certificate{
		Subject:   pkix.Name{CommonName: "YubiKey PIV Attestation 9a"},
		NotBefore: notBefore,
		NotAfter:  notAfter,
		ExtraExtensions: []pkix.Extension{
			{Id: attest.OIDYubicoFirmware, Value: []byte{5, 4, 3}},
			{Id: attest.OIDYubicoSerial, Value: serial},
			{Id: attest.OIDYubicoPolicy, Value: []byte{2, 2}},
			{Id: attest.OIDYubicoFormFactor, Value: []byte{3}},
		},
	}, h.Intermediate, key, h.deviceKey)
}

func sign(template, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	template.SerialNumber = serial
	if template.NotBefore.IsZero() {
		template.NotBefore = time.Now().Add(-time.Hour)
		template.NotAfter = time.Now().Add(10 * 365 * 24 * time.Hour)
	}
	if parent == nil {
		parent = template
	}
	der, err := x509.CreateCertificate(rand.Reader, template, parent, pub, signer)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}
