package config

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

func validConfiguration() *Configuration {
	c := &Configuration{LinkSigningSecret: strings.Repeat("s", 43), EncryptionSecret: strings.Repeat("e", 43)}
	c.SetDefaults()
	return c
}

// customCAPEM returns a CA chain and key in PEM, as an admin would paste them.
func customCAPEM(t *testing.T) (chainPEM, keyPEM string, h *pki.Hierarchy) {
	t.Helper()
	h, err := pki.GenerateHierarchy("Corp", time.Now())
	require.NoError(t, err)
	der, err := pki.MarshalPrivateKey(h.IssuingKey)
	require.NoError(t, err)
	keyPEM = "-----BEGIN PRIVATE KEY-----\n" + wrap64(der) + "-----END PRIVATE KEY-----\n"
	return string(pki.EncodeCertificatesPEM([]*x509.Certificate{h.Issuing, h.Root})), keyPEM, h
}

func wrap64(der []byte) string {
	s := base64.StdEncoding.EncodeToString(der)
	var b strings.Builder
	for len(s) > 64 {
		b.WriteString(s[:64] + "\n")
		s = s[64:]
	}
	b.WriteString(s + "\n")
	return b.String()
}

func TestConfigurationValidation(t *testing.T) {
	chainPEM, keyPEM, h := customCAPEM(t)
	otherChain, _, other := customCAPEM(t)
	rootOnly := string(pki.EncodeCertificatesPEM([]*x509.Certificate{h.Root}))
	brokenChain := string(pki.EncodeCertificatesPEM([]*x509.Certificate{h.Issuing, other.Root}))

	cases := map[string]struct {
		change func(*Configuration)
		want   string
	}{
		"defaults are valid":       {func(*Configuration) {}, ""},
		"link lifetime too short":  {func(c *Configuration) { c.LinkLifetimeMinutes = 0 }, ""}, // 0 means default
		"link lifetime negative":   {func(c *Configuration) { c.LinkLifetimeMinutes = -1 }, "Link lifetime must be between 1 and 60"},
		"link lifetime too long":   {func(c *Configuration) { c.LinkLifetimeMinutes = 61 }, "Link lifetime must be between 1 and 60"},
		"validity too long":        {func(c *Configuration) { c.CertificateValidityDays = 3651 }, "Certificate validity must be between 1 and 3650"},
		"validity negative":        {func(c *Configuration) { c.CertificateValidityDays = -5 }, "Certificate validity"},
		"unknown key type":         {func(c *Configuration) { c.KeyType = "dsa-1024" }, "Key type"},
		"unknown p12 format":       {func(c *Configuration) { c.PKCS12Format = "rc2" }, "PKCS#12 format"},
		"short signing secret":     {func(c *Configuration) { c.LinkSigningSecret = "short" }, "Link signing secret must be at least 32"},
		"short encryption secret":  {func(c *Configuration) { c.EncryptionSecret = "short" }, "Encryption secret must be at least 32"},
		"custom CA":                {func(c *Configuration) { c.CACertificatePEM, c.CAPrivateKeyPEM = chainPEM, keyPEM }, ""},
		"custom CA without key":    {func(c *Configuration) { c.CACertificatePEM = chainPEM }, "CA private key: paste"},
		"custom key without CA":    {func(c *Configuration) { c.CAPrivateKeyPEM = keyPEM }, "CA certificate chain: paste"},
		"custom CA key mismatch":   {func(c *Configuration) { c.CACertificatePEM, c.CAPrivateKeyPEM = otherChain, keyPEM }, "does not match"},
		"custom key of another CA": {func(c *Configuration) { c.CACertificatePEM, c.CAPrivateKeyPEM = rootOnly, keyPEM }, "does not match"},
		"custom CA garbage":        {func(c *Configuration) { c.CACertificatePEM, c.CAPrivateKeyPEM = "hello", keyPEM }, "CA certificate chain: no PEM certificate"},
		"custom key garbage": {func(c *Configuration) {
			c.CACertificatePEM, c.CAPrivateKeyPEM = chainPEM, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
		}, "CA private key: parse"},
		"custom chain out of order": {func(c *Configuration) { c.CACertificatePEM, c.CAPrivateKeyPEM = brokenChain, keyPEM }, "out of order or broken"},
		"daily bound negative":      {func(c *Configuration) { c.CertificatesPerUserPerDay = -1 }, "Certificates per user per day must be between 0 (no limit) and 10000"},
		"daily bound":               {func(c *Configuration) { c.CertificatesPerUserPerDay = 20 }, ""},
		"revocation base":           {func(c *Configuration) { c.RevocationBaseURL = "http://pki.example.com" }, ""},
		"revocation base ftp":       {func(c *Configuration) { c.RevocationBaseURL = "ftp://pki.example.com" }, "Revocation URL base must be an http:// or https:// URL"},
		"revocation base relative":  {func(c *Configuration) { c.RevocationBaseURL = "pki.example.com" }, "Revocation URL base must be"},
		"revocation base query":     {func(c *Configuration) { c.RevocationBaseURL = "http://pki.example.com/?x=1" }, "Revocation URL base must be"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := validConfiguration()
			tc.change(c)
			c.SetDefaults()
			err := c.IsValid()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestFlexIntReadsNumbersAndStrings(t *testing.T) {
	for input, want := range map[string]int{`5`: 5, `"7"`: 7, `12.0`: 12, `""`: 0, `null`: 0} {
		var f FlexInt
		require.NoError(t, json.Unmarshal([]byte(input), &f), input)
		assert.Equal(t, want, int(f), input)
	}
	for _, bad := range []string{`"five"`, `1.5`, `true`} {
		var f FlexInt
		assert.Error(t, json.Unmarshal([]byte(bad), &f), bad)
	}
}

func TestConfigurationFromMapIgnoresKeyCase(t *testing.T) {
	c, err := FromMap(map[string]any{"linklifetimeminutes": "10", "KEYTYPE": "rsa-2048"})
	require.NoError(t, err)
	assert.Equal(t, FlexInt(10), c.LinkLifetimeMinutes)
	assert.Equal(t, "rsa-2048", c.KeyType)
	assert.Equal(t, FlexInt(365), c.CertificateValidityDays, "defaults fill the rest")
}

func TestSetSettingReplacesEveryCaseVariant(t *testing.T) {
	m := map[string]any{"LinkSigningSecret": "", "linksigningsecret": "", "other": 1}
	SetSetting(m, "LinkSigningSecret", "x")
	assert.Equal(t, map[string]any{"linksigningsecret": "x", "other": 1}, m)
}
