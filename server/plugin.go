package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/mux"
	"github.com/mattermost/mattermost/server/public/model"
	"github.com/mattermost/mattermost/server/public/plugin"
	"github.com/mattermost/mattermost/server/public/pluginapi"
	"github.com/mattermost/mattermost/server/public/pluginapi/cluster"
	"github.com/pkg/errors"

	"github.com/clientcerts/mattermost-plugin-certs/server/admission"
	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/builtinca"
	"github.com/clientcerts/mattermost-plugin-certs/server/chat"
	"github.com/clientcerts/mattermost-plugin-certs/server/config"
	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/local"
	"github.com/clientcerts/mattermost-plugin-certs/server/mattermost"
	"github.com/clientcerts/mattermost-plugin-certs/server/observe"
	"github.com/clientcerts/mattermost-plugin-certs/server/openid"
	"github.com/clientcerts/mattermost-plugin-certs/server/portal"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

const (
	botUsername    = "certs-bot"
	botDisplayName = "Client Certificates"
)

// locker is a lock shared by every node of a cluster.
type locker interface {
	Lock()
	Unlock()
}

// Plugin is the server side of the Client Certificates plugin.
type Plugin struct {
	plugin.MattermostPlugin

	client  *pluginapi.Client
	store   *store.Store
	secrets *config.Secrets
	// inventory holds the certificate and request records (the database)
	// and the link marks (the KV store).
	inventory enroll.Inventory
	router    *mux.Router

	// now is the clock, and newMutex makes cluster-wide locks; both are
	// fields so tests can replace them.
	now      func() time.Time
	newMutex func(name string) (locker, error)

	// bot writes to people; admins finds the system admins; notices
	// tells them; dir is the core's directory of Mattermost accounts.
	bot     *mattermost.Bot
	admins  *mattermost.Admins
	notices *mattermost.AdminNotices
	dir     *mattermost.Directory
	// notifier tells Mattermost accounts; adminNotifier the system admins.
	notifier      *mattermost.Notifier
	adminNotifier *mattermost.AdminNotifier
	// mailer sends certificates by email; deactivations acts on
	// deactivated accounts' certificates.
	mailer        *mattermost.Mailer
	deactivations *mattermost.Deactivations
	requestJob    *cluster.Job
	// chat is the /cert command and the chat's buttons.
	chat *chat.Door

	// The portal's people: local accounts, and the portal door itself.
	accounts       *local.Accounts
	localDir       *local.Directory
	oidcDir        *openid.Directory
	portalNotifier *portal.Notifier
	portal         *portal.Door

	// metrics counts issuances, CA calls and revocations for ServeMetrics;
	// one registry per plugin instance.
	metrics *observe.Metrics
	// support gathers the plugin's file of a Support Packet.
	support *observe.Support
	// events records what no certificate or request change carries (a
	// settings change); nil until the inventory is open.
	events observe.EventLog
	// caKeeper loads, seals, renews and watches the CAs; nil until the
	// store is open.
	caKeeper *builtinca.Keeper

	// rsaKeys bounds RSA key generation (RSA-4096 takes about a second of
	// one core): how much runs at once, and how much may wait.
	rsaKeys *admission.Queue
	// crls signs this node's revocation lists and keeps the bytes it
	// serves, across configurations.
	crls *enroll.CRLPublisher

	// ocspResponders are the built-in CA's delegated OCSP keys of this
	// node, kept across configurations: a settings save makes no new one.
	ocspResponders *connector.OCSPResponders

	configurationLock sync.RWMutex
	configuration     *config.Configuration

	// current is the services the configuration built, and the server's
	// settings: what every door reads.
	current *app.Current
}

// NewPlugin returns a plugin ready to be served.
func NewPlugin() *Plugin {
	p := &Plugin{
		now:            time.Now,
		current:        &app.Current{},
		rsaKeys:        enroll.NewRSAKeyQueue(),
		crls:           enroll.NewCRLPublisher(),
		ocspResponders: connector.NewOCSPResponders(),
	}
	p.metrics = observe.NewMetrics(manifest.Version, p.countCertificates, func() time.Time { return p.now() })
	p.support = &observe.Support{
		PluginID:      manifest.Id,
		PluginVersion: manifest.Version,
		ServerVersion: func() string { return p.API.GetServerVersion() },
		Config:        p.getConfiguration,
		Current:       p.current,
		Records:       func() observe.SupportRecords { return p.inventory },
		Now:           func() time.Time { return p.now() },
	}
	return p
}

// newCAKeeper is the keeper of the CAs over the open store.
func (p *Plugin) newCAKeeper() *builtinca.Keeper {
	return &builtinca.Keeper{
		Store:        p.store,
		NewMutex:     func(name string) (builtinca.Locker, error) { return p.newMutex(name) },
		Now:          func() time.Time { return p.now() },
		Log:          p.API,
		Current:      p.current,
		PluginID:     manifest.Id,
		NoticeAdmins: func(message string) { p.notices.Send(message) },
		Publish:      p.API.PublishPluginClusterEvent,
		Rebuild:      func() { p.applyConfiguration(p.getConfiguration()) },
	}
}

// countCertificates counts the certificates by state for the metrics.
func (p *Plugin) countCertificates() (records.StateCounts, error) {
	if p.inventory == nil {
		return records.StateCounts{}, errors.New("the inventory is not open")
	}
	return p.inventory.CountCertificates(p.now())
}

