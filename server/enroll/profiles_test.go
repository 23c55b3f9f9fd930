package enroll_test

import (
	"context"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// profileCatalog has an open default profile, an S/MIME profile for the
// engineering team, and one for system admins only.
const profileCatalog = `{"profiles": [
	{"name": "vpn", "validity_days": 30},
	{"name": "smime", "key_types": ["rsa-2048"], "ext_key_usages": ["emailProtection", "clientAuth"],
	 "subject": {"common_name": "email", "organization": ["Example Corp"], "organizational_unit": ["Engineering"]},
	 "access": {"teams": ["engineering"]}},
	{"name": "ops", "access": {"system_admins_only": true}}]}`

// newProfileBed has alice in the engineering team and carol for its admin.
func newProfileBed(t *testing.T) *bed {
	t.Helper()
	b := newBed(t, profileCatalog)
	b.dir.teams["engineering"] = mm("alice")
	b.dir.admins[records.MattermostUser("carol")] = true
	return b
}

func profileNames(list []*profile.Profile) []string {
	names := make([]string, 0, len(list))
	for _, p := range list {
		names = append(names, p.Name)
	}
	return names
}

// Who may use a profile: everyone an open one, a team's members theirs,
// the system admins any; the first profile is the default, and names are
// read in any letter case. A refusal names the profiles one may use.
func TestWhoMayUseAProfile(t *testing.T) {
	b := newProfileBed(t)
	alice, bob, carol := requester("alice"), requester("bob"), requester("carol")
	assert.Equal(t, []string{"vpn", "smime"}, profileNames(b.core.UsableProfiles(alice)))
	assert.Equal(t, []string{"vpn"}, profileNames(b.core.UsableProfiles(bob)))
	assert.Equal(t, []string{"vpn", "smime", "ops"}, profileNames(b.core.UsableProfiles(carol)))

	prof, _, err := b.core.ProfileFor(bob, "")
	require.NoError(t, err)
	assert.Equal(t, "vpn", prof.Name, "the first profile is the default")
	prof, _, err = b.core.ProfileFor(alice, "SMIME")
	require.NoError(t, err)
	assert.Equal(t, "smime", prof.Name)
	for _, tc := range []struct {
		who     *enroll.Requester
		profile string
	}{{bob, "smime"}, {alice, "ops"}, {alice, "nosuch"}} {
		_, _, err := b.core.ProfileFor(tc.who, tc.profile)
		assert.Equal(t, enroll.CodeForbidden, codeOf(err), "%s %s", tc.who.Principal.ID(), tc.profile)
		assert.Contains(t, enroll.AsError(err).Hint, "vpn", "the refusal names what one may use")
		_, err = b.core.Enroll(context.Background(), tc.who, tc.profile, enroll.Options{})
		assert.Equal(t, enroll.CodeForbidden, codeOf(err))
	}
	for _, name := range []string{"ops", "smime"} {
		_, _, err := b.core.ProfileFor(carol, name)
		assert.NoError(t, err, "an admin may use %s", name)
	}

	gone := requester("alice")
	gone.Active = false
	_, _, err = b.core.ProfileFor(gone, "vpn")
	assert.Equal(t, enroll.CodeForbidden, codeOf(err), "a deactivated account gets nothing")
}

// A profile makes its certificates: the subject it describes, the account's
// email, its key usages, the key type it names, its validity; the record
// says which profile and connector made it.
func TestAProfileShapesItsCertificates(t *testing.T) {
	b := newProfileBed(t)
	alice := requester("alice")
	outcome, err := b.core.Enroll(context.Background(), alice, "smime", enroll.Options{})
	require.NoError(t, err)
	certs, err := pki.ParseCertificatesPEM(outcome.Issued.CertificatePEM)
	require.NoError(t, err)
	leaf := certs[0]
	assert.Equal(t, "alice@example.com", leaf.Subject.CommonName)
	assert.Equal(t, []string{"Example Corp"}, leaf.Subject.Organization)
	assert.Equal(t, []string{"Engineering"}, leaf.Subject.OrganizationalUnit)
	assert.Equal(t, []string{"alice@example.com"}, leaf.EmailAddresses)
	assert.Equal(t, []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection, x509.ExtKeyUsageClientAuth}, leaf.ExtKeyUsage)
	keyType, err := pki.KeyTypeOf(leaf.PublicKey)
	require.NoError(t, err)
	assert.Equal(t, pki.KeyRSA2048, keyType)
	record := outcome.Issued.Record
	assert.Equal(t, "smime", record.Profile)
	assert.Equal(t, "builtin", record.Connector)
	assert.Equal(t, string(pki.KeyRSA2048), record.KeyType)
	assert.True(t, strings.HasSuffix(outcome.Issued.Filename, ".p12"))

	vpn := b.enroll(t, alice, "vpn")
	assert.WithinDuration(t, b.core.Now().Add(30*24*time.Hour), vpn.NotAfter, time.Minute)
	assert.Equal(t, "alice", vpn.CommonName, "the default common name is the username")
}

// A link outlives neither its profile nor the access that let it out: a
// profile removed since is gone, one its owner may no longer use is
// refused.
func TestALinkOutlivesNeitherItsProfileNorItsAccess(t *testing.T) {
	b := newProfileBed(t)
	alice := requester("alice")
	smime, _ := issueLink(t, b.core, alice, "smime")
	vpn, _ := issueLink(t, b.core, alice, "vpn")

	renamed := b.withCatalog(t, `{"profiles": [{"name": "remote"}]}`)
	_, err := renamed.CheckLink(vpn.Token, linktoken.PurposeIssue, "")
	assert.Equal(t, enroll.CodeGone, codeOf(err))

	moved := b.withCatalog(t, strings.Replace(profileCatalog, `"teams": ["engineering"]`, `"teams": ["finance"]`, 1))
	_, err = moved.CheckLink(smime.Token, linktoken.PurposeIssue, "")
	assert.Equal(t, enroll.CodeForbidden, codeOf(err))
	_, err = moved.CheckLink(vpn.Token, linktoken.PurposeIssue, "")
	assert.NoError(t, err)
}
