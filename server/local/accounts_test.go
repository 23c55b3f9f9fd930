package local

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/pluginapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/clientcerts/mattermost-plugin-certs/server/clocktest"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

const goodPassword = "correct horse battery"

func newAccounts() *Accounts {
	clock := clocktest.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	return &Accounts{Store: store.New(&pluginapi.MemoryStore{}), Now: clock.Now, Cost: bcrypt.MinCost}
}

func codeOf(err error) enroll.Code {
	if e := enroll.AsError(err); e != nil {
		return e.Code
	}
	return -1
}

func TestAnAdminAddsAnAccountWhoseOwnerSetsThePassword(t *testing.T) {
	a := newAccounts()
	account, token, err := a.Add(" Dave ", "dave@example.com", "mm:admin1")
	require.NoError(t, err)
	assert.Equal(t, "dave", account.Username)
	assert.Equal(t, records.Principal("local:"+account.ID), PrincipalOf(account))
	assert.Empty(t, account.PasswordHash, "no password until its owner sets one")
	_, err = a.Verify("dave", goodPassword)
	assert.Same(t, ErrWrongCredentials, err, "no sign-in before a password is set")

	set, err := a.SetPassword(token, goodPassword)
	require.NoError(t, err)
	assert.NotContains(t, string(set.PasswordHash), goodPassword)
	signedIn, err := a.Verify("DAVE", goodPassword)
	require.NoError(t, err)
	assert.Equal(t, account.ID, signedIn.ID)

	_, err = a.SetPassword(token, "another long passphrase")
	assert.Same(t, ErrPasswordLinkUsed, err, "a link sets a password once")
	_, err = a.SetPassword("made-up", goodPassword)
	assert.Same(t, ErrPasswordLinkUsed, err)
}

func TestEveryFailedSignInReadsTheSame(t *testing.T) {
	a := newAccounts()
	_, token, err := a.Add("dave", "dave@example.com", "mm:admin1")
	require.NoError(t, err)
	_, err = a.SetPassword(token, goodPassword)
	require.NoError(t, err)
	_, _, err = a.Add("erin", "erin@example.com", "mm:admin1")
	require.NoError(t, err)

	for name, try := range map[string][2]string{
		"wrong password":   {"dave", "correct horse battery!"},
		"unknown name":     {"mallory", goodPassword},
		"no password yet":  {"erin", goodPassword},
		"empty password":   {"dave", ""},
		"another's passwd": {"erin", goodPassword},
	} {
		_, err := a.Verify(try[0], try[1])
		assert.Same(t, ErrWrongCredentials, err, name)
	}
}

func TestAccountsHashWithBcryptsDefaultCost(t *testing.T) {
	assert.Equal(t, bcrypt.DefaultCost, (&Accounts{}).cost())
	cost, err := bcrypt.Cost(newAccounts().unknownAccountHash())
	require.NoError(t, err)
	assert.Equal(t, bcrypt.MinCost, cost, "an unknown name costs what a known one does")
}

func TestPasswordRules(t *testing.T) {
	for password, ok := range map[string]bool{
		"short":                          false,
		strings.Repeat("x", 11):          false,
		strings.Repeat("x", 12):          true,
		strings.Repeat("é", 12):          true,
		strings.Repeat("x", 73):          false,
		"my name is Dave, hello":         false,
		"dave.smith@ mail is secret":     false,
		"nothing of mine in here at all": true,
	} {
		err := CheckPassword(password, "dave", "dave.smith@example.com")
		if ok {
			assert.NoError(t, err, password)
		} else {
			assert.Equal(t, enroll.CodeInvalid, codeOf(err), password)
		}
	}
}

func TestARefusedPasswordKeepsTheLink(t *testing.T) {
	a := newAccounts()
	_, token, err := a.Add("dave", "dave@example.com", "mm:admin1")
	require.NoError(t, err)
	_, err = a.SetPassword(token, "dave's password 1")
	assert.Equal(t, enroll.CodeInvalid, codeOf(err))
	_, err = a.SetPassword(token, goodPassword)
	assert.NoError(t, err, "the link still works")
}

func TestAResetLinkSetsANewPassword(t *testing.T) {
	a := newAccounts()
	account, token, err := a.Add("dave", "dave@example.com", "mm:admin1")
	require.NoError(t, err)
	_, err = a.SetPassword(token, goodPassword)
	require.NoError(t, err)
	reset, err := a.NewPasswordLink(account.ID)
	require.NoError(t, err)
	_, err = a.SetPassword(reset, "a whole new passphrase")
	require.NoError(t, err)
	_, err = a.Verify("dave", goodPassword)
	assert.Same(t, ErrWrongCredentials, err, "the old password is gone")
	_, err = a.Verify("dave", "a whole new passphrase")
	assert.NoError(t, err)
	_, err = a.NewPasswordLink("no-such-account")
	assert.ErrorIs(t, err, records.ErrNotFound)
}

func TestANameIsOneAccountsEvenWhenAddedAtOnce(t *testing.T) {
	a := newAccounts()
	var made atomic.Int32
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			name := "dave"
			if i%2 == 1 {
				name = "DAVE"
			}
			_, _, err := a.Add(name, "dave@example.com", "mm:admin1")
			if err == nil {
				made.Add(1)
			} else {
				assert.Same(t, ErrUsernameTaken, err)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int32(1), made.Load())
}

