package main

import (
	"net/http"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
)

// mayUse reports whether a user may get certificates under a profile:
// everyone, members of the listed teams, and system admins where the profile
// says so. A lookup that fails refuses rather than allows.
func (p *Plugin) mayUse(userID string, prof *profile.Profile) bool {
	access := prof.Access
	if access.Everyone() {
		return true
	}
	if p.API.HasPermissionTo(userID, model.PermissionManageSystem) {
		return true
	}
	for _, name := range access.Teams {
		team, appErr := p.API.GetTeamByName(name)
		if appErr != nil {
			if appErr.StatusCode != http.StatusNotFound {
				p.API.LogWarn("Could not look up a team named in a profile", "profile", prof.Name, "team", name, "error", appErr.Error())
			}
			continue
		}
		member, appErr := p.API.GetTeamMember(team.Id, userID)
		if appErr == nil && member != nil && member.DeleteAt == 0 {
			return true
		}
	}
	return false
}

// usableProfiles lists the profiles a user may use, in catalog order.
func (p *Plugin) usableProfiles(s *services, userID string) []*profile.Profile {
	var out []*profile.Profile
	for i := range s.catalog.Profiles {
		if prof := &s.catalog.Profiles[i]; p.mayUse(userID, prof) {
			out = append(out, prof)
		}
	}
	return out
}
