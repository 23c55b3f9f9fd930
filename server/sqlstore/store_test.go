//go:build e2e

package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

var alice = records.MattermostUser("alice")

func TestMigrateFromAnEmptyDatabaseIsIdempotent(t *testing.T) {
	db := newDatabase(t)
	clock := &testClock{now: time.Now()}
	version, err := Migrate(db, &sync.Mutex{}, clock.Now)
	require.NoError(t, err)
	all, err := migrations()
	require.NoError(t, err)
	assert.Equal(t, latestVersion(all), version)

	again, err := Migrate(db, &sync.Mutex{}, clock.Now)
	require.NoError(t, err)
	assert.Equal(t, version, again)
	var rows int
	require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM certs_schema_migrations`).Scan(&rows))
	assert.Equal(t, len(all), rows)
	for _, table := range []string{"certs_certificates", "certs_requests", "certs_key_claims", "certs_events"} {
		var exists bool
		require.NoError(t, db.QueryRow(`SELECT to_regclass($1) IS NOT NULL`, table).Scan(&exists))
		assert.True(t, exists, table)
	}
}

// A migration that fails leaves the schema at the version before it, with
// nothing of the failed one.
func TestFailedMigrationLeavesNoHalfSchema(t *testing.T) {
	db := newDatabase(t)
	clock := &testClock{now: time.Now()}
	all, err := migrations()
	require.NoError(t, err)
	next := latestVersion(all) + 1
	broken := append(all, migration{version: next, name: "broken",
		sql: "CREATE TABLE certs_half (id INTEGER);\nCREATE TABLE certs_broken (id NOT A TYPE);\n"})
	version, err := migrate(db, &sync.Mutex{}, clock.Now, broken)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "broken")
	assert.Equal(t, latestVersion(all), version, "every migration before it applied")
	var half bool
	require.NoError(t, db.QueryRow(`SELECT to_regclass('certs_half') IS NOT NULL`).Scan(&half))
	assert.False(t, half, "the failed migration's first statement was rolled back")
	current, err := schemaVersion(db)
	require.NoError(t, err)
	assert.Equal(t, latestVersion(all), current)

	// A later, fixed plugin migrates from there.
	fixed := append(all, migration{version: next, name: "fixed", sql: "CREATE TABLE certs_half (id INTEGER);\n"})
	version, err = migrate(db, &sync.Mutex{}, clock.Now, fixed)
	require.NoError(t, err)
	assert.Equal(t, next, version)
}

// schemaVersion is the highest version the database has recorded.
func schemaVersion(db *sql.DB) (int, error) {
	var version sql.NullInt64
	if err := db.QueryRow(`SELECT MAX(version) FROM ` + migrationsTable).Scan(&version); err != nil {
		return 0, fmt.Errorf("read the schema version: %w", err)
	}
	return int(version.Int64), nil
}

// latestVersion is the highest version of a list of migrations.
func latestVersion(all []migration) int {
	return all[len(all)-1].version
}

// Migrations numbered with a gap (a change that took the number after one
// that had not landed yet) migrate; the one in the gap, once it lands, is
// applied to a database already past it. A version in the gap that the
// plugin does not know is refused, as a newer schema is.
func TestAMigrationThatLandsInAGapIsAppliedLater(t *testing.T) {
	db := newDatabase(t)
	clock := &testClock{now: time.Now()}
	all, err := migrations()
	require.NoError(t, err)
	last := latestVersion(all)
	early := migration{version: last + 1, name: "early", sql: "CREATE TABLE certs_early (id INTEGER);\n"}
	late := migration{version: last + 2, name: "late", sql: "CREATE TABLE certs_late (id INTEGER);\n"}

	version, err := migrate(db, &sync.Mutex{}, clock.Now, append(slices.Clone(all), late))
	require.NoError(t, err)
	assert.Equal(t, last+2, version)

	_, err = migrate(db, &sync.Mutex{}, clock.Now, all)
	require.Error(t, err, "a plugin that knows neither")
	assert.Contains(t, err.Error(), "newer than this plugin knows")

	version, err = migrate(db, &sync.Mutex{}, clock.Now, append(slices.Clone(all), early, late))
	require.NoError(t, err)
	assert.Equal(t, last+2, version)
	var exists bool
	require.NoError(t, db.QueryRow(`SELECT to_regclass('certs_early') IS NOT NULL`).Scan(&exists))
	assert.True(t, exists, "the migration in the gap was applied")
	var rows int
	require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM certs_schema_migrations WHERE version > $1`, last).Scan(&rows))
	assert.Equal(t, 2, rows)

	_, err = migrate(db, &sync.Mutex{}, clock.Now, append(slices.Clone(all), late))
	require.Error(t, err, "a plugin that does not know the one in the gap")
	assert.Contains(t, err.Error(), fmt.Sprintf("version %d, which this plugin does not know", last+1))
}

