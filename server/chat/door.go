// Package chat is the plugin's door in Mattermost's chat: the /cert
// command, the buttons of the bot's messages (approve, deny, renew) with
// the dialog that asks why a request is denied, and the lists the
// command's autocomplete fetches. Replies are the bot's ephemeral posts,
// worded here; what may be done is the core's to decide.
package chat

import (
	"net/http"
	"time"

	"github.com/gorilla/mux"
	"github.com/mattermost/mattermost/server/public/model"
	"github.com/mattermost/mattermost/server/public/plugin"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/local"
	"github.com/clientcerts/mattermost-plugin-certs/server/mattermost"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"
)

// API is what the chat door needs of the Mattermost server.
type API interface {
	// SendEphemeralPost answers a command, visible to its user only.
	SendEphemeralPost(userID string, post *model.Post) *model.Post
	// OpenInteractiveDialog asks an approver why they deny a request.
	OpenInteractiveDialog(dialog model.OpenDialogRequest) *model.AppError
	// HasPermissionTo tells who may run /cert admin.
	HasPermissionTo(userID string, permission *model.Permission) bool
	// GetUserByUsername reads the @user of /cert admin list.
	GetUserByUsername(name string) (*model.User, *model.AppError)
	// GetBundlePath finds the command's icon.
	GetBundlePath() (string, error)
	// LogAuditRec records renewals.
	LogAuditRec(rec *model.AuditRecord)
	// SendMail sends a new local account its set-password link.
	SendMail(to, subject, htmlBody string) *model.AppError
	// PublishWebSocketEvent opens the web app's enroll modal.
	PublishWebSocketEvent(event string, payload map[string]any, broadcast *model.WebsocketBroadcast)
	LogWarn(msg string, keyValuePairs ...any)
	LogError(msg string, keyValuePairs ...any)
}

var _ API = plugin.API(nil)

// Directory is who people are: the accounts that run commands and click
// buttons, and the names owners and actors are shown by.
type Directory interface {
	Requester(userID string) (*enroll.Requester, error)
	Lookup(principal records.Principal) (*enroll.Requester, error)
	OwnerName(owner records.Principal) string
	ActorName(actor string) string
}

var _ Directory = (*mattermost.Directory)(nil)

// Door serves /cert and the chat's buttons from the services in use.
type Door struct {
	API     API
	Current *app.Current
	// Directory is the directory of Mattermost accounts.
	Directory Directory
	// BotID is the account replies come from.
	BotID string
	// Manifest names the plugin (its routes) and its version.
	Manifest *model.Manifest
	Now      func() time.Time
	// Accounts are the portal's local accounts, which /cert admin local
	// manages; nil when there are none.
	Accounts *local.Accounts
}

// Routes of the command's dynamic autocomplete, relative to the plugin's
// root; Mattermost fetches them for the user typing.
const (
	RouteAutocompleteSerials  = "/api/v1/autocomplete/serials"
	RouteAutocompleteProfiles = "/api/v1/autocomplete/profiles"
)

// Mount adds the routes of the buttons, the deny dialog and the
// autocomplete to r, the plugin's root router. Mattermost calls them with
// the signed-in user of the session.
func (d *Door) Mount(r *mux.Router) {
	api := func(h web.APIHandler) http.Handler { return web.API(d.API, web.MattermostSession, h) }
	r.Handle(mattermost.ActionApprove, api(d.handleApproveAction)).Methods(http.MethodPost)
	r.Handle(mattermost.ActionDeny, api(d.handleDenyAction)).Methods(http.MethodPost)
	r.Handle(mattermost.DialogDenySubmit, api(d.handleDenyDialog)).Methods(http.MethodPost)
	r.Handle(mattermost.DialogEnrollSubmit, api(d.handleEnrollDialog)).Methods(http.MethodPost)
	r.Handle(mattermost.ActionRenew, api(d.handleRenewAction)).Methods(http.MethodPost)
	r.Handle(RouteAutocompleteSerials, api(d.handleAutocompleteSerials)).Methods(http.MethodGet)
	r.Handle(RouteAutocompleteProfiles, api(d.handleAutocompleteProfiles)).Methods(http.MethodGet)
}

// callers resolves a signed-in user of a route: a plugin that cannot
// serve now is a 503.
func (d *Door) callers() *web.Callers {
	return &web.Callers{Current: d.Current, Lookup: d.Directory.Lookup}
}

// site is the server's settings as last read.
func (d *Door) site() *app.Site { return d.Current.Site() }

// pluginPath is the path of a route of the plugin on this server.
func (d *Door) pluginPath(route string) string { return "/plugins/" + d.Manifest.Id + route }
