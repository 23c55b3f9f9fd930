package records

import (
	"testing"

	"github.com/stretchr/testify/assert"
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
