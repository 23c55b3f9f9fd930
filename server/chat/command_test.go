package chat

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

var linkPattern = regexp.MustCompile(`https://chat\.example\.com/plugins/certs/issue\?token=[A-Za-z0-9_.-]+`)

func TestCommandRegistrationHasAutocomplete(t *testing.T) {
	env := newChatEnv(t, "")
	env.api.bundle = t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(env.api.bundle, "assets"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(env.api.bundle, "assets", "icon.svg"), []byte("<svg/>"), 0o600))

	cmd := env.door.Command()
	assert.Equal(t, "cert", cmd.Trigger)
	assert.True(t, cmd.AutoComplete)
	assert.True(t, strings.HasPrefix(cmd.AutocompleteIconData, "data:image/svg+xml;base64,"))
	require.NoError(t, cmd.AutocompleteData.IsValid())
	var names []string
	for _, sub := range cmd.AutocompleteData.SubCommands {
		names = append(names, sub.Trigger)
		assert.NotEmpty(t, sub.HelpText)
		wantFetch := map[string]string{
			"revoke":   "/plugins/certs/api/v1/autocomplete/serials",
			"download": "/plugins/certs/api/v1/autocomplete/profiles",
		}[sub.Trigger]
		if wantFetch != "" {
			require.NotEmpty(t, sub.Arguments)
			dyn, ok := sub.Arguments[0].Data.(*model.AutocompleteDynamicListArg)
			require.True(t, ok)
			assert.Equal(t, wantFetch, dyn.FetchURL)
			assert.Equal(t, sub.Trigger == "revoke", sub.Arguments[0].Required)
		}
		if sub.Trigger == "revoke" {
			require.Len(t, sub.Arguments, 2, "the serial, then the reason")
			reasons, ok := sub.Arguments[1].Data.(*model.AutocompleteStaticListArg)
			require.True(t, ok)
			assert.Len(t, reasons.PossibleArguments, 5)
			assert.False(t, sub.Arguments[1].Required)
		}
		if sub.Trigger == "admin" {
			assert.Equal(t, model.SystemAdminRoleId, sub.RoleID, "shown to system admins only")
		}
	}
	assert.Equal(t, []string{"download", "csr", "enroll", "list", "import", "profiles", "renew", "revoke", "cancel", "pickup", "approve", "deny", "admin", "help", "about"}, names)
}

// Without its icon, the command is registered all the same.
func TestCommandRegistrationWithoutTheIcon(t *testing.T) {
	env := newChatEnv(t, "")
	cmd := env.door.Command()
	assert.Empty(t, cmd.AutocompleteIconData)
	assert.Contains(t, env.api.loggedLines(), "Could not load the command icon")
}

func TestCommandHelpAndUnknown(t *testing.T) {
	env := newChatEnv(t, "")
	help := env.run("alice", "/cert help")
	for _, sub := range []string{"download", "list", "revoke <serial>", "help", "about"} {
		assert.Contains(t, help, "/cert "+sub)
	}
	assert.Contains(t, help, testSiteURL+"/plugins/certs/ca.pem")
	assert.Equal(t, help, env.run("alice", "/cert"))

	unknown := env.run("alice", "/cert frobnicate")
	assert.Contains(t, unknown, "Unknown command `frobnicate`")
	assert.Contains(t, unknown, "/cert download")
}

func TestCommandAbout(t *testing.T) {
	env := newChatEnv(t, "")
	assert.Contains(t, env.run("alice", "/cert about"), "Client Certificates version: 9.8.7")
}

func TestCommandWhileMisconfigured(t *testing.T) {
	env := newChatEnv(t, "")
	msg := "Key type: unknown"
	env.current.Fail(msg)
	for _, command := range []string{"/cert download", "/cert list", "/cert renew 0a", "/cert approve r-1"} {
		reply := env.run("alice", command)
		assert.True(t, strings.HasPrefix(reply, "⚠️ "), reply)
		assert.Contains(t, reply, "administrator", command)
		assert.Contains(t, reply, msg, command)
	}
	assert.Contains(t, env.run("alice", "/cert help"), "/cert download", "help needs no services")
}

func TestCommandDownloadGivesALink(t *testing.T) {
	env := newChatEnv(t, "")
	reply := env.run("alice", "/cert download")
	link := linkPattern.FindString(reply)
	require.NotEmpty(t, link, reply)
	assert.Contains(t, reply, "(profile `default`)")
	assert.Contains(t, reply, "expires in 5 minutes")
	assert.Contains(t, reply, "]("+link+")", "a Markdown link, which Mattermost does not preview")

	csr := env.run("alice", "/cert csr")
	assert.Contains(t, csr, "[Upload my request](https://chat.example.com/plugins/certs/csr?token=")

	env.current.SetSite(nil)
	assert.Contains(t, env.run("alice", "/cert download"), "The server's Site URL is not set")
	assert.Contains(t, env.run("alice", "/cert import"), "The server's Site URL is not set")
}

