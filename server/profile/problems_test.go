package profile

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseProblemsCarryTheFieldPath(t *testing.T) {
	stepca := `"url": "https://ca:9000", "root_fingerprint": "` + fingerprint + `", "provisioner": "mm", "provisioner_password": "pw"`
	cases := map[string]struct{ json, path string }{
		"not json":              {`{`, ""},
		"unknown top-level":     {`{"profile": []}`, "profile"},
		"top-level type":        {`{"profiles": [{"name": "p"}], "default_profile": 1}`, "default_profile"},
		"list not a list":       {`{"profiles": {"name": "vpn"}}`, "profiles"},
		"unknown profile field": {`{"profiles": [{"name": "a"}, {"name": "vpn", "validity_dayz": 30}]}`, "profiles[1].validity_dayz"},
		"nested unknown field":  {`{"profiles": [{"name": "vpn", "subject": {"common_nam": "email"}}]}`, "profiles[0].subject.common_nam"},
		"nested type":           {`{"profiles": [{"name": "vpn", "subject": {"email_san": "no"}}]}`, "profiles[0].subject.email_san"},
		"entry not an object":   {`{"profiles": [{"name": "a"}, 3]}`, "profiles[1]"},
		"unknown stepca field": {`{"connectors": [{"name": "x", "type": "stepca", "stepca": {` + stepca + `, "urll": "https://ca"}}], "profiles": [{"name": "p"}]}`,
			"connectors[0].stepca.urll"},
		"bad connector name": {`{"connectors": [{"name": "Bad Name", "type": "builtin"}], "profiles": [{"name": "p"}]}`, "connectors[0].name"},
		"duplicate connector": {`{"connectors": [{"name": "a", "type": "builtin"}, {"name": "a", "type": "stepca", "stepca": {` + stepca + `}}], "profiles": [{"name": "p", "connector": "a"}]}`,
			"connectors[1].name"},
		"connector type":     {`{"connectors": [{"name": "a", "type": "acme"}], "profiles": [{"name": "p"}]}`, "connectors[0].type"},
		"stepca missing":     {`{"connectors": [{"name": "corp", "type": "stepca"}], "profiles": [{"name": "p"}]}`, "connectors[0].stepca"},
		"stepca url":         {`{"connectors": [{"name": "corp", "type": "stepca", "stepca": {"url": "http://ca", "root_fingerprint": "` + fingerprint + `", "provisioner": "mm", "provisioner_password": "pw"}}], "profiles": [{"name": "p"}]}`, "connectors[0].stepca.url"},
		"stepca password":    {`{"connectors": [{"name": "corp", "type": "stepca", "stepca": {"url": "https://ca", "root_fingerprint": "` + fingerprint + `", "provisioner": "mm"}}], "profiles": [{"name": "p"}]}`, "connectors[0].stepca.provisioner_password"},
		"no profiles":        {`{"profiles": []}`, "profiles"},
		"profile name":       {`{"profiles": [{"name": "ok"}, {"name": "Has Space"}]}`, "profiles[1].name"},
		"duplicate profile":  {`{"profiles": [{"name": "p"}, {"name": "p"}]}`, "profiles[1].name"},
		"unknown connector":  {`{"profiles": [{"name": "p", "connector": "ghost"}]}`, "profiles[0].connector"},
		"validity":           {`{"profiles": [{"name": "a"}, {"name": "b", "validity_days": 4000}]}`, "profiles[1].validity_days"},
		"key type":           {`{"profiles": [{"name": "p", "key_types": ["rsa-1024"]}]}`, "profiles[0].key_types"},
		"eku":                {`{"profiles": [{"name": "p", "ext_key_usages": ["serverAuth"]}]}`, "profiles[0].ext_key_usages"},
		"common name":        {`{"profiles": [{"name": "p", "subject": {"common_name": "nick"}}]}`, "profiles[0].subject.common_name"},
		"email san":          {`{"profiles": [{"name": "p", "ext_key_usages": ["emailProtection"], "subject": {"email_san": false}}]}`, "profiles[0].subject.email_san"},
		"team":               {`{"profiles": [{"name": "p", "access": {"teams": [""]}}]}`, "profiles[0].access.teams"},
		"oidc group":         {`{"profiles": [{"name": "p", "access": {"oidc_groups": [" "]}}]}`, "profiles[0].access.oidc_groups"},
		"approvers":          {`{"profiles": [{"name": "p", "approvers": ["carol"]}]}`, "profiles[0].approvers"},
		"approvals required": {`{"profiles": [{"name": "p", "requires_approval": true, "approvers": ["a"], "approvals_required": 2}]}`, "profiles[0].approvals_required"},
		"limits per day":     {`{"profiles": [{"name": "p", "limits": {"per_day": -1}}]}`, "profiles[0].limits.per_day"},
		"limits active":      {`{"profiles": [{"name": "p", "limits": {"active": -1}}]}`, "profiles[0].limits.active"},
		"overlap":            {`{"profiles": [{"name": "p", "renewal": {"overlap_days": 91}}]}`, "profiles[0].renewal.overlap_days"},
		"skip approval":      {`{"profiles": [{"name": "p", "renewal": {"skip_approval": true}}]}`, "profiles[0].renewal.skip_approval"},
		"csr names":          {`{"profiles": [{"name": "p", "csr_names": "maybe"}]}`, "profiles[0].csr_names"},
		"attestation":        {`{"profiles": [{"name": "p", "attestation": "always"}]}`, "profiles[0].attestation"},
		"default profile":    {`{"profiles": [{"name": "p"}], "default_profile": "q"}`, "default_profile"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(tc.json, defaults)
			require.Error(t, err)
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tc.path, fe.Path)
			assert.Equal(t, "connectors and profiles: "+fe.Error(), err.Error(), "the error's words are the first problem's")
			problems := ProblemsOf(err)
			require.NotEmpty(t, problems)
			assert.Same(t, fe, problems[0])
		})
	}
}

