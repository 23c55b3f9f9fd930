//go:build e2e

package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	_ "github.com/lib/pq"
)

// The inventory scenario fills the database with many certificates and
// times the queries an inventory must answer, through the plugin (its HTTP
// routes, its database driver over RPC), as admins and users meet them.

// inventoryStats is what the inventory scenario measured.
type inventoryStats struct {
	certificates, owners int
	seeded               time.Duration
	ops                  []opStats
	// pages is the walk through the whole admin listing, a page at a time.
	pages        opStats
	pageSize     int
	firstPage    time.Duration
	lastPage     time.Duration
	listedInWalk int
	// kv says the records were in the KV layout of 0.1.
	kv bool
	// before is how many certificates the flows had issued already.
	before int
}

// seedInventory writes n certificates for owners principals straight into
// the plugin's table (one statement), the first of them the accounts', and
// says how many were there before.
func seedInventory(ctx context.Context, dsn string, n, owners int, accounts []*account) (time.Duration, int, error) {
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	var before int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM certs_certificates`).Scan(&before); err != nil {
		return 0, 0, err
	}
	took, err := seedTable(ctx, db, n, owners, accounts)
	return took, before, err
}

// seedTable writes the certificates: one statement, then what autovacuum
// would do after it.
func seedTable(ctx context.Context, db *sql.DB, n, owners int, accounts []*account) (time.Duration, error) {
	der, err := benchCertificateDER()
	if err != nil {
		return 0, err
	}
	ids := principalArray(accounts)
	now := time.Now().UnixMilli()
	started := time.Now()
	// Certificate g belongs to owner g mod owners: the accounts' when that
	// is one of theirs. It expires within a year, spread evenly; one in
	// twenty is revoked.
	_, err = db.ExecContext(ctx, `INSERT INTO certs_certificates (serial, issuer, connector, owner, subject, common_name,
			key_fingerprint, key_type, fingerprint, origin, profile, not_before, not_after, state, der, created_at)
		SELECT 'b' || lpad(to_hex(g), 10, '0'), 'bench', 'builtin',
			CASE WHEN g % $2 < $3 THEN ($4::text[])[g % $2 + 1] ELSE 'mm:bench' || (g % $2) END,
			'CN=bench' || g, 'bench' || g, 'key' || g, 'ecdsa-p256', 'fp' || g, 'server_key', 'default',
			$5::bigint - 86400000, $5::bigint + (g % 365) * 86400000::bigint + 3600000,
			CASE WHEN g % 20 = 0 THEN 'revoked' ELSE 'issued' END, $6, $5::bigint - g
		FROM generate_series(1, $1) AS g`, n, owners, len(accounts), ids, now, der)
	if err != nil {
		return 0, fmt.Errorf("seed the inventory: %w", err)
	}
	// What autovacuum does after such a write: statistics, and the
	// visibility map that lets counts read the index alone.
	if _, err := db.ExecContext(ctx, `VACUUM ANALYZE certs_certificates`); err != nil {
		return 0, err
	}
	return time.Since(started), nil
}

// inventory seeds the database and measures the queries through the plugin.
func (l *load) inventory(ctx context.Context) (*inventoryStats, error) {
	st := &inventoryStats{certificates: l.o.inventory, owners: l.o.inventory / 10, pageSize: 100}
	fmt.Printf("Inventory: %d certificates for %d owners, then its queries through the plugin\n", st.certificates, st.owners)
	var err error
	if st.seeded, st.before, err = seedInventory(ctx, l.t.dsn, st.certificates, st.owners, l.accounts); err != nil {
		return nil, err
	}
	admin := &account{token: l.t.admin.AuthToken}
	api := "/plugins/" + pluginID + "/api/v1"
	get := func(a *account, path string, out any) error {
		return l.t.srv.do(ctx, a, http.MethodGet, api+path, "", nil, http.StatusOK, out)
	}
	const n = 200
	st.ops = append(st.ops, l.measureOp(ctx, "one owner's certificates (GET /certificates as the owner)", n, func(a *account) error {
		var list []struct{ Serial string }
		if err := get(a, "/certificates", &list); err != nil {
			return err
		}
		if len(list) < st.certificates/st.owners {
			return fmt.Errorf("%s has %d certificates, not %d", a.name, len(list), st.certificates/st.owners)
		}
		return nil
	}))
	st.ops = append(st.ops, l.measureOp(ctx, "one certificate by serial (GET /admin/certificates/{serial})", n, func(*account) error {
		return get(admin, fmt.Sprintf("/admin/certificates/b%010x", 1+mrand.IntN(st.certificates)), nil)
	}))
	st.ops = append(st.ops, l.measureOp(ctx, "counts by state (GET /admin/counts)", n/4, func(*account) error {
		var counts struct{ Issued, Expired, Revoked int }
		if err := get(admin, "/admin/counts", &counts); err != nil {
			return err
		}
		if counts.Issued+counts.Expired+counts.Revoked < st.certificates {
			return fmt.Errorf("the counts (%+v) miss certificates", counts)
		}
		return nil
	}))
	st.ops = append(st.ops, l.measureOp(ctx, "expiring within 30 days, first page of 100", n, func(*account) error {
		var page struct{ Certificates []struct{ Serial string } }
		if err := get(admin, "/admin/certificates?expiring_within_days=30&limit=100", &page); err != nil {
			return err
		}
		if len(page.Certificates) != 100 {
			return fmt.Errorf("expiring: %d certificates on the first page", len(page.Certificates))
		}
		return nil
	}))
	st.ops = append(st.ops, l.measureOp(ctx, "revoked ones, first page of 100", n, func(*account) error {
		return get(admin, "/admin/certificates?state=revoked&limit=100", nil)
	}))

	// The whole admin listing, page after page, one at a time.
	st.pages = opStats{name: fmt.Sprintf("the whole admin listing, %d a page", st.pageSize), latency: &latencies{}, errors: &errorLog{}}
	before := l.t.meter.sample()
	after := ""
	for ctx.Err() == nil {
		var page struct {
			Certificates []struct{ Serial string }
			Next         string
		}
		start := time.Now()
		err := get(admin, fmt.Sprintf("/admin/certificates?limit=%d&after=%s", st.pageSize, url.QueryEscape(after)), &page)
		took := time.Since(start)
		if err != nil {
			st.pages.errors.add(err)
			break
		}
		st.pages.latency.add(took)
		if st.pages.requests == 0 {
			st.firstPage = took
		}
		st.lastPage = took
		st.pages.requests++
		st.listedInWalk += len(page.Certificates)
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	if st.pages.requests > 0 {
		st.pages.cpu = l.t.meter.sample().sub(before).div(st.pages.requests)
	}
	return st, nil
}

// seedKVInventory writes n certificates for owners principals as versions
// up to 0.1 kept them, in the plugin KV store: a key per record and an
// index per owner (one statement each). It is for measuring that layout
// against the database's, with that version's bundle.
func seedKVInventory(ctx context.Context, dsn string, n, owners int, accounts []*account) (time.Duration, error) {
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	der, err := benchCertificateDER()
	if err != nil {
		return 0, err
	}
	ids := principalArray(accounts)
	started := time.Now()
	_, err = db.ExecContext(ctx, `CREATE TEMPORARY TABLE bench_certs AS
		SELECT 'b' || lpad(to_hex(g), 10, '0') AS serial,
			CASE WHEN g % $2 < $3 THEN ($4::text[])[g % $2 + 1] ELSE 'mm:bench' || (g % $2) END AS owner, g
		FROM generate_series(1, $1) AS g`, n, owners, len(accounts), ids)
	if err != nil {
		return 0, fmt.Errorf("seed the KV inventory: %w", err)
	}
	_, err = db.ExecContext(ctx, `INSERT INTO pluginkeyvaluestore (pluginid, pkey, pvalue, expireat)
		SELECT 'certs', 'cert:' || serial, convert_to(json_build_object(
			'serial', serial, 'owner', owner, 'subject', 'CN=bench' || g, 'common_name', 'bench' || g,
			'not_before', now() - interval '1 day', 'not_after', now() + (g % 365) * interval '1 day' + interval '1 hour',
			'connector', 'builtin', 'profile', 'default', 'key_type', 'ecdsa-p256', 'fingerprint_sha256', 'fp' || g,
			'state', CASE WHEN g % 20 = 0 THEN 'revoked' ELSE 'issued' END, 'created_at', now(),
			'der', encode($1::bytea, 'base64'), 'origin', 'server_key')::text, 'UTF8'), 0
		FROM bench_certs`, der)
	if err != nil {
		return 0, fmt.Errorf("seed the KV inventory: %w", err)
	}
	_, err = db.ExecContext(ctx, `INSERT INTO pluginkeyvaluestore (pluginid, pkey, pvalue, expireat)
		SELECT 'certs', 'owner:' || owner || ':certs', convert_to(json_agg(serial ORDER BY g)::text, 'UTF8'), 0
		FROM bench_certs GROUP BY owner`)
	if err != nil {
		return 0, fmt.Errorf("seed the KV inventory: %w", err)
	}
	if _, err := db.ExecContext(ctx, `VACUUM ANALYZE pluginkeyvaluestore`); err != nil {
		return 0, err
	}
	return time.Since(started), nil
}

// inventoryKV measures what the KV layout of 0.1 can answer over many
// certificates: one owner's list (an index read and a read per record).
// Counting, expiry and an admin listing it could only answer by reading
// every record; the report gives the cost of one read to scale them.
func (l *load) inventoryKV(ctx context.Context) (*inventoryStats, error) {
	st := &inventoryStats{certificates: l.o.inventory, owners: l.o.inventory / 10, kv: true}
	fmt.Printf("Inventory (the KV layout of 0.1): %d certificates for %d owners\n", st.certificates, st.owners)
	var err error
	if st.seeded, err = seedKVInventory(ctx, l.t.dsn, st.certificates, st.owners, l.accounts); err != nil {
		return nil, err
	}
	st.ops = append(st.ops, l.measureOp(ctx, "one owner's certificates (GET /certificates as the owner)", 200, func(a *account) error {
		var list []struct{ Serial string }
		if err := l.t.srv.do(ctx, a, http.MethodGet, "/plugins/"+pluginID+"/api/v1/certificates", "", nil, http.StatusOK, &list); err != nil {
			return err
		}
		if len(list) < st.certificates/st.owners {
			return fmt.Errorf("%s has %d certificates, not %d", a.name, len(list), st.certificates/st.owners)
		}
		return nil
	}))
	return st, nil
}

// benchCertificateDER is the one certificate every seeded record carries.
func benchCertificateDER() ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	template := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	return x509.CreateCertificate(rand.Reader, template, template, key.Public(), key)
}

// principalArray is the accounts' principals as a PostgreSQL text array.
func principalArray(accounts []*account) string {
	ids := make([]string, len(accounts))
	for i, a := range accounts {
		ids[i] = `"mm:` + a.id + `"`
	}
	return "{" + strings.Join(ids, ",") + "}"
}