func TestCommandDownloadRejectsArguments(t *testing.T) {
	env := newChatEnv(t, "")
	reply := env.run("alice", "/cert download now please")
	assert.Contains(t, reply, "usage: `/cert download [--email] [profile]`")
	assert.NotRegexp(t, linkPattern, reply)
	assert.Contains(t, env.run("alice", "/cert csr a b"), "usage: `/cert csr [profile]`")
	assert.Contains(t, env.run("alice", "/cert download --email"), "run `/cert download` for a download link",
		"only the email is refused: a link still serves")
}

func TestCommandRevokeBadArguments(t *testing.T) {
	env := newChatEnv(t, "")
	assert.Contains(t, env.run("alice", "/cert revoke"), "usage: `/cert revoke <serial> [reason]`")
	assert.Contains(t, env.run("alice", "/cert revoke a b c"), "usage")
	assert.Contains(t, env.run("alice", "/cert revoke a1 b"), `"b" is not a revocation reason`)
	assert.Contains(t, env.run("alice", "/cert revoke zz|top"), "is not a certificate serial")
	assert.Contains(t, env.run("alice", "/cert revoke 0"), "is not a certificate serial")
	assert.Contains(t, env.run("alice", "/cert revoke 1234abcd"), "No certificate")
}

func TestCommandListAndRevokeWording(t *testing.T) {
	env := newChatEnv(t, "")
	assert.Equal(t, "You have no certificates yet. Run `/cert download` to get one.", env.run("alice", "/cert list"))
	c := env.issue("alice", "")
	list := env.run("alice", "/cert list")
	assert.Contains(t, list, "| `"+c.Serial+"` | CN=alice | "+c.NotAfter.UTC().Format("2006-01-02")+" | issued | made by the server |")

	assert.Contains(t, env.run("bob", "/cert revoke "+c.Serial), "No certificate with this serial belongs to you (`"+c.Serial+"`).")
	assert.Contains(t, env.run("alice", "/cert revoke "+c.Serial+" superseded"), "is now revoked")
	assert.Contains(t, env.run("alice", "/cert revoke "+c.Serial), "already revoked (`"+c.Serial+"`).")
	assert.Contains(t, env.run("alice", "/cert list"), "| revoked |")
}

func TestCommandImportPointsToThePage(t *testing.T) {
	env := newChatEnv(t, "")
	assert.Contains(t, env.run("alice", "/cert import"), "[Register a certificate](https://chat.example.com/plugins/certs/import)")
}

// chatNext words each step in the chat; a step it has no words for is
// told in the core's.
func TestChatErrorWordsWhatToDoNext(t *testing.T) {
	assert.Equal(t, "something went wrong; please try again.", chatError(nil).Error())
	for next, words := range chatNext {
		e := &enroll.Error{Message: "No.", Next: next, Hint: "the core's words"}
		assert.Equal(t, "No. "+words, chatError(e).Error(), "the chat's words rather than the hint")
	}
	assert.Equal(t, "No. Ask an admin.", chatError(&enroll.Error{Message: "No.", Next: enroll.NextAskAdmin, Hint: "Ask an admin."}).Error())
	assert.Equal(t, "No.", chatError(&enroll.Error{Message: "No."}).Error())
	assert.Equal(t, `Profile "a\|b" 'x' gone. See 'y'.`,
		chatError(&enroll.Error{Message: "Profile \"a|b\" `x` gone.", Hint: "See `y`."}).Error(), "the core's words keep to their table cell")
}

func TestDecisionReplies(t *testing.T) {
	env := newChatEnv(t, "")
	d := env.door
	assert.Equal(t, "Your approval is recorded; the request needs 2 more approver(s).", d.approvalReply(&enroll.Decision{Remaining: 2}, nil))
	assert.Equal(t, "Request approved.", d.approvalReply(&enroll.Decision{Final: true}, nil))
	assert.Equal(t, "Request denied.", d.decisionReply(nil, "denied"))
	assert.Equal(t, "This request is already expired.", d.decisionReply(&records.ErrTransition{From: records.RequestExpired, To: records.RequestApproved}, ""))
	assert.Equal(t, "Not yours.", d.decisionReply(&enroll.Error{Code: enroll.CodeForbidden, Message: "Not yours."}, ""))
	assert.Equal(t, "The decision could not be recorded; please try again.", d.decisionReply(errors.New("disk on fire"), ""))
	assert.Equal(t, "The decision could not be recorded; please try again.", d.decisionReply(&enroll.Error{Code: enroll.CodeInternal, Message: "secret"}, ""))
	assert.Contains(t, env.api.loggedLines(), "disk on fire", "what went wrong is logged")
}

func TestKeyOriginWords(t *testing.T) {
	assert.Equal(t, "made by the server", keyOrigin(&records.Certificate{Origin: records.OriginServerKey}))
	assert.Equal(t, "your own (CSR)", keyOrigin(&records.Certificate{Origin: records.OriginCSR}))
	assert.Equal(t, "registered", keyOrigin(&records.Certificate{Origin: records.OriginImported}))
	assert.Contains(t, keyOrigin(&records.Certificate{Origin: records.OriginCSR, Attestation: &records.Attestation{Format: "yubico-piv"}}), "your own, attested by ")
}

func TestReasonsHaveHelp(t *testing.T) {
	for _, reason := range records.Reasons() {
		assert.NotEmpty(t, reasonHelp[reason], reason)
	}
}
