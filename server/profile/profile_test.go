package profile

import (
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

var defaults = Defaults{ValidityDays: 365, KeyType: pki.KeyECDSAP256}

const fingerprint = "c84d6a1e6b2cf5d7f6a0d3c1b5e4f3a2918273645546372819a0b1c2d3e4f5a6"

func TestBlankSettingIsTheDefaultCatalog(t *testing.T) {
	for _, blank := range []string{"", "  \n"} {
		c, err := Parse(blank, defaults)
		require.NoError(t, err)
		require.Len(t, c.Connectors, 1)
		assert.Equal(t, TypeBuiltin, c.Connectors[0].Type)
		p, ok := c.Profile("")
		require.True(t, ok)
		assert.Equal(t, "default", p.Name)
		assert.Equal(t, 365*24*time.Hour, p.Validity())
		assert.Equal(t, pki.KeyECDSAP256, p.GeneratedKeyType())
		assert.Equal(t, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, p.ExtKeyUsageValues())
		assert.True(t, p.Access.Everyone())
		assert.True(t, p.Subject.IncludesEmail())
	}
}

func TestParseFullCatalog(t *testing.T) {
	c, err := Parse(`{
	  "connectors": [
	    {"name": "local", "type": "builtin"},
	    {"name": "corp", "type": "stepca", "stepca": {"url": "https://ca.example.com:9000", "root_fingerprint": "`+strings.ToUpper(fingerprint)+`",
	      "provisioner": "mattermost", "provisioner_password": "pw", "timeout_seconds": 10}}
	  ],
	  "profiles": [
	    {"name": "vpn", "connector": "local", "validity_days": 90, "key_types": ["rsa-2048", "ecdsa-p256"]},
	    {"name": "smime", "description": "Signed and encrypted email", "connector": "corp", "ext_key_usages": ["emailProtection", "clientAuth"],
	      "subject": {"common_name": "email", "organization": ["Example"], "organizational_unit": ["Staff"]},
	      "access": {"teams": ["engineering", "ops"]}},
	    {"name": "admin-only", "connector": "local", "access": {"system_admins_only": true}}
	  ],
	  "default_profile": "vpn"
	}`, defaults)
	require.NoError(t, err)
	vpn, ok := c.Profile("")
	require.True(t, ok)
	assert.Equal(t, "vpn", vpn.Name)
	assert.Equal(t, pki.KeyRSA2048, vpn.GeneratedKeyType())
	assert.Equal(t, 90*24*time.Hour, vpn.Validity())

	smime, ok := c.Profile("SMIME")
	require.True(t, ok, "profile names match without regard to case")
	assert.Equal(t, 365, smime.ValidityDays, "validity defaults to the plugin setting")
	assert.Equal(t, []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection, x509.ExtKeyUsageClientAuth}, smime.ExtKeyUsageValues())
	assert.Equal(t, "email", smime.Subject.CommonName)
	assert.False(t, smime.Access.Everyone())

	corp, ok := c.Connector("corp")
	require.True(t, ok)
	assert.Equal(t, 10, corp.StepCA.TimeoutSeconds)

	admin, _ := c.Profile("admin-only")
	assert.False(t, admin.Access.Everyone())
	_, ok = c.Profile("nope")
	assert.False(t, ok)
}

