package mattermost

import (
	"slices"

	"github.com/mattermost/mattermost/server/public/model"
)

// AdminsAPI is what finding the system admins needs of the server.
type AdminsAPI interface {
	GetUsers(options *model.UserGetOptions) ([]*model.User, *model.AppError)
	HasPermissionTo(userID string, permission *model.Permission) bool
	RolesGrantPermission(roleNames []string, permissionID string) bool
	LogWarn(msg string, keyValuePairs ...any)
	LogError(msg string, keyValuePairs ...any)
}

// Admins finds the accounts that may administer the plugin: those that
// hold manage_system, asked of the server each time.
type Admins struct {
	API AdminsAPI
	// RoleNames lists the server's roles whose permissions name a
	// permission (candidates for SystemAdmins); nil until the inventory is
	// open, when the built-in roles are asked about instead.
	RoleNames func(permission string) ([]string, error)
}

const (
	// adminPageSize and maxAdminPages bound the listing of each role's
	// holders: 2,000 accounts a role, more than any server has admins.
	adminPageSize = 200
	maxAdminPages = 10
)

// systemAdmins are the ids of the active accounts that hold manage_system,
// found through the permission system as IsAdmin decides it, so that whom
// the plugin asks and tells is whom it lets decide: the roles that grant
// the permission, whatever they are called, then their active holders,
// each confirmed with HasPermissionTo. A role named system_admin that
// grants nothing would count for nothing. Bots are never admins here (the
// core never lets one decide). Nothing is cached: each call asks afresh,
// on whichever node it runs.
func (a *Admins) SystemAdmins() []string {
	permission := model.PermissionManageSystem
	var ids []string
	seen := map[string]bool{}
	for _, role := range a.rolesGranting(permission) {
		for page := 0; ; page++ {
			if page == maxAdminPages {
				a.API.LogWarn("More accounts hold a role that grants manage_system than the plugin lists; only the first are asked and told as admins", "role", role, "accounts", page*adminPageSize)
				break
			}
			// Role filters by a substring of the account's roles; the
			// permission check below keeps only true holders.
			users, appErr := a.API.GetUsers(&model.UserGetOptions{Role: role, Active: true, Page: page, PerPage: adminPageSize})
			if appErr != nil {
				a.API.LogError("Could not list the holders of a role that grants manage_system", "role", role, "error", appErr.Error())
				break
			}
			for _, u := range users {
				if seen[u.Id] || u.IsBot || u.DeleteAt != 0 {
					continue
				}
				seen[u.Id] = true
				if a.API.HasPermissionTo(u.Id, permission) {
					ids = append(ids, u.Id)
				}
			}
			if len(users) < adminPageSize {
				break
			}
		}
	}
	return ids
}

// fallbackRoles are the roles asked about when the server's roles cannot
// be listed (or none is listed, which no server has: system_admin grants
// manage_system): the built-in ones, which cover every server whose admins
// are made in the System Console.
var fallbackRoles = append(slices.Clone(model.BuiltInSchemeManagedRoleIDs), model.SystemCustomGroupAdminRoleId)

// rolesGranting are the names of the server's roles that grant permission,
// as the permission system says: the roles whose permissions name it are
// only candidates, each asked about on its own.
func (a *Admins) rolesGranting(permission *model.Permission) []string {
	candidates := fallbackRoles
	if a.RoleNames != nil {
		named, err := a.RoleNames(permission.Id)
		switch {
		case err != nil:
			a.API.LogWarn("Could not list the server's roles; asking about the built-in ones", "error", err.Error())
		case len(named) > 0:
			candidates = named
		}
	}
	var granting []string
	for _, role := range candidates {
		if a.API.RolesGrantPermission([]string{role}, permission.Id) {
			granting = append(granting, role)
		}
	}
	return granting
}