func TestParseReportsEveryProblemTheFirstOneAsTheError(t *testing.T) {
	_, err := Parse(`{"connectors": [{"name": "Bad", "type": "builtin"}],
	  "profiles": [{"name": "a", "validity_days": 0, "connector": "Bad", "csr_names": "maybe"}, {"name": "b", "validity_days": 9999, "connector": "Bad"}],
	  "default_profile": "zzz"}`, Defaults{ValidityDays: 0, KeyType: defaults.KeyType})
	require.Error(t, err)
	var paths []string
	for _, fe := range ProblemsOf(err) {
		paths = append(paths, fe.Path)
	}
	assert.Equal(t, []string{"connectors[0].name", "profiles[0].validity_days", "profiles[0].csr_names", "profiles[1].validity_days", "default_profile"}, paths)
	assert.Equal(t, `connectors and profiles: connector "Bad": name must be 1-40 lower-case letters, digits, '-' or '_'`, err.Error())
	assert.Equal(t, `profile "b": validity_days must be between 1 and 3650 (got 9999)`, ProblemsOf(err)[3].Error())

	_, err = Parse(`{"profiles": [{"name": "a", "validity_dayz": 1}, {"name": "b", "subject": []}]}`, defaults)
	paths = nil
	for _, fe := range ProblemsOf(err) {
		paths = append(paths, fe.Path)
	}
	assert.Equal(t, []string{"profiles[0].validity_dayz", "profiles[1].subject"}, paths, "each entry is decoded on its own")
}

func TestProblemsOfAnErrorWithoutAField(t *testing.T) {
	assert.Nil(t, ProblemsOf(nil))
	problems := ProblemsOf(errors.New("Key type: unknown"))
	require.Len(t, problems, 1)
	assert.Empty(t, problems[0].Path)
	assert.Equal(t, "Key type: unknown", problems[0].Error())
}
