//go:build e2e

package sqlstore

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The roles that name a permission are found by the permission, whatever
// the role is called: a custom role that grants manage_system is one, a
// role merely named like an admin's is not, nor is a deleted role or one
// whose permissions only contain the word.
func TestRolesNamingAPermissionAreFoundByThePermission(t *testing.T) {
	s, _, db := newTestStore(t)
	// Mattermost's own table, as its migrations make it (the columns read
	// here, and the ones around them).
	_, err := db.Exec(`CREATE TABLE roles (
		id VARCHAR(26) PRIMARY KEY, name VARCHAR(64) UNIQUE, displayname VARCHAR(128), description VARCHAR(1024),
		createat BIGINT, updateat BIGINT, deleteat BIGINT, permissions TEXT, schememanaged BOOLEAN, builtin BOOLEAN)`)
	require.NoError(t, err)
	for _, role := range []struct {
		id, name, permissions string
		deleteAt              int64
	}{
		{"r1", "system_admin", "create_post manage_system manage_roles", 0},
		{"r2", "system_manager", "sysconsole_read_about manage_team", 0},
		{"r3", "it_admins", "manage_system", 0},
		{"r4", "former_admins", "manage_system", 1700000000000},
		{"r5", "oauth_admins", "manage_system_wide_oauth", 0},
		{"r6", "system_admin_lookalike", "create_post", 0},
		{"r7", "team_ops", "read_channel manage_system", 0},
	} {
		_, err := db.Exec(`INSERT INTO roles (id, name, displayname, description, createat, updateat, deleteat, permissions, schememanaged, builtin)
			VALUES ($1, $2, $2, '', 0, 0, $3, $4, false, false)`, role.id, role.name, role.deleteAt, role.permissions)
		require.NoError(t, err)
	}

	names, err := s.RolesNaming("manage_system")
	require.NoError(t, err)
	assert.Equal(t, []string{"it_admins", "system_admin", "team_ops"}, names)

	names, err = s.RolesNaming("no_such_permission")
	require.NoError(t, err)
	assert.Empty(t, names)
}

// A database without Mattermost's roles table is an error the caller can
// fall back from, not a panic or an empty answer.
func TestRolesNamingWithoutTheRolesTableIsAnError(t *testing.T) {
	s, _, _ := newTestStore(t)
	_, err := s.RolesNaming("manage_system")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "manage_system")
}
