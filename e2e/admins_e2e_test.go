//go:build e2e

package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// adminUser is the suite's system admin as a testUser, to run commands as
// it; its WebSocket closes when the test ends.
func adminUser(t *testing.T) *testUser {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	townSquare, _, err := bed.admin.Client.GetChannelByName(ctx, model.DefaultChannelName, bed.team.Id, "")
	require.NoError(t, err)
	ws, err := bed.mm.ConnectWebSocket(bed.admin.Token())
	require.NoError(t, err)
	t.Cleanup(ws.Close)
	return &testUser{Session: bed.admin, ws: ws, townSquareID: townSquare.Id}
}

// grantManageSystemThroughRole makes u an admin the way a role of the
// server's own can: a role that is not system_admin but grants
// manage_system, held by u, until the test ends. Mattermost's REST API
// refuses to add manage_system to any role (api4's notAllowedPermissions),
// so the role is written into the server's roles table, as a server
// upgraded from an older version or changed by its operator has it; it is
// new, so no cache of the server holds an older copy. It is given to u
// through the REST API, which checks that it exists.
func grantManageSystemThroughRole(t *testing.T, u *testUser) string {
	t.Helper()
	role := fmt.Sprintf("certs_keepers_%d", userSequence.Add(1))
	db, err := sql.Open("postgres", bed.pg.DSN())
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	now := time.Now().UnixMilli()
	_, err = db.ExecContext(ctx, `INSERT INTO roles (id, name, displayname, description, createat, updateat, deleteat, permissions, schememanaged, builtin)
		VALUES ($1, $2, 'Certificate keepers', 'manage_system without system_admin', $3, $3, 0, $4, false, false)`,
		model.NewId(), role, now, model.PermissionManageSystem.Id)
	require.NoError(t, err)
	_, err = bed.admin.Client.UpdateUserRoles(ctx, u.User.Id, model.SystemUserRoleId+" "+role)
	require.NoError(t, err)
	t.Cleanup(func() {
		defer func() { _ = db.Close() }()
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		defer cancel()
		_, err := bed.admin.Client.UpdateUserRoles(ctx, u.User.Id, model.SystemUserRoleId)
		assert.NoError(t, err)
		_, err = db.ExecContext(ctx, `DELETE FROM roles WHERE name = $1`, role)
		assert.NoError(t, err)
	})
	return role
}

// requireApprovalButtons checks that post is an approval message with the
// Approve and Deny buttons.
func requireApprovalButtons(t *testing.T, post *model.Post) {
	t.Helper()
	attachments := post.Attachments()
	require.Len(t, attachments, 1, post.Message)
	var ids []string
	for _, action := range attachments[0].Actions {
		ids = append(ids, action.Id)
	}
	require.Equal(t, []string{"approve", "deny"}, ids, post.Message)
}

// TestDefaultApproversByPermissionThroughTheServer: a profile without
// approvers asks everyone who holds manage_system, through whatever role.
// keeper holds it through a role of the server's that is not system_admin:
// the bot asks them, with the buttons, and a system admin's own request
// goes to them instead of being refused, and their click approves it.
func TestDefaultApproversByPermissionThroughTheServer(t *testing.T) {
	requireBed(t)
	requireBot(t)
	keeper := newTestUser(t, "keeper")
	grantManageSystemThroughRole(t, keeper)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Mattermost itself takes keeper for an admin: listing every role
	// needs manage_system.
	_, _, err := keeper.Client.GetAllRoles(ctx)
	require.NoError(t, err, "the role must grant manage_system through the server's permission system")

	require.NoError(t, withPluginSettings(t, func(s map[string]any) {
		s["connectorsandprofiles"] = `{"profiles": [{"name": "default"}, {"name": "guarded", "requires_approval": true}]}`
	}))
	asker := newTestUser(t, "asker")
	waitForProfiles(t, asker, "default", "guarded")

	reply := asker.runCommand(t, "/cert download guarded")
	require.Contains(t, reply.Message, "need an approver", reply.Message)
	id := requestIDInReply.FindStringSubmatch(reply.Message)[1]
	requireApprovalButtons(t, botDM(t, keeper.Session, func(p *model.Post) bool { return strings.Contains(p.Message, id) }))

	// The suite's system admin asks: keeper decides.
	admin := adminUser(t)
	reply = admin.runCommand(t, "/cert download guarded")
	require.Contains(t, reply.Message, "need an approver", "a system admin's own request goes to the other admins: %s", reply.Message)
	own := requestIDInReply.FindStringSubmatch(reply.Message)[1]
	post := botDM(t, keeper.Session, func(p *model.Post) bool { return strings.Contains(p.Message, own) })
	requireApprovalButtons(t, post)
	_, err = keeper.Client.DoPostActionWithCookie(ctx, post.Id, "approve", "", "")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return requestState(t, admin, own) == "approved" }, replyTimeout, 200*time.Millisecond)

	// Mattermost offers keeper the admin commands too: its autocomplete
	// shows what is marked system_admin to whoever holds manage_system.
	assert.Contains(t, suggestionItems(autocompleteSuggestions(t, keeper, "/cert ")), "admin")
}
