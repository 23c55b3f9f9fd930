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
