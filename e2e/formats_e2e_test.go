//go:build e2e

package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

// requireNSSTools skips when NSS's tools are missing, except in CI, where
// their absence is an install step that went missing.
func requireNSSTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"pk12util", "certutil"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not installed; .ci/run must install libnss3-tools", tool)
			}
			t.Skipf("%s is not installed (Debian: libnss3-tools); skipping the NSS import", tool)
		}
	}
}

// formatOIDs are the DER-encoded algorithm identifiers that tell the formats
// apart: PBES2 (AES) for modern, PBE-SHA1-3DES for compatible.
var formatOIDs = map[string][]byte{
	"modern":     {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d},
	"compatible": {0x06, 0x0a, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x01, 0x03},
}

// TestEveryPKCS12FormatImports: for each PKCS#12 format the admin can choose,
// and for an ECDSA and an RSA key, the file the plugin hands out opens in
// OpenSSL 3 (without -legacy) and imports into an NSS database (Firefox,
// Chrome on Linux).
func TestEveryPKCS12FormatImports(t *testing.T) {
	requireBed(t)
	requireNSSTools(t)
	user := newTestUser(t, "henry")
	for _, format := range []string{"compatible", "modern"} {
		for _, keyType := range []pki.KeyType{pki.KeyECDSAP256, pki.KeyRSA2048} {
			t.Run(format+"/"+string(keyType), func(t *testing.T) {
				require.NoError(t, withPluginSettings(t, func(s map[string]any) {
					s["pkcs12format"] = format
					s["keytype"] = string(keyType)
				}))
				// The settings reach the plugin asynchronously: issue until
				// the key type and the encryption show they have.
				var issued issuedFile
				deadline := time.Now().Add(20 * time.Second)
				for {
					file, leaf := user.issueJSON(t)
					got, err := pki.KeyTypeOf(leaf.PublicKey)
					require.NoError(t, err)
					if got == keyType && bytes.Contains(file.pkcs12, formatOIDs[format]) {
						issued = file
						break
					}
					require.True(t, time.Now().Before(deadline), "the plugin never issued %s keys", keyType)
					time.Sleep(200 * time.Millisecond)
				}

				dir := t.TempDir()
				p12Path := filepath.Join(dir, issued.filename)
				require.NoError(t, os.WriteFile(p12Path, issued.pkcs12, 0o600))
				info := runTool(t, dir, "openssl", "pkcs12", "-in", p12Path, "-passin", "pass:"+issued.passphrase, "-info", "-nodes")
				require.Contains(t, info, "PRIVATE KEY-----")
				if format == "modern" {
					require.Contains(t, info, "PBES2", "modern files use PBES2/AES")
				} else {
					require.Contains(t, info, "pbeWithSHA1And3-KeyTripleDES-CBC", "compatible files use 3DES")
				}

				nssDB := "sql:" + filepath.Join(dir, "nssdb")
				require.NoError(t, os.Mkdir(filepath.Join(dir, "nssdb"), 0o700))
				runTool(t, dir, "certutil", "-N", "--empty-password", "-d", nssDB)
				out := runTool(t, dir, "pk12util", "-i", p12Path, "-d", nssDB, "-W", issued.passphrase)
				require.Contains(t, out, "PKCS12 IMPORT SUCCESSFUL")
				keys := runTool(t, dir, "certutil", "-K", "-d", nssDB)
				require.True(t, strings.Contains(keys, user.name()), "NSS holds the key under the certificate's name:\n%s", keys)
			})
		}
	}
}

// TestPEMAndDERDownloads: the same certificate as PEM (with its chain) and
// DER, and the key as encrypted PKCS#8 PEM when asked for, are what OpenSSL
// expects.
func TestPEMAndDERDownloads(t *testing.T) {
	requireBed(t)
	user := newTestUser(t, "ines")
	_, token := user.linkViaAPI(t)
	reply := pluginRequest(t, http.MethodPost, "/issue", url.Values{"token": {token}, "key_pem": {"true"}}, "", "application/json")
	require.Equal(t, http.StatusOK, reply.status, reply.String())
	var answer struct {
		Passphrase     string `json:"passphrase"`
		CertificatePEM string `json:"certificate_pem"`
		KeyPEM         string `json:"key_pem"`
		CertificateDER string `json:"certificate_der"`
	}
	require.NoError(t, json.Unmarshal([]byte(reply.body), &answer))
	der, err := base64.StdEncoding.DecodeString(answer.CertificateDER)
	require.NoError(t, err)

	dir := t.TempDir()
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, data, 0o600))
		return path
	}
	certPEM := write("cert.pem", []byte(answer.CertificatePEM))
	keyPEM := write("key.pem", []byte(answer.KeyPEM))
	certDER := write("cert.cer", der)
	chain := fetchCAChain(t)
	root := write("root.pem", encodePEM(chain[len(chain)-1]))

	// The PEM file carries the chain: OpenSSL verifies the leaf with it as
	// the untrusted intermediates and only the root trusted.
	runTool(t, dir, "openssl", "verify", "-purpose", "sslclient", "-CAfile", root, "-untrusted", certPEM, certPEM)
	subject := runTool(t, dir, "openssl", "x509", "-inform", "DER", "-in", certDER, "-noout", "-subject")
	require.Contains(t, subject, "CN = "+user.name())
	// The key opens with the passphrase and belongs to the certificate.
	keyPub := runTool(t, dir, "openssl", "pkey", "-in", keyPEM, "-passin", "pass:"+answer.Passphrase, "-pubout")
	certPub := runTool(t, dir, "openssl", "x509", "-inform", "DER", "-in", certDER, "-noout", "-pubkey")
	require.Equal(t, strings.TrimSpace(certPub), strings.TrimSpace(keyPub))
	out, err := exec.Command("openssl", "pkey", "-in", keyPEM, "-passin", "pass:wrong", "-noout").CombinedOutput()
	require.Error(t, err, "the key must not open without the passphrase: %s", out)
}
