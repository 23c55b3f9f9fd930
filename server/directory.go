package main

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

// requesterOf is the core's view of a Mattermost account.
func requesterOf(user *model.User) *enroll.Requester {
	return &enroll.Requester{
		Principal:     sessionPrincipal(user.Id),
		Username:      user.Username,
		Email:         user.Email,
		EmailVerified: user.EmailVerified,
		DisplayName:   user.GetDisplayName(model.ShowFullName),
		Guest:         user.IsGuest(),
		Bot:           user.IsBot,
		Active:        user.DeleteAt == 0,
	}
}

// requester looks up the account a session or link names.
func (p *Plugin) requester(userID string) (*enroll.Requester, error) {
	user, appErr := p.API.GetUser(userID)
	if appErr != nil {
		return nil, appErr
	}
	return requesterOf(user), nil
}

// directory is the core's Directory over Mattermost's accounts and teams.
type directory struct{ p *Plugin }

func (d *directory) Lookup(principal records.Principal) (*enroll.Requester, error) {
	id := principal.MattermostUserID()
	if id == "" {
		return nil, fmt.Errorf("%s is not a Mattermost account", principal)
	}
	return d.p.requester(id)
}

// InAnyTeam checks membership of the teams bound to the names a profile
// lists; a name nobody bound grants nothing.
func (d *directory) InAnyTeam(r *enroll.Requester, teams []string) bool {
	for _, name := range teams {
		teamID, err := d.p.store.Binding(store.BindTeam, name)
		if err != nil || teamID == "" {
			d.p.API.LogWarn("A team named in a profile is not bound to a team", "team", name)
			continue
		}
		member, appErr := d.p.API.GetTeamMember(teamID, r.Principal.MattermostUserID())
		if appErr == nil && member != nil && member.DeleteAt == 0 {
			return true
		}
	}
	return false
}

// Approvers are the accounts bound to a profile's approver names, while
// active, or every active system admin when it lists none: those who hold
// manage_system, as IsAdmin decides, whatever role grants it. A name whose
// account is gone approves nothing, even if another account has taken the
// name since: the system admins are told.
func (d *directory) Approvers(profileName string, names []string) []records.Principal {
	var approvers []records.Principal
	if len(names) == 0 {
		for _, id := range d.p.admins.SystemAdmins() {
			approvers = append(approvers, records.MattermostUser(id))
		}
		return approvers
	}
	for _, name := range names {
		name = strings.TrimPrefix(name, "@")
		id, err := d.p.store.Binding(store.BindUser, name)
		if err != nil || id == "" {
			d.p.API.LogWarn("An approver named in a profile is not bound to an account", "profile", profileName, "username", name)
			continue
		}
		user, appErr := d.p.API.GetUser(id)
		if appErr != nil || user.DeleteAt != 0 {
			d.p.approverGone(profileName, name)
			continue
		}
		approvers = append(approvers, records.MattermostUser(id))
	}
	return approvers
}

// IsAdmin asks Mattermost's permission system, so a custom role that
// grants manage_system counts and a role merely named so does not.
func (d *directory) IsAdmin(r *enroll.Requester) bool {
	id := r.Principal.MattermostUserID()
	return id != "" && d.p.API.HasPermissionTo(id, model.PermissionManageSystem)
}

// approverGone tells the system admins that an approver's account is gone.
func (p *Plugin) approverGone(profileName, username string) {
	taken := ""
	if other, appErr := p.API.GetUserByUsername(username); appErr == nil && other.DeleteAt == 0 {
		taken = " The name now belongs to another account, which cannot approve until an administrator saves the profile again."
	}
	p.API.LogWarn("An approver named in a profile has no active account", "profile", profileName, "username", username)
	p.noticeAdmins(fmt.Sprintf("The approver @%s of the certificate profile `%s` no longer has an active account, so they cannot approve requests.%s",
		username, profileName, taken))
}

