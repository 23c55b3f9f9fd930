package mattermost

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

// RequesterOf is the core's view of a Mattermost account.
func RequesterOf(user *model.User) *enroll.Requester {
	return &enroll.Requester{
		Principal:     records.MattermostUser(user.Id),
		Username:      user.Username,
		Email:         user.Email,
		EmailVerified: user.EmailVerified,
		DisplayName:   user.GetDisplayName(model.ShowFullName),
		Guest:         user.IsGuest(),
		Bot:           user.IsBot,
		Active:        user.DeleteAt == 0,
	}
}

// Requester looks up the account a session or link names.
func (d *Directory) Requester(userID string) (*enroll.Requester, error) {
	user, appErr := d.API.GetUser(userID)
	if appErr != nil {
		return nil, appErr
	}
	return RequesterOf(user), nil
}

// DirectoryAPI is what the directory needs of the server.
type DirectoryAPI interface {
	GetUser(userID string) (*model.User, *model.AppError)
	GetUserByUsername(name string) (*model.User, *model.AppError)
	GetTeamByName(name string) (*model.Team, *model.AppError)
	GetTeamMember(teamID, userID string) (*model.TeamMember, *model.AppError)
	HasPermissionTo(userID string, permission *model.Permission) bool
	LogWarn(msg string, keyValuePairs ...any)
}

// Directory is the core's Directory over Mattermost's accounts and teams.
// The names a catalog gives approvers and teams are bound to the accounts
// and teams they named when an admin saved them (Bindings), so a name taken
// over later grants nothing.
type Directory struct {
	API      DirectoryAPI
	Bindings *store.Store
	Admins   *Admins
	Notices  *AdminNotices
	// Others looks up the accounts of other kinds (the portal's), to name
	// their owners; nil names them by principal.
	Others func(records.Principal) (*enroll.Requester, error)
}

func (d *Directory) Lookup(principal records.Principal) (*enroll.Requester, error) {
	id := principal.MattermostUserID()
	if id == "" {
		return nil, fmt.Errorf("%s is not a Mattermost account", principal)
	}
	return d.Requester(id)
}

// RequesterByUsername is the account a name is now, for an administrator
// who names someone (to register a certificate for them).
func (d *Directory) RequesterByUsername(name string) (*enroll.Requester, error) {
	user, appErr := d.API.GetUserByUsername(name)
	if appErr != nil {
		return nil, appErr
	}
	return RequesterOf(user), nil
}

// Admits lets a user use a profile that names no team or admins only,
// system admins always, and members of the teams it names.
func (d *Directory) Admits(r *enroll.Requester, access profile.Access) bool {
	return access.Everyone() || d.IsAdmin(r) || d.inAnyTeam(r, access.Teams)
}

