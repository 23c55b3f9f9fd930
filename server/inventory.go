package main

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
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
	if driver := p.client.Store.DriverName(); driver != "postgres" {
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
	if err := p.moveKVInventory(records); err != nil {
		return nil, fmt.Errorf("the certificates of the previous version could not be moved to the database: %w", err)
	}
	p.API.LogInfo("Certificate inventory ready in the Mattermost database", "schema_version", version)
	return inventory{Store: records, marks: p.store}, nil
}

// keyMarkGrace keeps a moved key claim a little past its certificate.
const keyMarkGrace = 10 * time.Minute

// moveKVInventory copies the certificate records and requests an earlier
// version kept in the KV store into the database, once for the cluster (the
// caller holds the lock). The KV records stay where they are, so that the
// earlier version, installed again, still finds what it had.
func (p *Plugin) moveKVInventory(db *sqlstore.Store) error {
	moved, err := p.store.InventoryMoved()
	if err != nil || moved != nil {
		return err
	}
	now := p.now()
	move := &store.InventoryMove{At: now.UTC().Format(time.RFC3339)}
	err = p.store.EachCertificate(func(c *records.Certificate) error {
		if c.Issuer == "" {
			c.Issuer = issuerOf(c.DER)
		}
		if err := db.CreateCertificate(c); err != nil && !errors.Is(err, records.ErrDuplicateSerial) {
			return fmt.Errorf("certificate %s: %w", c.Serial, err)
		}
		if c.KeyFingerprint != "" && now.Before(c.NotAfter) {
			holder := records.KeyHolder{Kind: records.KeyHeldByCertificate, ID: c.Serial}
			if _, _, err := db.ClaimKey(c.KeyFingerprint, holder, c.NotAfter.Sub(now)+keyMarkGrace); err != nil {
				return fmt.Errorf("the key of certificate %s: %w", c.Serial, err)
			}
		}
		move.Certificates++
		return nil
	})
	if err != nil {
		return err
	}
	err = p.store.EachRequest(func(r *records.Request) error {
		if _, err := db.GetRequest(r.ID); err == nil {
			move.Requests++
			return nil
		}
		if err := db.CreateRequest(r); err != nil {
			return fmt.Errorf("request %s: %w", r.ID, err)
		}
		if fingerprint := csrKeyFingerprint(r.CSRPEM); fingerprint != "" && !r.State.Final() {
			holder := records.KeyHolder{Kind: records.KeyHeldByRequest, ID: r.ID}
			if _, _, err := db.ClaimKey(fingerprint, holder, r.ExpiresAt.Sub(now)+enroll.RequestLifetime+enroll.PickupLinkLifetime); err != nil {
				return fmt.Errorf("the key of request %s: %w", r.ID, err)
			}
		}
		move.Requests++
		return nil
	})
	if err != nil {
		return err
	}
	if err := p.store.MarkInventoryMoved(move); err != nil {
		return err
	}
	if move.Certificates > 0 || move.Requests > 0 {
		p.API.LogInfo("Moved the certificate inventory from the KV store to the database",
			"certificates", move.Certificates, "requests", move.Requests)
	}
	return nil
}

// issuerOf names the issuer of a certificate an earlier version recorded
// without it.
func issuerOf(der []byte) string {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return "unknown"
	}
	return enroll.IssuerID(cert)
}

// csrKeyFingerprint is the fingerprint of a stored CSR's key, "" if it has
// none that can be read.
func csrKeyFingerprint(csrPEM string) string {
	block, _ := pem.Decode([]byte(csrPEM))
	if block == nil {
		return ""
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return ""
	}
	fingerprint, err := pki.PublicKeyFingerprint(csr.PublicKey)
	if err != nil {
		return ""
	}
	return fingerprint
}
