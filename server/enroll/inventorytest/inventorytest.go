// Package inventorytest is the contract of the core's Inventory
// (enroll.Inventory): one set of tests that every store of the records
// passes, the database's (server/sqlstore, which the plugin runs on) and
// the KV store's (server/store, which the core's and the plugin's unit
// tests run on). The database is the truth: where a store answers
// otherwise, that store is wrong.
//
// Run it from a store's tests with a function that opens an empty
// inventory whose time is the test's Clock. Link tokens are the KV
// store's in both (the plugin keeps them there beside the database's
// records), so a database harness hands them to one.
//
// It knows no store and no plugin API: the stores import it, never the
// reverse.
package inventorytest

import (
	"testing"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/clocktest"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
)

// Clock is the time of a store under test: its own now (key claims, what
// has expired) and the expiry of what it keeps.
type Clock = clocktest.Clock

// Open returns an empty inventory that reads its time from clock; what it
// needs closed, it closes with t.Cleanup.
type Open func(t *testing.T, clock *Clock) enroll.Inventory

// Start is when every test of the contract starts: whole milliseconds in
// UTC, as the database keeps times.
var Start = time.Date(2031, time.March, 4, 5, 6, 7, 0, time.UTC)

// contract is every test of the contract, by name.
var contract = []struct {
	name string
	run  func(t *testing.T, s *suite)
}{
	{"CertificateRoundTrips", certificateRoundTrips},
	{"CertificateStandingIsWhatOCSPNeeds", certificateStanding},
	{"ListCertificatesIsPerOwnerOldestFirst", listCertificates},
	{"UpdateCertificateKeepsWhatIdentifiesIt", updateCertificate},
	{"ConcurrentCertificateUpdatesAllApply", concurrentCertificateUpdates},
	{"RecordIssuanceClosesItsRequest", recordIssuance},
	{"QuotaIsDecidedWithTheRecord", quotaWithTheRecord},
	{"RacingEnrollmentsShareTheLastPlaces", racingQuota},
	{"RenewalsTakeThePlaceOfWhatTheyReplace", renewalsTakeThePlace},
	{"ChainedRenewalsKeepToTheLimit", chainedRenewals},
	{"OverlapsEndedListsEachReplacedCertificateOnce", overlapsEnded},
	{"RequestRoundTripsAndUpdates", requestRoundTrips},
	{"MoveRequestChecksTheStartingState", moveRequest},
	{"RequestListsAreOldestFirst", listRequests},
	{"RacingDecisionsDecideOnce", racingDecisions},
	{"RevocationIsRecordedOnce", revocationOnce},
	{"ACompromisedKeyIsNeverCertifiedAgain", compromisedKey},
	{"ARevokedCertificatesKeyMayBeReportedCompromisedLater", compromisedLater},
	{"ValidCertificatesOfCompromisedKeysAreFound", compromisedValid},
	{"PendingRevocationsComeDueFirst", pendingRevocations},
	{"SearchPagesWithACursorAndFilters", searchCertificates},
	{"CRLNamesWhatItsCAHasRevoked", crlNames},
	{"ACRLBehindARevocationIsSignedAgain", crlBehind},
	{"AnExpiredRevocationIsOnOneListAfterItsExpiry", crlAfterExpiry},
	{"RacingRevocationsAreAllOnTheNewestCRL", racingCRL},
	{"RemindersAreDueOnceAndClaimedOnce", reminders},
	{"TokensAreClaimedOnce", tokens},
	{"KeyClaimsHoldOneHolderUntilTheyExpire", keyClaims},
	{"ConcurrentKeyClaimsHaveOneWinner", concurrentKeyClaims},
}

// Run runs the contract against the inventories open makes, one each
// test.
func Run(t *testing.T, open Open) {
	for _, tc := range contract {
		t.Run(tc.name, func(t *testing.T) {
			clock := clocktest.New(Start)
			tc.run(t, &suite{inv: open(t, clock), clock: clock})
		})
	}
}

// suite is one test's inventory and clock.
type suite struct {
	inv   enroll.Inventory
	clock *Clock
}

func (s *suite) now() time.Time { return s.clock.Now() }
