//go:build e2e

package testbed

import (
	"context"
	"fmt"
	"net/http"

	"github.com/mattermost/mattermost/server/public/model"
)

// Session is a logged-in user with a client carrying their session token.
type Session struct {
	User     *model.User
	Password string
	Client   *model.Client4
}

// Token is the session token, usable as "Authorization: Bearer <token>".
func (s *Session) Token() string { return s.Client.AuthToken }

// Email is the address the helpers give a user they create.
func Email(username string) string { return username + "@example.com" }

// CreateFirstUser signs up the very first account of a fresh server, which
// Mattermost makes a system admin, and logs it in.
func (mm *Mattermost) CreateFirstUser(ctx context.Context, username, password string) (*Session, error) {
	anonymous := mm.Client()
	if _, _, err := anonymous.CreateUser(ctx, newUser(username, password)); err != nil {
		return nil, fmt.Errorf("creating first user %q: %w", username, err)
	}
	session, err := mm.Login(ctx, username, password)
	if err != nil {
		return nil, err
	}
	if !session.User.IsSystemAdmin() {
		return nil, fmt.Errorf("first user %q is not a system admin (roles %q): was the database not empty?", username, session.User.Roles)
	}
	return session, nil
}

// Login returns a session for an existing user.
func (mm *Mattermost) Login(ctx context.Context, username, password string) (*Session, error) {
	client := mm.Client()
	user, _, err := client.Login(ctx, username, password)
	if err != nil {
		return nil, fmt.Errorf("logging in as %q: %w", username, err)
	}
	return &Session{User: user, Password: password, Client: client}, nil
}

// CreateUserInTeam creates a user with admin, adds them to the team and logs them in.
func (mm *Mattermost) CreateUserInTeam(ctx context.Context, admin *model.Client4, username, password, teamID string) (*Session, error) {
	user, _, err := admin.CreateUser(ctx, newUser(username, password))
	if err != nil {
		return nil, fmt.Errorf("creating user %q: %w", username, err)
	}
	if _, _, err := admin.AddTeamMember(ctx, teamID, user.Id); err != nil {
		return nil, fmt.Errorf("adding %q to team: %w", username, err)
	}
	return mm.Login(ctx, username, password)
}

// EnsureUser makes sure a user exists with the given password and roles
// (e.g. model.SystemAdminRoleId+" "+model.SystemUserRoleId), creating or
// updating it. client needs admin rights; the local mode client has them.
func EnsureUser(ctx context.Context, client *model.Client4, username, password, roles string) (*model.User, error) {
	user, resp, err := client.GetUserByUsername(ctx, username, "")
	switch {
	case err == nil:
		if _, err := client.UpdateUserPassword(ctx, user.Id, "", password); err != nil {
			return nil, fmt.Errorf("resetting password of %q: %w", username, err)
		}
	case resp != nil && resp.StatusCode == http.StatusNotFound:
		if user, _, err = client.CreateUser(ctx, newUser(username, password)); err != nil {
			return nil, fmt.Errorf("creating user %q: %w", username, err)
		}
	default:
		return nil, fmt.Errorf("looking up user %q: %w", username, err)
	}
	if user.Roles != roles {
		if _, err := client.UpdateUserRoles(ctx, user.Id, roles); err != nil {
			return nil, fmt.Errorf("setting roles of %q: %w", username, err)
		}
		user.Roles = roles
	}
	return user, nil
}

// EnsureTeam returns the open team with this name, creating it if needed.
func EnsureTeam(ctx context.Context, client *model.Client4, name, displayName string) (*model.Team, error) {
	team, resp, err := client.GetTeamByName(ctx, name, "")
	if err == nil {
		return team, nil
	}
	if resp == nil || resp.StatusCode != http.StatusNotFound {
		return nil, fmt.Errorf("looking up team %q: %w", name, err)
	}
	team, _, err = client.CreateTeam(ctx, &model.Team{Name: name, DisplayName: displayName, Type: model.TeamOpen})
	if err != nil {
		return nil, fmt.Errorf("creating team %q: %w", name, err)
	}
	return team, nil
}

// EnsureTeamMember adds the user to the team; adding a member twice is harmless.
func EnsureTeamMember(ctx context.Context, client *model.Client4, teamID, userID string) error {
	if _, _, err := client.AddTeamMember(ctx, teamID, userID); err != nil {
		return fmt.Errorf("adding user %s to team %s: %w", userID, teamID, err)
	}
	return nil
}

func newUser(username, password string) *model.User {
	return &model.User{Username: username, Email: Email(username), Password: password, EmailVerified: true}
}