func TestAccountNamesAndEmailsAreChecked(t *testing.T) {
	a := newAccounts()
	for _, bad := range [][2]string{
		{"x", "x@example.com"},
		{"has space", "s@example.com"},
		{"-dash", "d@example.com"},
		{"<script>", "s@example.com"},
		{"dave", "not an email"},
		{"dave", "Dave <dave@example.com>"},
	} {
		_, _, err := a.Add(bad[0], bad[1], "mm:admin1")
		assert.Equal(t, enroll.CodeInvalid, codeOf(err), "%q %q", bad[0], bad[1])
	}
}

func TestRemovingAnAccountFreesItsNameAndKeepsItsRecord(t *testing.T) {
	a := newAccounts()
	var removed []*enroll.Requester
	a.Removed = func(owner *enroll.Requester) { removed = append(removed, owner) }
	account, token, err := a.Add("dave", "dave@example.com", "mm:admin1")
	require.NoError(t, err)
	_, err = a.SetPassword(token, goodPassword)
	require.NoError(t, err)

	_, err = a.Remove("Dave", "mm:admin1")
	require.NoError(t, err)
	_, err = a.Verify("dave", goodPassword)
	assert.Same(t, ErrWrongCredentials, err, "a removed account cannot sign in")
	require.Len(t, removed, 1, "the deactivation setting is applied")
	assert.Equal(t, PrincipalOf(account), removed[0].Principal)
	assert.False(t, removed[0].Active)

	dir := &Directory{Store: a.Store}
	owner, err := dir.Lookup(PrincipalOf(account))
	require.NoError(t, err, "its certificates still name their owner")
	assert.False(t, owner.Active)
	assert.Equal(t, "dave", owner.Username)

	_, err = a.Remove("dave", "mm:admin1")
	assert.Same(t, ErrNoSuchAccount, err, "removed once")
	again, _, err := a.Add("dave", "dave@example.com", "mm:admin1")
	require.NoError(t, err)
	assert.NotEqual(t, account.ID, again.ID, "a new person, a new principal")
	list, err := a.List()
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, again.ID, list[0].ID)
}

func TestAResetClearsThePasswordAndTheLockAndGivesANewLink(t *testing.T) {
	a := newAccounts()
	clock := clocktest.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	a.Throttle = &Throttle{Store: a.Store.(*store.Store), Now: clock.Now}
	_, token, err := a.Add("dave", "dave@example.com", "mm:admin1")
	require.NoError(t, err)
	_, err = a.SetPassword(token, goodPassword)
	require.NoError(t, err)
	for i := range lockAfter {
		require.NoError(t, a.Throttle.Attempt("dave", "192.0.2."+strconv.Itoa(i)))
		clock.Advance(maxDelay)
	}
	require.Same(t, ErrAccountLocked, a.Throttle.Attempt("dave", "198.51.100.1"))

	account, newToken, err := a.Reset("dave")
	require.NoError(t, err)
	assert.Equal(t, a.Now(), account.ResetAt)
	assert.NoError(t, a.Throttle.Attempt("dave", "198.51.100.2"), "the lock is lifted")
	_, err = a.Verify("dave", goodPassword)
	assert.Same(t, ErrWrongCredentials, err, "the old password is gone")
	_, err = a.SetPassword(newToken, "another good passphrase")
	require.NoError(t, err)
	_, err = a.Verify("dave", "another good passphrase")
	assert.NoError(t, err)

	_, _, err = a.Reset("nobody")
	assert.Same(t, ErrNoSuchAccount, err)
}

func TestLocalAccountsUseOnlyProfilesThatAdmitThem(t *testing.T) {
	dir := &Directory{}
	r := &enroll.Requester{Principal: records.NewPrincipal(KindLocal, "x"), Active: true}
	assert.False(t, dir.Admits(r, profile.Access{}), "a profile that says nothing of the portal")
	assert.False(t, dir.Admits(r, profile.Access{OIDCGroups: []string{"staff"}}))
	assert.True(t, dir.Admits(r, profile.Access{Portal: true}))
	assert.True(t, dir.Admits(r, profile.Access{LocalAccounts: true}))
	assert.False(t, dir.IsAdmin(r))
	assert.Empty(t, dir.Approvers("p", []string{"dave"}))
}

// A set-password link used from two browsers at once sets one password:
// the token is used up by a compare-and-set where it is kept.
func TestASetPasswordLinkUsedAtOnceSetsOnePassword(t *testing.T) {
	a := newAccounts()
	_, token, err := a.Add("dave", "dave@example.com", "mm:admin1")
	require.NoError(t, err)
	var set atomic.Int32
	var winner atomic.Value
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			password := fmt.Sprintf("racing passphrase %d", i)
			_, err := a.SetPassword(token, password)
			if err == nil {
				set.Add(1)
				winner.Store(password)
			} else {
				assert.Same(t, ErrPasswordLinkUsed, err)
			}
		})
	}
	wg.Wait()
	require.Equal(t, int32(1), set.Load())
	_, err = a.Verify("dave", winner.Load().(string))
	assert.NoError(t, err, "the password set is the winner's")
}
