package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.step.sm/crypto/jose"
)

// fakeStepCA answers the two questions a settings check asks a step-ca: its
// root by fingerprint, and its provisioners. Its TLS certificate is its own
// root.
type fakeStepCA struct {
	srv         *httptest.Server
	fingerprint string
}

func newFakeStepCA(t *testing.T, provisioner, password string) *fakeStepCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	priv := &jose.JSONWebKey{Key: key, KeyID: "kid", Algorithm: "ES256", Use: "sig"}
	plain, err := json.Marshal(priv)
	require.NoError(t, err)
	enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: jose.PBES2_HS256_A128KW, Key: []byte(password), PBES2Count: 1000},
		(&jose.EncrypterOptions{}).WithContentType("jwk+json"))
	require.NoError(t, err)
	obj, err := enc.Encrypt(plain)
	require.NoError(t, err)
	encrypted, err := obj.CompactSerialize()
	require.NoError(t, err)
	pub := priv.Public()

	f := &fakeStepCA{}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/root/"+f.fingerprint:
			root := f.srv.Certificate()
			_ = json.NewEncoder(w).Encode(map[string]any{"ca": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}))})
		case r.URL.Path == "/1.0/provisioners":
			_ = json.NewEncoder(w).Encode(map[string]any{"provisioners": []any{
				map[string]any{"type": "JWK", "name": provisioner, "key": pub, "encryptedKey": encrypted},
			}})
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"status": 404, "message": "The requested resource could not be found."}`))
		}
	}))
	t.Cleanup(f.srv.Close)
	sum := sha256.Sum256(f.srv.Certificate().Raw)
	f.fingerprint = hex.EncodeToString(sum[:])
	return f
}

func stepCACatalogFor(url, fingerprint, password string) string {
	return `{"connectors": [{"name": "builtin", "type": "builtin"},
	    {"name": "corp", "type": "stepca", "stepca": {"url": "` + url + `", "root_fingerprint": "` + fingerprint + `",
	      "provisioner": "mattermost", "provisioner_password": "` + password + `", "timeout_seconds": 2}}],
	  "profiles": [{"name": "vpn", "connector": "builtin"}, {"name": "step", "connector": "corp"}]}`
}

func TestSaveChecksStepCAConnectors(t *testing.T) {
	ca := newFakeStepCA(t, "mattermost", "right-password")
	env := newTestEnv(t)
	cfg := env.p.getConfiguration()
	settings := func(catalog string) map[string]any {
		return map[string]any{"linksigningsecret": cfg.LinkSigningSecret, "encryptionsecret": cfg.EncryptionSecret, "connectorsandprofiles": catalog}
	}
	current := settings("")

	// Right settings: saved, the password sealed, nobody bothered.
	saved, err := env.saveConfigReturning(current, settings(stepCACatalogFor(ca.srv.URL, ca.fingerprint, "right-password")))
	require.NoError(t, err)
	require.NotNil(t, saved)
	sealedCatalog := saved.PluginSettings.Plugins["certs"]["connectorsandprofiles"].(string)
	assert.Contains(t, sealedCatalog, `"provisioner_password": "sealed:`)
	assert.Empty(t, env.dmsTo("carol"))

	// Saved again with the sealed password and another change: the sealed
	// password is opened and checked.
	next := saved.PluginSettings.Plugins["certs"]
	next["linklifetimeminutes"] = 10
	require.NoError(t, env.saveConfig(current, next))
	assert.Empty(t, env.dmsTo("carol"))

	for name, tc := range map[string]struct{ catalog, want string }{
		"wrong password": {stepCACatalogFor(ca.srv.URL, ca.fingerprint, "wrong-password"),
			`Client Certificates: connectors and profiles: connector "corp": stepca.provisioner_password: the provisioner password does not decrypt the key of provisioner "mattermost"`},
		"wrong fingerprint": {stepCACatalogFor(ca.srv.URL, strings.Repeat("ab", 32), "right-password"),
			`Client Certificates: connectors and profiles: connector "corp": stepca.root_fingerprint: the certificate authority has no root certificate with the configured fingerprint`},
		"unknown provisioner": {strings.Replace(stepCACatalogFor(ca.srv.URL, ca.fingerprint, "right-password"), `"provisioner": "mattermost"`, `"provisioner": "nobody"`, 1),
			`Client Certificates: connectors and profiles: connector "corp": stepca.provisioner: the certificate authority has no JWK provisioner named "nobody"`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := env.saveConfigReturning(current, settings(tc.catalog))
			require.Error(t, err)
			assert.Equal(t, tc.want, err.Error())
			assert.NotContains(t, err.Error(), "wrong-password")
		})
	}
	assert.Empty(t, env.dmsTo("carol"), "a refused save is told to the admin who saved")

	// An unreachable CA: saved, logged, and the system admins told.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	down := "https://" + l.Addr().String()
	require.NoError(t, l.Close())
	saved, err = env.saveConfigReturning(current, settings(stepCACatalogFor(down, ca.fingerprint, "right-password")))
	require.NoError(t, err)
	require.NotNil(t, saved, "the password is still sealed")
	dms := env.dmsTo("carol")
	require.Len(t, dms, 1)
	assert.Contains(t, dms[0].Message, "the settings were saved")
	assert.Contains(t, dms[0].Message, "`corp`: the certificate authority could not be reached")
	assert.NotContains(t, dms[0].Message, "right-password")
	warned := false
	for _, line := range env.loggedLines() {
		if strings.HasPrefix(line, "warn Saved the settings of a step-ca connector that could not be checked") {
			warned = true
			assert.Contains(t, line, "corp")
		}
		assert.NotContains(t, line, "right-password")
	}
	assert.True(t, warned, "the warning is logged")
}
