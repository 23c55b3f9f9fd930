package enroll_test

import (
	"context"
	"crypto/x509"
	"errors"
	"math/big"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// countedLists counts the lists an inventory signs, and may fail the
// next ones.
type countedLists struct {
	*bedStore
	signed atomic.Int32
	fail   atomic.Int32
}

func (c *countedLists) IssueCRL(scope records.CRLScope, now time.Time, due func(*records.CRL) bool,
	sign func(int64, []records.Revocation) (*records.CRL, error)) (*records.CRL, error) {
	if c.fail.Add(-1) >= 0 {
		return nil, errors.New("the database is away")
	}
	return c.bedStore.IssueCRL(scope, now, due, func(number int64, revoked []records.Revocation) (*records.CRL, error) {
		c.signed.Add(1)
		return sign(number, revoked)
	})
}

func (b *bed) listed(t *testing.T, core *enroll.Core) map[string]int {
	t.Helper()
	crl, err := core.CRL("builtin", 0)
	require.NoError(t, err)
	list, err := x509.ParseRevocationList(crl.DER)
	require.NoError(t, err)
	out := map[string]int{}
	for _, e := range list.RevokedCertificateEntries {
		out[e.SerialNumber.Text(16)] = e.ReasonCode
	}
	return out
}

func hexSerial(serial string) string {
	n, _ := new(big.Int).SetString(serial, 16)
	return n.Text(16)
}

// Many revocations at once: each is on the list by the time Revoke
// returns, and they share lists rather than sign one each.
func TestRevocationsAtOnceAreOnTheListWhenRevokeReturns(t *testing.T) {
	b := newBed(t, "")
	inventory := &countedLists{bedStore: b.store}
	core := b.withInventory(inventory)
	alice := requester("alice")
	const n = 24
	var serials []string
	for range n {
		serials = append(serials, b.enroll(t, alice, "").Serial)
	}
	var wg sync.WaitGroup
	for _, serial := range serials {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := core.Revoke(context.Background(), alice, serial, records.ReasonAffiliationChanged)
			if !assert.NoError(t, err) {
				return
			}
			_, listed := b.listed(t, core)[hexSerial(serial)]
			assert.True(t, listed, "revoked and listed: %s", serial)
		}()
	}
	wg.Wait()
	assert.Len(t, b.listed(t, core), n)
	assert.Less(t, int(inventory.signed.Load()), n, "racing revocations share lists")
}

// A list that could not be signed after a revocation is behind the
// inventory, and the job's next run signs it; before, the job waited
// until the list was three and a half days old.
func TestAListBehindTheInventoryIsSignedAtTheJobsNextRun(t *testing.T) {
	b := newBed(t, "")
	inventory := &countedLists{bedStore: b.store}
	core := b.withInventory(inventory)
	alice := requester("alice")
	kept := b.enroll(t, alice, "")
	lost := b.enroll(t, alice, "")
	_, err := core.Revoke(context.Background(), alice, kept.Serial, "")
	require.NoError(t, err)

	inventory.fail.Store(1)
	_, err = core.Revoke(context.Background(), alice, lost.Serial, records.ReasonKeyCompromise)
	require.NoError(t, err, "the revocation stands though its list could not be signed")
	current, err := b.store.CurrentCRL(records.CRLScope{Connector: "builtin", Issuer: kept.Issuer})
	require.NoError(t, err)
	assert.True(t, current.Behind())

	b.advance(time.Minute)
	core.RefreshCRLs()
	listed := b.listed(t, core)
	assert.Contains(t, listed, hexSerial(lost.Serial))
	assert.Equal(t, 1, listed[hexSerial(lost.Serial)], "keyCompromise")
	current, err = b.store.CurrentCRL(records.CRLScope{Connector: "builtin", Issuer: kept.Issuer})
	require.NoError(t, err)
	assert.False(t, current.Behind())
}

// A node that failed to sign a list does not try again for whoever asks
// within a few seconds: an anonymous flood of requests for a list cannot
// make it sign in a loop.
func TestAFailedListIsNotSignedAgainForEveryRequest(t *testing.T) {
	b := newBed(t, "")
	inventory := &countedLists{bedStore: b.store}
	core := b.withInventory(inventory)
	inventory.fail.Store(1000)
	for range 20 {
		_, err := core.CRL("builtin", 0)
		require.Error(t, err)
	}
	assert.Equal(t, int32(1000-1), inventory.fail.Load(), "one try")
	b.advance(time.Minute)
	inventory.fail.Store(0)
	_, err := core.CRL("builtin", 0)
	require.NoError(t, err)
}
