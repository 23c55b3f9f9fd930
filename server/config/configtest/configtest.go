// Package configtest makes settings for tests: a valid configuration, and
// a CA of one's own as an admin would paste it.
package configtest

import (
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/config"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

// Valid is the default configuration with both secrets set.
func Valid() *config.Configuration {
	c := &config.Configuration{LinkSigningSecret: strings.Repeat("s", 43), EncryptionSecret: strings.Repeat("e", 43)}
	c.SetDefaults()
	return c
}

// CustomCAPEM returns a CA chain valid from now and its key in PEM, as an
// admin would paste them, and the hierarchy they come from.
func CustomCAPEM(t testing.TB, now time.Time) (chainPEM, keyPEM string, h *pki.Hierarchy) {
	t.Helper()
	h, err := pki.GenerateHierarchy("Corp", now)
	require.NoError(t, err)
	der, err := pki.MarshalPrivateKey(h.IssuingKey)
	require.NoError(t, err)
	keyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	return string(pki.EncodeCertificatesPEM([]*x509.Certificate{h.Issuing, h.Root})), keyPEM, h
}
