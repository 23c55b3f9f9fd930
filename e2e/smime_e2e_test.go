//go:build e2e

package e2e

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSMIMEEncryptionToAnECDSACertificate: an ECDSA certificate of an S/MIME
// profile carries keyAgreement, and OpenSSL encrypts mail to it and
// decrypts it with the key from the PKCS#12.
func TestSMIMEEncryptionToAnECDSACertificate(t *testing.T) {
	requireBed(t)
	catalog := `{"profiles": [{"name": "default"}, {"name": "mail", "key_types": ["ecdsa-p256"], "ext_key_usages": ["emailProtection"]}]}`
	require.NoError(t, withPluginSettings(t, func(s map[string]any) { s["connectorsandprofiles"] = catalog }))
	ola := newTestUser(t, "ola")
	waitForProfiles(t, ola, "default", "mail")
	token, _ := ola.linkForProfile(t, "mail")
	file, leaf := ola.redeemJSON(t, token)
	require.NotZero(t, leaf.KeyUsage&x509.KeyUsageKeyAgreement, "keyAgreement, so mail can be encrypted to it")

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ola.p12"), file.pkcs12, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "message.txt"), []byte("the quarterly numbers\n"), 0o600))
	passin := "pass:" + file.passphrase
	runTool(t, dir, "openssl", "pkcs12", "-in", "ola.p12", "-passin", passin, "-clcerts", "-nokeys", "-out", "leaf.pem")
	runTool(t, dir, "openssl", "pkcs12", "-in", "ola.p12", "-passin", passin, "-nocerts", "-nodes", "-out", "key.pem")
	runTool(t, dir, "openssl", "cms", "-encrypt", "-aes256", "-in", "message.txt", "-out", "message.p7m", "leaf.pem")
	out := runTool(t, dir, "openssl", "cms", "-decrypt", "-in", "message.p7m", "-recip", "leaf.pem", "-inkey", "key.pem")
	require.Contains(t, out, "the quarterly numbers")
}
