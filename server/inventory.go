package main

import (
	"fmt"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/sqlstore"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

// inventory is the core's Inventory: certificate and request records in the
// Mattermost database, link marks in the KV store.
type inventory struct {
	*sqlstore.Store
	marks *store.Store
}

func (i inventory) ClaimToken(id string, ttl time.Duration) (bool, error) {
	return i.marks.ClaimToken(id, ttl)
}

func (i inventory) ReleaseToken(id string) error { return i.marks.ReleaseToken(id) }

func (i inventory) TokenUsed(id string) (bool, error) { return i.marks.TokenUsed(id) }

// openInventory opens the records in the server's database: PostgreSQL
// only, the schema migrated under a cluster-wide lock, and the records of
// earlier versions moved out of the KV store, once.
func (p *Plugin) openInventory() (enroll.Inventory, error) {
	driver := ""
	if cfg := p.API.GetConfig(); cfg != nil {
		driver = model.SafeDereference(cfg.SqlSettings.DriverName)
	}
	if driver != model.DatabaseDriverPostgres {
		return nil, fmt.Errorf("this plugin keeps its certificates in the Mattermost database and needs PostgreSQL; this server uses %q", driver)
	}
	db, err := p.client.Store.GetMasterDB()
	if err != nil {
		return nil, fmt.Errorf("open the Mattermost database: %w", err)
	}
	lock, err := p.newMutex("certs-inventory")
	if err != nil {
		return nil, err
	}
	version, err := sqlstore.Migrate(db, lock, p.now)
	if err != nil {
		return nil, fmt.Errorf("the database schema could not be brought up to date: %w", err)
	}
	records := sqlstore.New(db, p.now)
	lock.Lock()
	defer lock.Unlock()
	moved, err := records.MoveFromKV(p.store, enroll.RequestLifetime+enroll.PickupLinkLifetime)
	if err != nil {
		return nil, fmt.Errorf("the certificates of the previous version could not be moved to the database: %w", err)
	}
	if moved != nil && (moved.Certificates > 0 || moved.Requests > 0) {
		p.API.LogInfo("Moved the certificate inventory from the KV store to the database",
			"certificates", moved.Certificates, "requests", moved.Requests)
	}
	if err := records.MoveCRLsFromKV(p.store); err != nil {
		return nil, fmt.Errorf("the revocation lists of the previous version could not be moved to the database: %w", err)
	}
	p.API.LogInfo("Certificate inventory ready in the Mattermost database", "schema_version", version)
	p.events = records
	p.admins.RoleNames = records.RolesNaming
	return inventory{Store: records, marks: p.store}, nil
}