func TestParseRefusesBadCatalogsNamingTheField(t *testing.T) {
	stepca := func(fields string) string {
		return `{"connectors": [{"name": "corp", "type": "stepca", "stepca": {` + fields + `}}], "profiles": [{"name": "p"}]}`
	}
	good := `"url": "https://ca:9000", "root_fingerprint": "` + fingerprint + `", "provisioner": "mm", "provisioner_password": "pw"`
	cases := map[string]struct{ json, want string }{
		"not json":               {`{`, "the JSON cannot be read"},
		"trailing data":          {`{"profiles": [{"name": "p"}]} {}`, "unexpected data after"},
		"typo in a field":        {`{"profiles": [{"name": "p", "validity": 3}]}`, `profile "p": unknown field "validity"`},
		"no profiles":            {`{"profiles": []}`, "define at least one profile"},
		"bad connector name":     {`{"connectors": [{"name": "Bad Name", "type": "builtin"}], "profiles": [{"name": "p"}]}`, `connector "Bad Name": name must be`},
		"duplicate connector":    {`{"connectors": [{"name": "a", "type": "builtin"}, {"name": "a", "type": "builtin"}], "profiles": [{"name": "p", "connector": "a"}]}`, `connector "a": the name is used twice`},
		"unknown connector type": {`{"connectors": [{"name": "a", "type": "acme"}], "profiles": [{"name": "p"}]}`, `connector "a": type must be "builtin" or "stepca" (got "acme")`},
		"builtin with stepca":    {`{"connectors": [{"name": "a", "type": "builtin", "stepca": {}}], "profiles": [{"name": "p"}]}`, "takes no stepca settings"},
		"stepca without settings": {`{"connectors": [{"name": "corp", "type": "stepca"}], "profiles": [{"name": "p"}]}`,
			`connector "corp": stepca: settings are missing`},
		"stepca http url":        {stepca(strings.Replace(good, "https://", "http://", 1)), "stepca.url: step-ca URL must start with https://"},
		"stepca bad fingerprint": {stepca(strings.Replace(good, fingerprint, "abc", 1)), "stepca.root_fingerprint: step-ca root fingerprint must be 64 hexadecimal characters"},
		"stepca no provisioner":  {stepca(strings.Replace(good, `"mm"`, `""`, 1)), "stepca.provisioner: step-ca provisioner is required"},
		"stepca no password":     {stepca(strings.Replace(good, `"pw"`, `""`, 1)), "stepca.provisioner_password: step-ca provisioner password is required"},
		"stepca timeout":         {stepca(good + `, "timeout_seconds": 900`), "stepca.timeout_seconds: step-ca timeout must be at most 5m0s"},
		"bad profile name":       {`{"profiles": [{"name": "has space"}]}`, `profile "has space": name must be`},
		"unnamed profile":        {`{"profiles": [{"description": "x"}]}`, `profile 1: name must be`},
		"two builtin connectors": {`{"connectors": [{"name": "wifi", "type": "builtin"}, {"name": "vpn", "type": "builtin"}], "profiles": [{"name": "p", "connector": "vpn"}]}`,
			`connector "vpn": connector "wifi" is of type builtin already, and the plugin has one built-in CA`},
		"duplicate profile": {`{"profiles": [{"name": "p"}, {"name": "p"}]}`, `profile "p": the name is used twice`},
		"unknown connector": {`{"profiles": [{"name": "p", "connector": "ghost"}]}`, `profile "p": connector: no connector is called "ghost"`},
		"ambiguous connector": {`{"connectors": [{"name": "a", "type": "builtin"}, {"name": "b", "type": "stepca", "stepca": {` + good + `}}], "profiles": [{"name": "p"}]}`,
			`profile "p": connector: no connector is called ""`},
		"validity too long":    {`{"profiles": [{"name": "p", "validity_days": 4000}]}`, `profile "p": validity_days must be between 1 and 3650 (got 4000)`},
		"validity negative":    {`{"profiles": [{"name": "p", "validity_days": -1}]}`, "validity_days must be between"},
		"weak key type":        {`{"profiles": [{"name": "p", "key_types": ["rsa-1024"]}]}`, `profile "p": key_types: unknown key type "rsa-1024"`},
		"unknown eku":          {`{"profiles": [{"name": "p", "ext_key_usages": ["serverAuth"]}]}`, `ext_key_usages: unknown usage "serverAuth"`},
		"bad cn source":        {`{"profiles": [{"name": "p", "subject": {"common_name": "nickname"}}]}`, `subject.common_name must be "username" or "email"`},
		"smime without email":  {`{"profiles": [{"name": "p", "ext_key_usages": ["emailProtection"], "subject": {"email_san": false}}]}`, "S/MIME (emailProtection) certificates need the email"},
		"empty team":           {`{"profiles": [{"name": "p", "access": {"teams": [" "]}}]}`, "access.teams: a team name is empty"},
		"empty approver":       {`{"profiles": [{"name": "p", "requires_approval": true, "approvers": [""]}]}`, "approvers: a username is empty"},
		"approvers unused":     {`{"profiles": [{"name": "p", "approvers": ["carol"]}]}`, "approvers: set requires_approval to true"},
		"bad default":          {`{"profiles": [{"name": "p"}], "default_profile": "q"}`, `default_profile: no profile is called "q"`},
		"skip approval unused": {`{"profiles": [{"name": "p", "renewal": {"skip_approval": true}}]}`, `profile "p": renewal: skip_approval needs requires_approval`},
		"renewal typo":         {`{"profiles": [{"name": "p", "renewal": {"revoke_old": true}}]}`, `profile "p": unknown field "renewal.revoke_old"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(tc.json, defaults)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.True(t, strings.HasPrefix(err.Error(), "connectors and profiles: "), err.Error())
		})
	}
}

func TestParseNamesTheEntryAndFieldOfAJSONError(t *testing.T) {
	stepca := `"url": "https://ca:9000", "root_fingerprint": "` + fingerprint + `", "provisioner": "mm", "provisioner_password": "pw"`
	cases := map[string]struct{ json, want string }{
		"unknown profile field": {`{"profiles": [{"name": "vpn", "validity_dayz": 30}]}`,
			`connectors and profiles: profile "vpn": unknown field "validity_dayz"`},
		"name read after the typo": {`{"profiles": [{"name": "a"}, {"validity_dayz": 30, "name": "vpn"}]}`,
			`connectors and profiles: profile "vpn": unknown field "validity_dayz"`},
		"unnamed profile": {`{"profiles": [{"name": "a"}, {"validity_dayz": 30}]}`,
			`connectors and profiles: profile 2: unknown field "validity_dayz"`},
		"nested unknown field": {`{"profiles": [{"name": "vpn", "subject": {"common_nam": "email"}}]}`,
			`connectors and profiles: profile "vpn": unknown field "subject.common_nam"`},
		"nested under a key of another case": {`{"profiles": [{"name": "vpn", "Access": {"team": ["a"]}}]}`,
			`connectors and profiles: profile "vpn": unknown field "access.team"`},
		"unknown connector field": {`{"connectors": [{"name": "x", "type": "builtin", "kind": "ca"}], "profiles": [{"name": "p"}]}`,
			`connectors and profiles: connector "x": unknown field "kind"`},
		"unknown stepca field": {`{"connectors": [{"name": "x", "type": "stepca", "stepca": {` + stepca + `, "urll": "https://ca"}}], "profiles": [{"name": "p"}]}`,
			`connectors and profiles: connector "x": unknown field "stepca.urll"`},
		"unknown top-level field": {`{"profile": []}`, `connectors and profiles: unknown field "profile"`},
		"number as a string": {`{"profiles": [{"name": "vpn", "validity_days": "90"}]}`,
			`connectors and profiles: profile "vpn": field "validity_days" must be a number`},
		"fractional number": {`{"profiles": [{"name": "vpn", "validity_days": 1.5}]}`,
			`connectors and profiles: profile "vpn": field "validity_days" must be a whole number`},
		"string as a list": {`{"profiles": [{"name": "vpn", "key_types": "rsa-2048"}]}`,
			`connectors and profiles: profile "vpn": field "key_types" must be a list of strings`},
		"number in a list": {`{"profiles": [{"name": "vpn", "key_types": [2048]}]}`,
			`connectors and profiles: profile "vpn": field "key_types" must be a string`},
		"nested bool": {`{"profiles": [{"name": "vpn", "subject": {"email_san": "no"}}]}`,
			`connectors and profiles: profile "vpn": field "subject.email_san" must be true or false`},
		"nested object": {`{"profiles": [{"name": "vpn", "access": []}]}`,
			`connectors and profiles: profile "vpn": field "access" must be an object`},
		"connector type error": {`{"connectors": [{"name": "x", "type": "stepca", "stepca": {` + stepca + `, "timeout_seconds": "10"}}], "profiles": [{"name": "p"}]}`,
			`connectors and profiles: connector "x": field "stepca.timeout_seconds" must be a number`},
		"entry not an object": {`{"profiles": [{"name": "a"}, 3]}`, `connectors and profiles: profile 2: must be an object`},
		"name not a string":   {`{"profiles": [{"name": 7}]}`, `connectors and profiles: profile 1: field "name" must be a string`},
		"list not a list":     {`{"profiles": {"name": "vpn"}}`, `connectors and profiles: field "profiles" must be a list of objects`},
		"top-level type":      {`{"profiles": [{"name": "p"}], "default_profile": 1}`, `connectors and profiles: field "default_profile" must be a string`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(tc.json, defaults)
			require.Error(t, err)
			assert.Equal(t, tc.want, err.Error())
			assert.NotContains(t, err.Error(), "json:")
		})
	}
}

func TestParseNeverEchoesTheProvisionerPassword(t *testing.T) {
	_, err := Parse(`{"connectors": [{"name": "corp", "type": "stepca", "stepca": {"url": "http://ca", "provisioner": "mm", "provisioner_password": "hunter2-secret"}}], "profiles": [{"name": "p"}]}`, defaults)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter2-secret")
}

func TestCSRSettingsOfProfiles(t *testing.T) {
	c, err := Parse(`{"connectors": [{"name": "local", "type": "builtin"},
	    {"name": "corp", "type": "stepca", "stepca": {"url": "https://ca.example.com", "root_fingerprint": "`+fingerprint+`", "provisioner": "p", "provisioner_password": "pw"}}],
	  "profiles": [{"name": "open", "connector": "local"}, {"name": "step", "connector": "corp"},
	    {"name": "hw", "connector": "local", "key_types": ["ecdsa-p384"], "csr_names": "match", "attestation": "require"}]}`, defaults)
	require.NoError(t, err)
	open, _ := c.Profile("open")
	assert.Equal(t, CSRNamesIgnore, open.CSRNames)
	assert.Equal(t, AttestationIgnore, open.Attestation)
	assert.Equal(t, pki.KeyTypes, open.AcceptedKeyTypes(), "every supported key, the generated one first")
	assert.True(t, open.ServerKeysAllowed())
	step, _ := c.Profile("step")
	assert.Equal(t, CSRNamesMatch, step.CSRNames, "step-ca signs the CSR's names")
	hw, _ := c.Profile("hw")
	assert.Equal(t, []pki.KeyType{pki.KeyECDSAP384}, hw.AcceptedKeyTypes())
	assert.False(t, hw.ServerKeysAllowed())
	verifying := c.ProfilesVerifyingAttestations()
	require.Len(t, verifying, 1)
	assert.Equal(t, "hw", c.Profiles[verifying[0]].Name)

	for catalog, want := range map[string]string{
		`{"profiles": [{"name": "a", "csr_names": "maybe"}]}`:    `profile "a": csr_names must be "ignore" or "match"`,
		`{"profiles": [{"name": "a", "attestation": "always"}]}`: `profile "a": attestation must be "ignore", "verify_if_present" or "require"`,
		`{"connectors": [{"name": "corp", "type": "stepca", "stepca": {"url": "https://ca.example.com", "root_fingerprint": "` + fingerprint + `", "provisioner": "p", "provisioner_password": "pw"}}],
		  "profiles": [{"name": "a", "csr_names": "ignore"}]}`: `csr_names: step-ca signs the names in the CSR itself`,
	} {
		_, err := Parse(catalog, defaults)
		assert.ErrorContains(t, err, want)
	}
}
