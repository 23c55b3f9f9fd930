package sqlstore

import (
	"fmt"
	"strings"
)

// maxRoles bounds the roles RolesNaming lists: a server has a few dozen,
// and a few more for each permission scheme.
const maxRoles = 1000

// RolesNaming lists, in name order, the Mattermost server's own roles (its
// roles table) whose permissions name permission, deleted roles left out.
// The plugin API can ask whether roles grant a permission but cannot list
// roles, so this is where the names come from; they are candidates only,
// for the caller to confirm through the permission system, which alone
// says what a role grants. Only names and permissions are read, and
// nothing is written.
func (s *Store) RolesNaming(permission string) ([]string, error) {
	var names string
	// One row, so one round trip over the server's driver.
	err := s.db.QueryRow(`SELECT COALESCE(string_agg(name, ' ' ORDER BY name), '') FROM (
		SELECT name FROM roles WHERE deleteat = 0 AND $1 = ANY(string_to_array(permissions, ' '))
		ORDER BY name LIMIT $2) r`, permission, maxRoles).Scan(&names)
	if err != nil {
		return nil, fmt.Errorf("list the roles that name the permission %s: %w", permission, err)
	}
	return strings.Fields(names), nil
}