// OnActivate wires the plugin to the server: secrets, bot, CA, command, routes.
func (p *Plugin) OnActivate() error {
	p.client = pluginapi.NewClient(p.API, p.Driver)
	p.store = store.New(&p.client.KV)
	p.secrets = &config.Secrets{KV: p.store, Now: func() time.Time { return p.now() }}
	if p.newMutex == nil {
		p.newMutex = func(name string) (locker, error) { return cluster.NewMutex(p.API, name) }
	}
	p.caKeeper = p.newCAKeeper()

	if err := p.ensureSecrets(); err != nil {
		return errors.Wrap(err, "failed to generate the plugin's secrets")
	}

	botID, err := p.client.Bot.EnsureBot(&model.Bot{
		Username:    botUsername,
		DisplayName: botDisplayName,
		Description: "Issues client certificates. Type /cert help.",
	}, pluginapi.ProfileImagePath("assets/bot.png"))
	if err != nil {
		return errors.Wrap(err, "failed to ensure the bot account")
	}
	p.buildAdapters(botID)

	if p.inventory, err = p.openInventory(); err != nil {
		return err
	}

	p.router = p.newRouter()
	p.applyConfiguration(p.getConfiguration())

	if err := p.client.SlashCommand.Register(p.chat.Command()); err != nil {
		return errors.Wrap(err, "failed to register the /cert command")
	}
	if err := p.scheduleJobs(); err != nil {
		return errors.Wrap(err, "failed to schedule the request job")
	}
	return nil
}

// OnDeactivate drops the derived state so nothing outlives the plugin.
func (p *Plugin) OnDeactivate() error {
	p.current.Store(nil)
	if p.requestJob != nil {
		if err := p.requestJob.Close(); err != nil {
			p.API.LogWarn("Could not stop the request job", "error", err.Error())
		}
	}
	return nil
}

// OnPluginClusterEvent loads the issuing CA another node made.
func (p *Plugin) OnPluginClusterEvent(_ *plugin.Context, ev model.PluginClusterEvent) {
	p.caKeeper.OnClusterEvent(ev)
}

// ServeMetrics answers the server's metrics listener at
// /plugins/certs/metrics (MetricsSettings.Enable), which is not the public
// listener and has no session.
func (p *Plugin) ServeMetrics(_ *plugin.Context, w http.ResponseWriter, r *http.Request) {
	p.metrics.ServeHTTP(w, r)
}

// GenerateSupportData adds certs/support.yaml to a Support Packet: what
// support needs to understand a set-up, without a secret.
func (p *Plugin) GenerateSupportData(_ *plugin.Context) ([]*model.FileData, error) {
	return p.support.Files()
}

// buildAdapters makes the core's Mattermost ports (the bot's messages, the
// system admins, the directory of accounts) and the chat door over them.
func (p *Plugin) buildAdapters(botID string) {
	p.bot = &mattermost.Bot{API: p.API, ID: botID}
	p.admins = &mattermost.Admins{API: p.API}
	p.notices = &mattermost.AdminNotices{Bot: p.bot, Admins: p.admins, Log: p.API}
	p.dir = &mattermost.Directory{API: p.API, Bindings: p.store, Admins: p.admins, Notices: p.notices}
	p.notifier = &mattermost.Notifier{API: p.API, Bot: p.bot, Names: p.dir, Current: p.current,
		EmailNotifications: func() bool { return p.getConfiguration().EmailNotifications },
		ReminderSent:       p.metrics.ReminderSent}
	p.adminNotifier = &mattermost.AdminNotifier{Notices: p.notices, Names: p.dir}
	p.deactivations = &mattermost.Deactivations{API: p.API, Current: p.current, Marks: p.store, Notices: p.notices}
	p.mailer = &mattermost.Mailer{API: p.API, Secrets: p.secrets, Current: p.current}
	p.localDir = &local.Directory{Store: p.store}
	p.oidcDir = &openid.Directory{Store: p.store}
	p.dir.Others = p.lookup
	p.accounts = &local.Accounts{Store: p.store, Now: p.now, Throttle: &local.Throttle{Store: p.store, Now: p.now}, Factors: p.store,
		PasswordChecks: local.NewPasswordChecks(),
		Removed:        func(owner *enroll.Requester) { p.deactivations.HandleRequester(context.Background(), owner) }}
	p.portalNotifier = &portal.Notifier{Current: p.current, Log: p.API, ReminderSent: p.metrics.ReminderSent,
		Mail: func(to, subject, body string) error {
			if appErr := p.API.SendMail(to, subject, body); appErr != nil {
				return appErr
			}
			return nil
		}}
	p.chat = &chat.Door{API: p.API, Current: p.current, Directory: p.dir, BotID: botID, Manifest: manifest,
		Now: func() time.Time { return p.now() }, Accounts: p.accounts}
}

// lookup finds a principal of any kind in the directory of its kind.
func (p *Plugin) lookup(principal records.Principal) (*enroll.Requester, error) {
	switch principal.Kind() {
	case records.KindMattermost:
		return p.dir.Lookup(principal)
	case local.KindLocal:
		return p.localDir.Lookup(principal)
	case records.KindOIDC:
		return p.oidcDir.Lookup(principal)
	}
	return nil, fmt.Errorf("no directory knows principals of kind %q", principal.Kind())
}

// ExecuteCommand runs /cert.
func (p *Plugin) ExecuteCommand(_ *plugin.Context, args *model.CommandArgs) (*model.CommandResponse, *model.AppError) {
	return p.chat.Execute(args)
}

// UserHasBeenDeactivated acts on the certificates of a deactivated user as
// the settings say, and tells the system admins.
func (p *Plugin) UserHasBeenDeactivated(_ *plugin.Context, user *model.User) {
	p.deactivations.Handle(context.Background(), user)
}
