//go:build e2e

package sqlstore

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll/inventorytest"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// Many revocations at once, through two handles on one database (two
// servers), each followed by its own signing: every one of them is on the
// newest list, and numbers only grow. On a list read before its number
// was claimed, a racing revocation fell off.
func TestRacingRevocationsAreAllOnTheNewestCRL(t *testing.T) {
	s1, clock, db := newTestStore(t)
	s2 := New(newHandle(t, db), clock.Now)
	now := clock.Now()
	const n = 60
	for i := range n {
		require.NoError(t, s1.CreateCertificate(inventorytest.Certificate(fmt.Sprintf("%04x", i), alice, now)))
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		numbers []int64
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			store := []*Store{s1, s2}[i%2]
			revoked, err := store.RevokeCertificate(inventorytest.RevokeOrder(fmt.Sprintf("%04x", i), records.ReasonKeyCompromise, now))
			if !assert.NoError(t, err) {
				return
			}
			crl, err := store.IssueCRL(inventorytest.Issuer1, now, func(current *records.CRL) bool {
				return !current.Signed() || current.Covered < revoked.Marks[0].Revision
			}, inventorytest.SignedList(now, nil))
			if !assert.NoError(t, err) {
				return
			}
			assert.GreaterOrEqual(t, crl.Covered, revoked.Marks[0].Revision, "the list it got names it")
			mu.Lock()
			numbers = append(numbers, crl.Number)
			mu.Unlock()
		}()
	}
	wg.Wait()
	current, err := s1.CurrentCRL(inventorytest.Issuer1)
	require.NoError(t, err)
	assert.False(t, current.Behind())
	assert.Equal(t, int64(n), current.Revision)
	assert.Less(t, current.Number, int64(n), "racing revocations share lists")
	assert.Equal(t, slices.Max(numbers), current.Number)
	der, err := s1.CRLBytes(inventorytest.Issuer1, current.Number)
	require.NoError(t, err)
	for i := range n {
		assert.Contains(t, string(der), fmt.Sprintf("%04x/keyCompromise", i))
	}
}

// A list an earlier version signed keeps its numbers going: relying
// parties keep the list with the highest number they saw. A lower one
// changes nothing.
func TestAnImportedCRLKeepsTheNumbering(t *testing.T) {
	s, clock, _ := newTestStore(t)
	now := clock.Now()
	require.NoError(t, s.ImportCRL(inventorytest.Issuer1, &records.CRL{Number: 41, ThisUpdate: now, NextUpdate: now.Add(time.Hour), DER: []byte("old")}))
	current, err := s.CurrentCRL(inventorytest.Issuer1)
	require.NoError(t, err)
	assert.Equal(t, int64(41), current.Number)
	assert.True(t, current.Behind(), "signed again from the tables at the next run")
	next, err := s.IssueCRL(inventorytest.Issuer1, now, inventorytest.Behind, inventorytest.SignedList(now, nil))
	require.NoError(t, err)
	assert.Equal(t, int64(42), next.Number)
	require.NoError(t, s.ImportCRL(inventorytest.Issuer1, &records.CRL{Number: 7, ThisUpdate: now, NextUpdate: now.Add(time.Hour), DER: []byte("older")}))
	current, err = s.CurrentCRL(inventorytest.Issuer1)
	require.NoError(t, err)
	assert.Equal(t, int64(42), current.Number)
	assert.False(t, current.Behind())
}