func TestSchemaNewerThanThePluginIsRefused(t *testing.T) {
	db := newDatabase(t)
	clock := &testClock{now: time.Now()}
	_, err := Migrate(db, &sync.Mutex{}, clock.Now)
	require.NoError(t, err)
	_, err = db.Exec(`INSERT INTO certs_schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)`)
	require.NoError(t, err)
	_, err = Migrate(db, &sync.Mutex{}, clock.Now)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "newer than this plugin knows")
}

func TestCertificateRecordRoundTrips(t *testing.T) {
	s, clock, db := newTestStore(t)
	c := testCertificate("01ab", alice, clock.Now())
	c.Attestation = &records.Attestation{Format: "yubico-piv", DeviceSerial: "123"}
	require.NoError(t, s.CreateCertificate(c))

	got, err := s.GetCertificate("01ab")
	require.NoError(t, err)
	assert.Equal(t, c.Serial, got.Serial)
	assert.Equal(t, c.Owner, got.Owner)
	assert.Equal(t, c.Emails, got.Emails)
	assert.Equal(t, c.DER, got.DER)
	assert.Equal(t, "123", got.Attestation.DeviceSerial)
	assert.True(t, c.NotAfter.Equal(got.NotAfter))
	assert.Nil(t, got.RevokedAt)

	assert.ErrorIs(t, s.CreateCertificate(c), records.ErrDuplicateSerial)
	_, err = s.GetCertificate("nope")
	assert.ErrorIs(t, err, records.ErrNotFound)
	assert.Equal(t, []string{"certificate.recorded"}, events(t, db))
}

func TestListCertificatesIsPerOwnerOldestFirst(t *testing.T) {
	s, clock, _ := newTestStore(t)
	for i := range 3 {
		require.NoError(t, s.CreateCertificate(testCertificate(fmt.Sprintf("a%d", i), alice, clock.Now())))
		clock.advance(time.Minute)
	}
	require.NoError(t, s.CreateCertificate(testCertificate("b0", records.MattermostUser("bob"), clock.Now())))
	list, err := s.ListCertificates(alice)
	require.NoError(t, err)
	require.Len(t, list, 3)
	assert.Equal(t, []string{"a0", "a1", "a2"}, []string{list[0].Serial, list[1].Serial, list[2].Serial})
	none, err := s.ListCertificates(records.MattermostUser("carol"))
	require.NoError(t, err)
	assert.Empty(t, none)
}