// inAnyTeam checks membership of the teams bound to the names a profile
// lists; a name nobody bound grants nothing.
func (d *Directory) inAnyTeam(r *enroll.Requester, teams []string) bool {
	for _, name := range teams {
		teamID, err := d.Bindings.Binding(store.BindTeam, name)
		if err != nil || teamID == "" {
			d.API.LogWarn("A team named in a profile is not bound to a team", "team", name)
			continue
		}
		member, appErr := d.API.GetTeamMember(teamID, r.Principal.MattermostUserID())
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
func (d *Directory) Approvers(profileName string, names []string) []records.Principal {
	var approvers []records.Principal
	if len(names) == 0 {
		for _, id := range d.Admins.SystemAdmins() {
			approvers = append(approvers, records.MattermostUser(id))
		}
		return approvers
	}
	for _, name := range names {
		name = strings.TrimPrefix(name, "@")
		id, err := d.Bindings.Binding(store.BindUser, name)
		if err != nil || id == "" {
			d.API.LogWarn("An approver named in a profile is not bound to an account", "profile", profileName, "username", name)
			continue
		}
		user, appErr := d.API.GetUser(id)
		if appErr != nil || user.DeleteAt != 0 {
			d.approverGone(profileName, name)
			continue
		}
		approvers = append(approvers, records.MattermostUser(id))
	}
	return approvers
}

// IsAdmin asks Mattermost's permission system, so a custom role that
// grants manage_system counts and a role merely named so does not.
func (d *Directory) IsAdmin(r *enroll.Requester) bool {
	id := r.Principal.MattermostUserID()
	return id != "" && d.API.HasPermissionTo(id, model.PermissionManageSystem)
}

// approverGone tells the system admins that an approver's account is gone.
func (d *Directory) approverGone(profileName, username string) {
	taken := ""
	if other, appErr := d.API.GetUserByUsername(username); appErr == nil && other.DeleteAt == 0 {
		taken = " The name now belongs to another account, which cannot approve until an administrator saves the profile again."
	}
	d.API.LogWarn("An approver named in a profile has no active account", "profile", profileName, "username", username)
	d.Notices.Send(fmt.Sprintf("The approver @%s of the certificate profile `%s` no longer has an active account, so they cannot approve requests.%s",
		username, profileName, taken))
}

// AdminNotices tells every system admin (Admins: by permission, not by
// role name) something in a DM from the bot.
type AdminNotices struct {
	Bot    *Bot
	Admins *Admins
	Log    interface {
		LogWarn(msg string, keyValuePairs ...any)
	}
}

// Send tells every system admin message.
func (n *AdminNotices) Send(message string) {
	for _, id := range n.Admins.SystemAdmins() {
		if _, err := n.Bot.DM(id, &model.Post{Message: message}); err != nil {
			n.Log.LogWarn("Could not tell a system admin", "user_id", id, "error", err.Error())
		}
	}
}

// BindProfileNames binds the approver and team names of a catalog that
// have no binding yet: settings that came from config.json or the
// environment, which no save hook saw. A binding made once is never made
// again here; only an admin's save replaces it.
func (d *Directory) BindProfileNames(catalog *profile.Catalog) {
	for _, name := range catalogUsernames(catalog) {
		if id, err := d.Bindings.Binding(store.BindUser, name); err != nil || id != "" {
			continue
		}
		if user, appErr := d.API.GetUserByUsername(name); appErr == nil {
			if _, err := d.Bindings.BindIfAbsent(store.BindUser, name, user.Id); err != nil {
				d.API.LogWarn("Could not bind an approver to their account", "username", name, "error", err.Error())
			}
		}
	}
	for _, name := range catalogTeams(catalog) {
		if id, err := d.Bindings.Binding(store.BindTeam, name); err != nil || id != "" {
			continue
		}
		if team, appErr := d.API.GetTeamByName(name); appErr == nil {
			if _, err := d.Bindings.BindIfAbsent(store.BindTeam, name, team.Id); err != nil {
				d.API.LogWarn("Could not bind a team to its id", "team", name, "error", err.Error())
			}
		}
	}
}

// BindSavedNames binds every approver and team name of a catalog an admin
// is saving to the account or team it names now. A name that names
// nothing refuses the save.
func (d *Directory) BindSavedNames(catalog *profile.Catalog) error {
	for _, name := range catalogUsernames(catalog) {
		user, appErr := d.API.GetUserByUsername(name)
		if appErr != nil || user.DeleteAt != 0 || user.IsBot {
			if appErr != nil && appErr.StatusCode != http.StatusNotFound {
				return fmt.Errorf("the approver @%s could not be looked up: %s", name, appErr.Error())
			}
			return fmt.Errorf("approvers: no active user is called @%s", name)
		}
		if err := d.Bindings.Bind(store.BindUser, name, user.Id); err != nil {
			return err
		}
	}
	for _, name := range catalogTeams(catalog) {
		team, appErr := d.API.GetTeamByName(name)
		if appErr != nil {
			if appErr.StatusCode != http.StatusNotFound {
				return fmt.Errorf("the team %q could not be looked up: %s", name, appErr.Error())
			}
			return fmt.Errorf("access.teams: no team is called %q", name)
		}
		if err := d.Bindings.Bind(store.BindTeam, name, team.Id); err != nil {
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

// OwnerName is an owner as people know them: @username for an account,
// the name and kind of another kind's account (never an @, which would
// name a Mattermost user), the principal when none is found.
func (d *Directory) OwnerName(owner records.Principal) string {
	if id := owner.MattermostUserID(); id != "" {
		if u, appErr := d.API.GetUser(id); appErr == nil {
			return "@" + u.Username
		}
	} else if d.Others != nil {
		if r, err := d.Others(owner); err == nil {
			return CodeSpan(r.Username) + " (" + owner.Kind() + ")"
		}
	}
	return MarkdownCell(string(owner))
}

// ActorName names who acted (revoked, decided): a principal as people know
// it, or the word a job of the plugin records.
func (d *Directory) ActorName(actor string) string {
	if principal := records.ActorOf(actor); principal != "" {
		return d.OwnerName(principal)
	}
	return MarkdownCell(actor)
}
