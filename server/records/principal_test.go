package records

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMattermostUser(t *testing.T) {
	p := MattermostUser("k5h8y3d1mjgz7c9n4q2wrxfb6e")
	assert.Equal(t, Principal("mm:k5h8y3d1mjgz7c9n4q2wrxfb6e"), p)
	assert.Equal(t, "k5h8y3d1mjgz7c9n4q2wrxfb6e", p.MattermostUserID())
}

func TestMattermostUserID(t *testing.T) {
	tests := []struct {
		principal Principal
		want      string
	}{
		{"mm:abc", "abc"},
		{"mm:mm:abc", "mm:abc"},
		{"oidc:abc", ""},
		{"local:alice", ""},
		{"MM:abc", ""},
		{"abc", ""},
		{"mm", ""},
		{"mm:", ""},
		{"", ""},
		{" mm:abc", ""},
	}
	for _, tc := range tests {
		t.Run(string(tc.principal), func(t *testing.T) {
			assert.Equal(t, tc.want, tc.principal.MattermostUserID())
		})
	}
}

func TestPrincipalKindAndID(t *testing.T) {
	tests := []struct {
		principal Principal
		kind, id  string
	}{
		{"mm:abc", "mm", "abc"},
		{"oidc:https://issuer|sub", "oidc", "https://issuer|sub"},
		{"test:x:y", "test", "x:y"},
		{"abc", "", ""},
		{"mm:", "", ""},
		{":abc", "", ""},
		{"", "", ""},
	}
	for _, tc := range tests {
		t.Run(string(tc.principal), func(t *testing.T) {
			assert.Equal(t, tc.kind, tc.principal.Kind())
			assert.Equal(t, tc.id, tc.principal.ID())
		})
	}
	assert.Equal(t, Principal("local:alice"), NewPrincipal("local", "alice"))
}

func TestOIDCUser(t *testing.T) {
	p := OIDCUser("https://idp.example.com/realms/corp", "248289761001")
	assert.Equal(t, Principal("oidc:https://idp.example.com/realms/corp#248289761001"), p)
	assert.Equal(t, KindOIDC, p.Kind())
	assert.Empty(t, p.MattermostUserID())
}

// Records written before actors were principals name a Mattermost account
// by its bare id; a job writes a word that names no one.
func TestActorOf(t *testing.T) {
	assert.Equal(t, Principal("mm:abc"), ActorOf("mm:abc"))
	assert.Equal(t, Principal("oidc:abc"), ActorOf("oidc:abc"))
	assert.Equal(t, MattermostUser("k5h8y3d1mjgz7c9n4q2wrxfb6e"), ActorOf("k5h8y3d1mjgz7c9n4q2wrxfb6e"))
	for _, word := range []string{"", "renewal", "deactivation", "key-compromise", "issuance", "K5H8Y3D1MJGZ7C9N4Q2WRXFB6E"} {
		assert.Equal(t, Principal(""), ActorOf(word), word)
	}
}

func TestApprovalsStoredWithBareIDsReadAsPrincipals(t *testing.T) {
	var r Request
	require.NoError(t, json.Unmarshal([]byte(`{"approvals":[{"user_id":"k5h8y3d1mjgz7c9n4q2wrxfb6e","at":"2025-01-02T03:04:05Z"},{"user_id":"oidc:x","at":"2025-01-02T03:04:05Z"}],
		"approval_posts":[{"user_id":"k5h8y3d1mjgz7c9n4q2wrxfb6e","post_id":"p1"}]}`), &r))
	require.Len(t, r.Approvals, 2)
	assert.Equal(t, MattermostUser("k5h8y3d1mjgz7c9n4q2wrxfb6e"), r.Approvals[0].By)
	assert.Equal(t, 2025, r.Approvals[0].At.Year())
	assert.Equal(t, Principal("oidc:x"), r.Approvals[1].By)
	assert.Equal(t, []ApprovalNotice{{Approver: MattermostUser("k5h8y3d1mjgz7c9n4q2wrxfb6e"), Ref: "p1"}}, r.ApprovalNotices)

	again, err := json.Marshal(r.Approvals[0])
	require.NoError(t, err)
	assert.Contains(t, string(again), `"user_id":"mm:k5h8y3d1mjgz7c9n4q2wrxfb6e"`, "written back as a principal")
}