func TestRevocationIsOneUpdateWithItsEvent(t *testing.T) {
	s, clock, db := newTestStore(t)
	require.NoError(t, s.CreateCertificate(testCertificate("01", alice, clock.Now())))
	now := clock.Now()
	revoked, err := s.UpdateCertificate("01", func(c *records.Certificate) error {
		c.State, c.RevokedAt, c.RevokedBy, c.RevocationReason = records.CertRevoked, &now, "alice", "keyCompromise"
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, records.CertRevoked, revoked.State)
	got, err := s.GetCertificate("01")
	require.NoError(t, err)
	assert.Equal(t, records.CertRevoked, got.State)
	assert.Equal(t, "keyCompromise", got.RevocationReason)
	assert.Equal(t, []string{"certificate.recorded", "certificate.revoked"}, events(t, db))

	refused := errors.New("no")
	_, err = s.UpdateCertificate("01", func(*records.Certificate) error { return refused })
	assert.ErrorIs(t, err, refused)
}

// Two writers revoking at once: both changes are seen, one after the other.
func TestConcurrentCertificateUpdatesBothApply(t *testing.T) {
	s, clock, _ := newTestStore(t)
	require.NoError(t, s.CreateCertificate(testCertificate("01", alice, clock.Now())))
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.UpdateCertificate("01", func(c *records.Certificate) error {
				c.Emails = append(c.Emails, fmt.Sprintf("x%d@example.com", i))
				return nil
			})
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	got, err := s.GetCertificate("01")
	require.NoError(t, err)
	assert.Len(t, got.Emails, 11, "no update lost")
}

func TestRecordIssuanceClosesItsRequestInOneStatement(t *testing.T) {
	s, clock, db := newTestStore(t)
	req := testRequest("r-1", alice, clock.Now())
	req.State = records.RequestApproved
	req.PendingKey = &records.SealedKey{KeyID: "k", Sealed: []byte("sealed")}
	require.NoError(t, s.CreateRequest(req))

	c := testCertificate("01", alice, clock.Now())
	require.NoError(t, s.RecordIssuance(c, "r-1", clock.Now(), nil))
	got, err := s.GetRequest("r-1")
	require.NoError(t, err)
	assert.Equal(t, records.RequestIssued, got.State)
	assert.Equal(t, "01", got.Serial)
	assert.Nil(t, got.PendingKey, "the held key is dropped with the collection")
	assert.Equal(t, []string{"request.approved", "certificate.issued"}, events(t, db))

	// The same certificate again (a held delivery) was recorded before; a
	// different one under its serial is refused.
	assert.ErrorIs(t, s.RecordIssuance(testCertificate("01", alice, clock.Now()), "", clock.Now(), nil), records.ErrAlreadyRecorded)
	assert.Equal(t, []string{"request.approved", "certificate.issued"}, events(t, db), "and no second event")
	other := testCertificate("01", alice, clock.Now())
	other.Fingerprint = "another"
	assert.ErrorIs(t, s.RecordIssuance(other, "", clock.Now(), nil), records.ErrDuplicateSerial)

	// A request that can no longer be closed: the certificate is recorded,
	// and the caller is told.
	require.NoError(t, s.CreateRequest(testRequest("r-2", alice, clock.Now())))
	err = s.RecordIssuance(testCertificate("02", alice, clock.Now()), "r-2", clock.Now(), nil)
	var te *records.ErrTransition
	require.ErrorAs(t, err, &te)
	assert.Equal(t, records.RequestPending, te.From)
	_, err = s.GetCertificate("02")
	assert.NoError(t, err)
}

func TestRequestRoundTripsAndMoves(t *testing.T) {
	s, clock, _ := newTestStore(t)
	req := testRequest("r-1", alice, clock.Now())
	req.CSRPEM = "-----BEGIN CERTIFICATE REQUEST-----"
	req.Attestation = &records.Attestation{Format: "yubico-piv"}
	require.NoError(t, s.CreateRequest(req))
	require.Error(t, s.CreateRequest(req), "an id is used once")

	got, err := s.GetRequest("r-1")
	require.NoError(t, err)
	assert.Equal(t, req.CSRPEM, got.CSRPEM)
	assert.Equal(t, "yubico-piv", got.Attestation.Format)
	assert.Nil(t, got.Approvals)

	clock.advance(time.Minute)
	now := clock.Now()
	approved, err := s.MoveRequest("r-1", now, []records.RequestState{records.RequestPending}, records.RequestApproved, func(r *records.Request) error {
		r.Approvals = append(r.Approvals, records.Approval{By: records.MattermostUser("bob"), At: now})
		r.DecidedBy, r.DecidedAt = "mm:bob", &now
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, records.RequestApproved, approved.State)
	got, err = s.GetRequest("r-1")
	require.NoError(t, err)
	assert.Equal(t, records.RequestApproved, got.State)
	require.Len(t, got.Approvals, 1)
	assert.Equal(t, records.MattermostUser("bob"), got.Approvals[0].By)
	assert.Equal(t, "mm:bob", got.DecidedBy)
	assert.True(t, got.UpdatedAt.Equal(now))

	_, err = s.MoveRequest("r-1", now, []records.RequestState{records.RequestPending}, records.RequestDenied, nil)
	var te *records.ErrTransition
	assert.ErrorAs(t, err, &te)

	open, err := s.ListOpenRequests()
	require.NoError(t, err)
	assert.Len(t, open, 1)
	_, err = s.MoveRequest("r-1", now, nil, records.RequestExpired, nil)
	require.NoError(t, err)
	open, err = s.ListOpenRequests()
	require.NoError(t, err)
	assert.Empty(t, open)
	mine, err := s.ListRequests(alice)
	require.NoError(t, err)
	assert.Len(t, mine, 1)
}

// Approve and deny racing on one request: exactly one decides it.
func TestRacingDecisionsDecideOnce(t *testing.T) {
	s, clock, db := newTestStore(t)
	require.NoError(t, s.CreateRequest(testRequest("r-1", alice, clock.Now())))
	var wg sync.WaitGroup
	results := make([]error, 20)
	for i := range results {
		to := records.RequestApproved
		if i%2 == 1 {
			to = records.RequestDenied
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, results[i] = s.MoveRequest("r-1", clock.Now(), []records.RequestState{records.RequestPending}, to, nil)
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range results {
		if err == nil {
			wins++
		}
	}
	assert.Equal(t, 1, wins)
	decisions := 0
	for _, kind := range events(t, db) {
		if kind == "request.approved" || kind == "request.denied" {
			decisions++
		}
	}
	assert.Equal(t, 1, decisions, "one decision, one event")
}

func TestKeyClaimsHoldOneHolderUntilTheyExpire(t *testing.T) {
	s, clock, _ := newTestStore(t)
	upload := records.KeyHolder{Kind: records.KeyHeldByUpload, ID: "u1"}
	cert := records.KeyHolder{Kind: records.KeyHeldByCertificate, ID: "01"}
	ok, _, err := s.ClaimKey("fp", upload, time.Minute)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, holder, err := s.ClaimKey("fp", records.KeyHolder{Kind: records.KeyHeldByUpload, ID: "u2"}, time.Minute)
	require.NoError(t, err)
	assert.False(t, ok)
	assert.Equal(t, upload, holder)

	require.NoError(t, s.MoveKey("fp", upload, cert, time.Hour))
	assert.Error(t, s.MoveKey("fp", upload, cert, time.Hour), "upload holds it no more")
	require.NoError(t, s.ReleaseKey("fp", upload), "releasing what one does not hold changes nothing")
	holder, err = s.KeyHolderOf("fp")
	require.NoError(t, err)
	assert.Equal(t, cert, holder)

	clock.advance(2 * time.Hour)
	ok, _, err = s.ClaimKey("fp", upload, time.Minute)
	require.NoError(t, err)
	assert.True(t, ok, "an expired claim is taken over")
	require.NoError(t, s.ReleaseKey("fp", upload))
	holder, err = s.KeyHolderOf("fp")
	require.NoError(t, err)
	assert.Equal(t, records.KeyHolder{}, holder)
}

// The same CSR key uploaded many times at once: one claim wins.
func TestConcurrentKeyClaimsHaveOneWinner(t *testing.T) {
	s, _, _ := newTestStore(t)
	var wg sync.WaitGroup
	wins := make(chan int, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, _, err := s.ClaimKey("fp", records.KeyHolder{Kind: records.KeyHeldByUpload, ID: fmt.Sprint(i)}, time.Minute)
			assert.NoError(t, err)
			if ok {
				wins <- i
			}
		}()
	}
	wg.Wait()
	close(wins)
	assert.Len(t, wins, 1)
}

func TestSearchPagesWithACursorAndFilters(t *testing.T) {
	s, clock, _ := newTestStore(t)
	now := clock.Now()
	bob := records.MattermostUser("bob")
	for i := range 25 {
		owner := alice
		if i%5 == 0 {
			owner = bob
		}
		c := testCertificate(fmt.Sprintf("s%02d", i), owner, now)
		c.NotAfter = now.Add(time.Duration(i+1) * 24 * time.Hour)
		if i == 3 {
			c.NotAfter = now.Add(-time.Hour) // expired
		}
		if i == 4 {
			c.State = records.CertRevoked
		}
		require.NoError(t, s.CreateCertificate(c))
	}
	counts, err := s.CountCertificates(now)
	require.NoError(t, err)
	assert.Equal(t, records.StateCounts{Issued: 23, Expired: 1, Revoked: 1}, counts)

	var all []string
	filter := records.CertificateFilter{Limit: 10}
	for {
		page, err := s.SearchCertificates(filter, now)
		require.NoError(t, err)
		for _, c := range page.Certificates {
			all = append(all, c.Serial)
		}
		if page.Next == "" {
			break
		}
		filter.After = page.Next
	}
	assert.Len(t, all, 25)
	assert.Equal(t, "s00", all[0])
	assert.Equal(t, "s24", all[24])

	bobs, err := s.SearchCertificates(records.CertificateFilter{Owner: bob}, now)
	require.NoError(t, err)
	assert.Len(t, bobs.Certificates, 5)
	revoked, err := s.SearchCertificates(records.CertificateFilter{State: "revoked"}, now)
	require.NoError(t, err)
	require.Len(t, revoked.Certificates, 1)
	assert.Equal(t, "s04", revoked.Certificates[0].Serial)

	soon := now.Add(10 * 24 * time.Hour)
	var expiring []string
	filter = records.CertificateFilter{ExpiringBefore: &soon, Limit: 3}
	for {
		page, err := s.SearchCertificates(filter, now)
		require.NoError(t, err)
		for _, c := range page.Certificates {
			expiring = append(expiring, c.Serial)
		}
		if page.Next == "" {
			break
		}
		filter.After = page.Next
	}
	// Days 1..9 expire before day 10, but for s03 (expired) and s04 (revoked).
	assert.Equal(t, []string{"s00", "s01", "s02", "s05", "s06", "s07", "s08"}, expiring)

	_, err = s.SearchCertificates(records.CertificateFilter{State: "lost"}, now)
	assert.Error(t, err)
	_, err = s.SearchCertificates(records.CertificateFilter{ExpiringBefore: &soon, After: "garbage"}, now)
	assert.Error(t, err)
}

// Queries over many rows are stopped by PostgreSQL itself: the server's
// driver does not pass contexts on.
func TestSlowQueriesAreBoundedByTheDatabase(t *testing.T) {
	s, _, _ := newTestStore(t)
	var timeout string
	require.NoError(t, s.bounded(func(q querier) error {
		return q.QueryRow(`SHOW statement_timeout`).Scan(&timeout)
	}))
	assert.Equal(t, slowQueryTimeout, timeout)
	require.NoError(t, s.db.QueryRow(`SHOW statement_timeout`).Scan(&timeout))
	assert.Equal(t, "0", timeout, "only inside the transaction: the server's pool is left as it was")
}

// A database at the previous version is brought up to date with its data
// kept.
func TestMigrateFromThePreviousVersion(t *testing.T) {
	db := newDatabase(t)
	clock := &testClock{now: time.Date(2031, time.March, 4, 5, 6, 7, 0, time.UTC)}
	all, err := migrations()
	require.NoError(t, err)
	require.Greater(t, len(all), 1)
	_, err = migrate(db, &sync.Mutex{}, clock.Now, all[:len(all)-1])
	require.NoError(t, err)
	// A row as the previous version wrote it (its columns only).
	_, err = db.Exec(`INSERT INTO certs_certificates (serial, issuer, connector, owner, subject, common_name, fingerprint,
		not_before, not_after, state, der, created_at) VALUES ('01', 'i', 'builtin', 'mm:alice', 'CN=alice', 'alice', 'fp', 0, $1, 'issued', '\x30', 0)`,
		clock.Now().Add(time.Hour).UnixMilli())
	require.NoError(t, err)

	version, err := Migrate(db, &sync.Mutex{}, clock.Now)
	require.NoError(t, err)
	assert.Equal(t, latestVersion(all), version)
	got, err := New(db, clock.Now).GetCertificate("01")
	require.NoError(t, err)
	assert.Equal(t, "01", got.Serial)
}

func TestRemindersAreDueOnceAndClaimedOnce(t *testing.T) {
	s, clock, _ := newTestStore(t)
	now := clock.Now()
	soon := testCertificate("01", alice, now)
	soon.NotAfter = now.Add(5 * 24 * time.Hour)
	later := testCertificate("02", alice, now)
	later.NotAfter = now.Add(20 * 24 * time.Hour)
	revoked := testCertificate("03", alice, now)
	revoked.NotAfter, revoked.State = now.Add(5*24*time.Hour), records.CertRevoked
	for _, c := range []*records.Certificate{soon, later, revoked} {
		require.NoError(t, s.CreateCertificate(c))
	}
	due, err := s.DueReminders(7, now, now.Add(7*24*time.Hour), 10)
	require.NoError(t, err)
	require.Len(t, due, 1)
	assert.Equal(t, "01", due[0].Serial)

	claimed, err := s.ClaimReminder("01", 7)
	require.NoError(t, err)
	assert.True(t, claimed)
	claimed, err = s.ClaimReminder("01", 7)
	require.NoError(t, err)
	assert.False(t, claimed, "once")
	due, err = s.DueReminders(7, now, now.Add(7*24*time.Hour), 10)
	require.NoError(t, err)
	assert.Empty(t, due)
	due, err = s.DueReminders(30, now.Add(7*24*time.Hour), now.Add(30*24*time.Hour), 10)
	require.NoError(t, err)
	require.Len(t, due, 1)
	assert.Equal(t, "02", due[0].Serial)
}

func TestPendingRevocationsRoundTrip(t *testing.T) {
	s, clock, _ := newTestStore(t)
	require.NoError(t, s.CreateCertificate(testCertificate("01", alice, clock.Now())))
	require.NoError(t, s.CreateCertificate(testCertificate("02", alice, clock.Now())))
	_, err := s.UpdateCertificate("01", func(c *records.Certificate) error {
		c.State, c.RevocationPending = records.CertRevoked, true
		return nil
	})
	require.NoError(t, err)
	pending, err := s.PendingRevocations(10)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	assert.Equal(t, "01", pending[0].Serial)
	assert.True(t, pending[0].RevocationPending)
	got, err := s.GetCertificate("01")
	require.NoError(t, err)
	assert.True(t, got.RevocationPending)
}

// What the job keeps of a revocation its CA has not accepted (tries, next
// try, the CA's answer, when the admins were told) round-trips through a
// read and a listing; the listing puts those due soonest first, and those
// never tried before them; accepted at last, it is all cleared.
func TestPendingRevocationsKeepTheirRetriesAndComeDueFirst(t *testing.T) {
	s, clock, _ := newTestStore(t)
	now := clock.Now()
	for _, serial := range []string{"01", "02", "03", "04"} {
		require.NoError(t, s.CreateCertificate(testCertificate(serial, alice, now)))
	}
	later, soon := now.Add(2*time.Hour), now.Add(time.Hour)
	for serial, retryAt := range map[string]*time.Time{"01": &later, "02": nil, "03": &soon} {
		_, err := s.UpdateCertificate(serial, func(c *records.Certificate) error {
			c.State, c.RevokedAt, c.RevocationPending = records.CertRevoked, &now, true
			if retryAt != nil {
				c.RevocationAttempts, c.RevocationRetryAt = 3, retryAt
				c.RevocationCAAnswer = "The request lacked necessary authorization to be completed"
				c.RevocationNoticeAt = &now
			}
			return nil
		})
		require.NoError(t, err)
	}

	pending, err := s.PendingRevocations(10)
	require.NoError(t, err)
	var serials []string
	for _, c := range pending {
		serials = append(serials, c.Serial)
	}
	assert.Equal(t, []string{"02", "03", "01"}, serials)
	listed := pending[2]
	got, err := s.GetCertificate("01")
	require.NoError(t, err)
	for _, c := range []*records.Certificate{listed, got} {
		assert.Equal(t, 3, c.RevocationAttempts)
		require.NotNil(t, c.RevocationRetryAt)
		assert.True(t, later.Equal(*c.RevocationRetryAt))
		assert.Equal(t, "The request lacked necessary authorization to be completed", c.RevocationCAAnswer)
		require.NotNil(t, c.RevocationNoticeAt)
		assert.True(t, now.Equal(*c.RevocationNoticeAt))
	}
	assert.Zero(t, pending[0].RevocationAttempts)
	assert.Nil(t, pending[0].RevocationRetryAt)

	pending, err = s.PendingRevocations(1)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	assert.Equal(t, "02", pending[0].Serial, "the limit keeps the soonest due")

	_, err = s.UpdateCertificate("01", func(c *records.Certificate) error {
		c.RevocationPending, c.RevocationAttempts, c.RevocationRetryAt, c.RevocationCAAnswer, c.RevocationNoticeAt = false, 0, nil, "", nil
		return nil
	})
	require.NoError(t, err)
	got, err = s.GetCertificate("01")
	require.NoError(t, err)
	assert.False(t, got.RevocationPending)
	assert.Zero(t, got.RevocationAttempts)
	assert.Nil(t, got.RevocationRetryAt)
	assert.Empty(t, got.RevocationCAAnswer)
	assert.Nil(t, got.RevocationNoticeAt)
}

// Of enrollments racing for an owner's last places, as many as the quota
// allows are recorded and the others refused, whatever the interleaving.
func TestQuotaIsDecidedWithTheRecord(t *testing.T) {
	s, clock, _ := newTestStore(t)
	now := clock.Now()
	quota := &records.Quota{Profile: "default", Active: 2, Since: now.Add(-24 * time.Hour)}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		recorded int
		refused  int
	)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.RecordIssuance(testCertificate(fmt.Sprintf("q%d", i), alice, now), "", now, quota)
			var over *records.ErrOverQuota
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				recorded++
			case errors.As(err, &over):
				refused++
				assert.Equal(t, 2, over.Counts.Active)
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 2, recorded)
	assert.Equal(t, 8, refused)

	// Another owner, and another profile, have places of their own.
	require.NoError(t, s.RecordIssuance(testCertificate("b1", records.MattermostUser("bob"), now), "", now, quota))
	other := testCertificate("q-other", alice, now)
	other.Profile = "wifi"
	require.NoError(t, s.RecordIssuance(other, "", now, &records.Quota{Profile: "wifi", Active: 1, Since: quota.Since}))

	// The server's daily bound of a person spans profiles: alice has three
	// today, of two profiles.
	require.ErrorAs(t, s.RecordIssuance(testCertificate("q-all", alice, now), "", now,
		&records.Quota{Profile: "other", PerDayAll: 3, Since: now.Add(-24 * time.Hour)}), new(*records.ErrOverQuota))
	counts, err := s.CountOwned(alice, records.Quota{Profile: "wifi", Since: now.Add(-24 * time.Hour)}, now)
	require.NoError(t, err)
	assert.Equal(t, records.OwnerCounts{Active: 1, Recent: 1, RecentAll: 3}, counts)

	perDay := &records.Quota{Profile: "default", PerDay: 1, Since: now.Add(-24 * time.Hour)}
	require.ErrorAs(t, s.RecordIssuance(testCertificate("b2", records.MattermostUser("bob"), now), "", now, perDay), new(*records.ErrOverQuota))
	clock.advance(25 * time.Hour)
	later := clock.Now()
	perDay.Since = later.Add(-24 * time.Hour)
	require.NoError(t, s.RecordIssuance(testCertificate("b2", records.MattermostUser("bob"), later), "", later, perDay))
}

// A valid renewal takes the place of the certificate it replaces; the
// fields of a renewal round-trip in records and listings.
func TestRenewalsTakeThePlaceOfWhatTheyReplace(t *testing.T) {
	s, clock, db := newTestStore(t)
	now := clock.Now()
	since := now.Add(-24 * time.Hour)
	require.NoError(t, s.CreateCertificate(testCertificate("a1", alice, now)))
	counts, err := s.CountOwned(alice, records.Quota{Profile: "default", Since: since}, now)
	require.NoError(t, err)
	assert.Equal(t, records.OwnerCounts{Active: 1, Recent: 1, RecentAll: 1}, counts)
	counts, err = s.CountOwned(alice, records.Quota{Profile: "default", Since: since, Renews: "a1"}, now)
	require.NoError(t, err)
	assert.Equal(t, 0, counts.Active, "the certificate being renewed leaves its place to the renewal")

	renewal := testCertificate("a2", alice, now)
	renewal.Renews = "a1"
	require.NoError(t, s.RecordIssuance(renewal, "", now, &records.Quota{Profile: "default", Active: 1, Since: since, Renews: "a1"}))
	counts, err = s.CountOwned(alice, records.Quota{Profile: "default", Since: since}, now)
	require.NoError(t, err)
	assert.Equal(t, records.OwnerCounts{Active: 1, Recent: 2, RecentAll: 2}, counts, "a1 and its renewal take one place")

	// Renewing a1 a second time gets no free place: a2 holds it.
	require.ErrorAs(t, s.RecordIssuance(testCertificate("a3", alice, now), "", now,
		&records.Quota{Profile: "default", Active: 1, Since: since, Renews: "a1"}), new(*records.ErrOverQuota))

	got, err := s.GetCertificate("a2")
	require.NoError(t, err)
	assert.Equal(t, "a1", got.Renews)
	var detail string
	require.NoError(t, db.QueryRow(`SELECT detail::text FROM certs_events WHERE serial = 'a2' AND kind = 'certificate.issued'`).Scan(&detail))
	assert.JSONEq(t, `{"renews": "a1"}`, detail, "the event says what the renewal replaced")
	assert.Nil(t, got.EmailChangedAt)
	changed, err := s.UpdateCertificate("a1", func(c *records.Certificate) error {
		c.EmailChangedAt = &now
		return nil
	})
	require.NoError(t, err)
	assert.True(t, changed.EmailChangedAt.Equal(now))
	list, err := s.ListCertificates(alice)
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.True(t, list[0].EmailChangedAt.Equal(now), "listings carry it too")
	assert.Equal(t, "a1", list[1].Renews)

	// Once a2 is revoked, a1 takes its own place again.
	_, err = s.UpdateCertificate("a2", func(c *records.Certificate) error {
		c.State = records.CertRevoked
		return nil
	})
	require.NoError(t, err)
	counts, err = s.CountOwned(alice, records.Quota{Profile: "default", Since: since}, now)
	require.NoError(t, err)
	assert.Equal(t, 1, counts.Active)

	req := testRequest("r-renew", alice, now)
	req.Renews = "a1"
	require.NoError(t, s.CreateRequest(req))
	moved, err := s.MoveRequest("r-renew", now, nil, records.RequestApproved, nil)
	require.NoError(t, err)
	assert.Equal(t, "a1", moved.Renews)
	gotReq, err := s.GetRequest("r-renew")
	require.NoError(t, err)
	assert.Equal(t, "a1", gotReq.Renews)
}

// A renewal of a renewal frees no third place: with one place, renewing
// the renewal while the first is still in its overlap is refused. When
// the overlap is over, the replaced certificate counts again and is listed
// for the job to revoke. Before, four chained renewals left five valid
// certificates on one place.
func TestChainedRenewalsKeepToTheLimit(t *testing.T) {
	s, clock, _ := newTestStore(t)
	now := clock.Now()
	since := now.Add(-24 * time.Hour)
	overlap := 7 * 24 * time.Hour
	quota := func(renews string, at time.Time) *records.Quota {
		return &records.Quota{Profile: "default", Active: 1, Since: since, Renews: renews, OverlapSince: at.Add(-overlap)}
	}
	require.NoError(t, s.RecordIssuance(testCertificate("c1", alice, now), "", now, quota("", now)))
	renewal := func(serial, renews string, at time.Time) *records.Certificate {
		c := testCertificate(serial, alice, at)
		c.Renews = renews
		return c
	}
	require.NoError(t, s.RecordIssuance(renewal("c2", "c1", now), "", now, quota("c1", now)))
	require.ErrorAs(t, s.RecordIssuance(renewal("c3", "c2", now), "", now, quota("c2", now)), new(*records.ErrOverQuota),
		"c1 is still valid beside c2: renewing c2 would make three")
	ended, err := s.OverlapsEnded("default", now.Add(-overlap), now, 10)
	require.NoError(t, err)
	assert.Empty(t, ended)

	clock.advance(overlap + time.Hour)
	later := clock.Now()
	counts, err := s.CountOwned(alice, *quota("", later), later)
	require.NoError(t, err)
	assert.Equal(t, 2, counts.Active, "the overlap is over: c1 counts again")
	ended, err = s.OverlapsEnded("default", later.Add(-overlap), later, 10)
	require.NoError(t, err)
	require.Len(t, ended, 1)
	assert.Equal(t, "c1", ended[0].Serial)

	_, err = s.RevokeCertificate(records.Revoke{Serial: "c1", At: later, By: "renewal", Reason: records.ReasonSuperseded})
	require.NoError(t, err)
	require.NoError(t, s.RecordIssuance(renewal("c3", "c2", later), "", later, quota("c2", later)), "one valid certificate left: it may be renewed")
}
