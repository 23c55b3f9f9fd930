package config_test

import (
	"crypto/x509"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/config"
	"github.com/clientcerts/mattermost-plugin-certs/server/config/configtest"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

func TestConfigurationValidation(t *testing.T) {
	chainPEM, keyPEM, h := configtest.CustomCAPEM(t, time.Now())
	otherChain, _, other := configtest.CustomCAPEM(t, time.Now())
	rootOnly := string(pki.EncodeCertificatesPEM([]*x509.Certificate{h.Root}))
	brokenChain := string(pki.EncodeCertificatesPEM([]*x509.Certificate{h.Issuing, other.Root}))

	cases := map[string]struct {
		change func(*config.Configuration)
		want   string
	}{
		"defaults are valid":       {func(*config.Configuration) {}, ""},
		"link lifetime too short":  {func(c *config.Configuration) { c.LinkLifetimeMinutes = 0 }, ""}, // 0 means default
		"link lifetime negative":   {func(c *config.Configuration) { c.LinkLifetimeMinutes = -1 }, "Link lifetime must be between 1 and 60"},
		"link lifetime too long":   {func(c *config.Configuration) { c.LinkLifetimeMinutes = 61 }, "Link lifetime must be between 1 and 60"},
		"validity too long":        {func(c *config.Configuration) { c.CertificateValidityDays = 3651 }, "Certificate validity must be between 1 and 3650"},
		"validity negative":        {func(c *config.Configuration) { c.CertificateValidityDays = -5 }, "Certificate validity"},
		"unknown key type":         {func(c *config.Configuration) { c.KeyType = "dsa-1024" }, "Key type"},
		"unknown p12 format":       {func(c *config.Configuration) { c.PKCS12Format = "rc2" }, "PKCS#12 format"},
		"short signing secret":     {func(c *config.Configuration) { c.LinkSigningSecret = "short" }, "Link signing secret must be at least 32"},
		"short encryption secret":  {func(c *config.Configuration) { c.EncryptionSecret = "short" }, "Encryption secret must be at least 32"},
		"custom CA":                {func(c *config.Configuration) { c.CACertificatePEM, c.CAPrivateKeyPEM = chainPEM, keyPEM }, ""},
		"custom CA without key":    {func(c *config.Configuration) { c.CACertificatePEM = chainPEM }, "CA private key: paste"},
		"custom key without CA":    {func(c *config.Configuration) { c.CAPrivateKeyPEM = keyPEM }, "CA certificate chain: paste"},
		"custom CA key mismatch":   {func(c *config.Configuration) { c.CACertificatePEM, c.CAPrivateKeyPEM = otherChain, keyPEM }, "does not match"},
		"custom key of another CA": {func(c *config.Configuration) { c.CACertificatePEM, c.CAPrivateKeyPEM = rootOnly, keyPEM }, "does not match"},
		"custom CA garbage":        {func(c *config.Configuration) { c.CACertificatePEM, c.CAPrivateKeyPEM = "hello", keyPEM }, "CA certificate chain: no PEM certificate"},
		"custom key garbage": {func(c *config.Configuration) {
			c.CACertificatePEM, c.CAPrivateKeyPEM = chainPEM, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
		}, "CA private key: parse"},
		"custom chain out of order": {func(c *config.Configuration) { c.CACertificatePEM, c.CAPrivateKeyPEM = brokenChain, keyPEM }, "out of order or broken"},
		"daily bound negative":      {func(c *config.Configuration) { c.CertificatesPerUserPerDay = -1 }, "Certificates per user per day must be between 0 (no limit) and 10000"},
		"daily bound":               {func(c *config.Configuration) { c.CertificatesPerUserPerDay = 20 }, ""},
		"revocation base":           {func(c *config.Configuration) { c.RevocationBaseURL = "http://pki.example.com" }, ""},
		"revocation base ftp":       {func(c *config.Configuration) { c.RevocationBaseURL = "ftp://pki.example.com" }, "Revocation URL base must be an http:// or https:// URL"},
		"revocation base relative":  {func(c *config.Configuration) { c.RevocationBaseURL = "pki.example.com" }, "Revocation URL base must be"},
		"revocation base query":     {func(c *config.Configuration) { c.RevocationBaseURL = "http://pki.example.com/?x=1" }, "Revocation URL base must be"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := configtest.Valid()
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
		var f config.FlexInt
		require.NoError(t, json.Unmarshal([]byte(input), &f), input)
		assert.Equal(t, want, int(f), input)
	}
	for _, bad := range []string{`"five"`, `1.5`, `true`} {
		var f config.FlexInt
		assert.Error(t, json.Unmarshal([]byte(bad), &f), bad)
	}
}

func TestConfigurationFromMapIgnoresKeyCase(t *testing.T) {
	c, err := config.FromMap(map[string]any{"linklifetimeminutes": "10", "KEYTYPE": "rsa-2048"})
	require.NoError(t, err)
	assert.Equal(t, config.FlexInt(10), c.LinkLifetimeMinutes)
	assert.Equal(t, "rsa-2048", c.KeyType)
	assert.Equal(t, config.FlexInt(365), c.CertificateValidityDays, "defaults fill the rest")
}

func TestSetSettingReplacesEveryCaseVariant(t *testing.T) {
	m := map[string]any{"LinkSigningSecret": "", "linksigningsecret": "", "other": 1}
	config.SetSetting(m, "LinkSigningSecret", "x")
	assert.Equal(t, map[string]any{"linksigningsecret": "x", "other": 1}, m)
}