// noticeAdmins sends every system admin (systemAdmins: by permission, not
// by role name) a DM from the bot.
func (p *Plugin) noticeAdmins(message string) {
	for _, id := range p.admins.SystemAdmins() {
		if _, err := p.bot.DM(id, &model.Post{Message: message}); err != nil {
			p.API.LogWarn("Could not tell a system admin", "user_id", id, "error", err.Error())
		}
	}
}

// bindProfileNames binds the approver and team names of a catalog that
// have no binding yet: settings that came from config.json or the
// environment, which no save hook saw. A binding made once is never made
// again here; only an admin's save replaces it.
func (p *Plugin) bindProfileNames(catalog *profile.Catalog) {
	for _, name := range catalogUsernames(catalog) {
		if id, err := p.store.Binding(store.BindUser, name); err != nil || id != "" {
			continue
		}
		if user, appErr := p.API.GetUserByUsername(name); appErr == nil {
			if _, err := p.store.BindIfAbsent(store.BindUser, name, user.Id); err != nil {
				p.API.LogWarn("Could not bind an approver to their account", "username", name, "error", err.Error())
			}
		}
	}
	for _, name := range catalogTeams(catalog) {
		if id, err := p.store.Binding(store.BindTeam, name); err != nil || id != "" {
			continue
		}
		if team, appErr := p.API.GetTeamByName(name); appErr == nil {
			if _, err := p.store.BindIfAbsent(store.BindTeam, name, team.Id); err != nil {
				p.API.LogWarn("Could not bind a team to its id", "team", name, "error", err.Error())
			}
		}
	}
}

// bindSavedNames binds every approver and team name of a catalog an admin
// is saving to the account or team it names now. A name that names
// nothing refuses the save.
func (p *Plugin) bindSavedNames(catalog *profile.Catalog) error {
	for _, name := range catalogUsernames(catalog) {
		user, appErr := p.API.GetUserByUsername(name)
		if appErr != nil || user.DeleteAt != 0 || user.IsBot {
			if appErr != nil && appErr.StatusCode != http.StatusNotFound {
				return fmt.Errorf("the approver @%s could not be looked up: %s", name, appErr.Error())
			}
			return fmt.Errorf("approvers: no active user is called @%s", name)
		}
		if err := p.store.Bind(store.BindUser, name, user.Id); err != nil {
			return err
		}
	}
	for _, name := range catalogTeams(catalog) {
		team, appErr := p.API.GetTeamByName(name)
		if appErr != nil {
			if appErr.StatusCode != http.StatusNotFound {
				return fmt.Errorf("the team %q could not be looked up: %s", name, appErr.Error())
			}
			return fmt.Errorf("access.teams: no team is called %q", name)
		}
		if err := p.store.Bind(store.BindTeam, name, team.Id); err != nil {
			return err
		}
	}
	return nil
}

func catalogUsernames(catalog *profile.Catalog) []string {
	var names []string
	for _, prof := range catalog.Profiles {
		for _, name := range prof.Approvers {
			names = append(names, strings.TrimPrefix(strings.TrimSpace(name), "@"))
		}
	}
	return names
}

func catalogTeams(catalog *profile.Catalog) []string {
	var names []string
	for _, prof := range catalog.Profiles {
		names = append(names, prof.Access.Teams...)
	}
	return names
}

// sessionRequester is the signed-in account of an API request, with the
// services that serve it.
func (p *Plugin) sessionRequester(userID string) (*app.Snapshot, *enroll.Requester, error) {
	s, err := p.current.Get()
	if err != nil {
		return nil, nil, &web.Error{Status: http.StatusServiceUnavailable, Message: err.Error()}
	}
	r, err := p.requester(userID)
	if err != nil {
		return nil, nil, err
	}
	return s, r, nil
}

// sessionPrincipal is the owner principal of a signed-in Mattermost user:
// the one place a session's user id becomes a principal.
func sessionPrincipal(userID string) records.Principal { return records.MattermostUser(userID) }
