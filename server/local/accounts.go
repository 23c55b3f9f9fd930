// Package local is the directory of local accounts: people an admin made
// an account for on the portal, with a password they set themselves. The
// portal signs them in; chat and the admin API manage them.
package local

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/clientcerts/mattermost-plugin-certs/server/admission"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/randtoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

// KindLocal is the kind of principal of a local account: local:<id>.
const KindLocal = "local"

// Password rules: long enough to resist guessing offline, short enough for
// bcrypt, which reads 72 bytes.
const (
	MinPasswordLength = 12
	maxPasswordBytes  = 72
	// PasswordLinkLifetime is how long a set-password link works.
	PasswordLinkLifetime = 72 * time.Hour
)

// AccountStore keeps local accounts and their set-password tokens.
type AccountStore interface {
	CreateLocalAccount(a *store.LocalAccount) error
	LocalAccount(id string) (*store.LocalAccount, error)
	LocalAccountByName(username string) (*store.LocalAccount, error)
	UpdateLocalAccount(id string, change func(*store.LocalAccount) error) (*store.LocalAccount, error)
	RemoveLocalAccount(id, by string, at time.Time) (*store.LocalAccount, error)
	LocalAccounts() ([]*store.LocalAccount, error)
	SavePasswordToken(hash, accountID string, ttl time.Duration) error
	PasswordTokenAccount(hash string) (string, error)
	UsePasswordToken(hash string) (string, error)
}

// Accounts are the portal's local accounts: made by an admin, each with a
// password its owner sets through a single-use link.
type Accounts struct {
	Store AccountStore
	Now   func() time.Time
	// Cost is bcrypt's cost; 0 is bcrypt.DefaultCost (tests use less).
	Cost int
	// PasswordChecks bounds the password checks (bcrypt) running and
	// waiting at once, so that sign-ins from many addresses cannot take
	// every CPU; nil bounds nothing.
	PasswordChecks *admission.Queue
	// Throttle's counts are forgotten when an admin resets or removes an
	// account; nil when nothing throttles.
	Throttle *Throttle
	// Factors keeps the accounts' second factors, which a reset or a
	// removal forgets; nil when none are kept.
	Factors FactorStore
	// Removed is told of every account an admin removed, to act on its
	// certificates as the deactivation setting says; nil does nothing.
	Removed func(owner *enroll.Requester)

	unknownOnce sync.Once
	unknownHash []byte
}

func (a *Accounts) cost() int {
	if a.Cost == 0 {
		return bcrypt.DefaultCost
	}
	return a.Cost
}

// Refusals of local accounts.
var (
	// ErrWrongCredentials answers every failed sign-in alike: an unknown
	// name, a wrong password, an account without a password yet.
	ErrWrongCredentials = errors.New("the username or the password is wrong")
	ErrPasswordLinkUsed = &enroll.Error{Code: enroll.CodeGone, Next: enroll.NextAskAdmin,
		Message: "This set-password link was used or has expired.", Hint: "Ask your administrator for a new one."}
	ErrUsernameTaken = &enroll.Error{Code: enroll.CodeConflict, Message: "A local account already has this username."}
	ErrNoSuchAccount = &enroll.Error{Code: enroll.CodeNotFound, Message: "No local account has this username."}
)

func invalid(format string, args ...any) *enroll.Error {
	return &enroll.Error{Code: enroll.CodeInvalid, Message: fmt.Sprintf(format, args...)}
}

var usernamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,62}[a-z0-9]$`)

// PrincipalOf is the principal of a local account.
func PrincipalOf(a *store.LocalAccount) records.Principal {
	return records.NewPrincipal(KindLocal, a.ID)
}

// Add makes an account for username and email (by an admin, by) and
// returns the token of its set-password link.
func (a *Accounts) Add(username, email, by string) (*store.LocalAccount, string, error) {
	username = strings.ToLower(strings.TrimSpace(username))
	if !usernamePattern.MatchString(username) {
		return nil, "", invalid("A username is 3 to 64 lowercase letters, digits, dots, dashes or underscores, starting and ending with a letter or digit.")
	}
	parsed, err := mail.ParseAddress(email)
	if err != nil || parsed.Address != strings.TrimSpace(email) {
		return nil, "", invalid("%q is not an email address.", email)
	}
	id, err := randtoken.New()
	if err != nil {
		return nil, "", err
	}
	account := &store.LocalAccount{ID: id[:26], Username: username, Email: parsed.Address, CreatedAt: a.Now(), CreatedBy: by}
	if err := a.Store.CreateLocalAccount(account); err != nil {
		if errors.Is(err, store.ErrUsernameTaken) {
			return nil, "", ErrUsernameTaken
		}
		return nil, "", err
	}
	token, err := a.NewPasswordLink(account.ID)
	if err != nil {
		return nil, "", err
	}
	return account, token, nil
}

// NewPasswordLink makes a new set-password link for an account (its first,
// or a reset by an admin) and returns its token. Links made before stay
// valid until used or expired.
func (a *Accounts) NewPasswordLink(accountID string) (string, error) {
	if _, err := a.Store.LocalAccount(accountID); err != nil {
		return "", err
	}
	token, err := randtoken.New()
	if err != nil {
		return "", err
	}
	if err := a.Store.SavePasswordToken(randtoken.Hash(token), accountID, PasswordLinkLifetime); err != nil {
		return "", err
	}
	return token, nil
}

// PasswordLinkAccount is the account a set-password link is for, without
// using the link; ErrPasswordLinkUsed when it was used, expired, or its
// account removed.
func (a *Accounts) PasswordLinkAccount(token string) (*store.LocalAccount, error) {
	if token == "" {
		return nil, ErrPasswordLinkUsed
	}
	id, err := a.Store.PasswordTokenAccount(randtoken.Hash(token))
	if errors.Is(err, records.ErrNotFound) {
		return nil, ErrPasswordLinkUsed
	}
	if err != nil {
		return nil, err
	}
	account, err := a.Store.LocalAccount(id)
	if errors.Is(err, records.ErrNotFound) || (err == nil && account.Removed()) {
		return nil, ErrPasswordLinkUsed
	}
	return account, err
}

// SetPassword sets the password of the account a link's token names, and
// uses the token up. A password the rules refuse leaves the link usable.
func (a *Accounts) SetPassword(token, password string) (*store.LocalAccount, error) {
	account, err := a.PasswordLinkAccount(token)
	if err != nil {
		return nil, err
	}
	id := account.ID
	if err := CheckPassword(password, account.Username, account.Email); err != nil {
		return nil, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), a.cost())
	if err != nil {
		return nil, err
	}
	if _, err := a.Store.UsePasswordToken(randtoken.Hash(token)); errors.Is(err, records.ErrNotFound) {
		return nil, ErrPasswordLinkUsed
	} else if err != nil {
		return nil, err
	}
	now := a.Now()
	return a.Store.UpdateLocalAccount(id, func(acct *store.LocalAccount) error {
		if acct.Removed() {
			return ErrPasswordLinkUsed
		}
		acct.PasswordHash, acct.PasswordAt = hash, now
		return nil
	})
}

// byName is the account username names now, ErrNoSuchAccount for none.
func (a *Accounts) byName(username string) (*store.LocalAccount, error) {
	account, err := a.Store.LocalAccountByName(strings.ToLower(strings.TrimSpace(username)))
	if errors.Is(err, records.ErrNotFound) {
		return nil, ErrNoSuchAccount
	}
	return account, err
}

// Reset is an admin's answer to a forgotten password or a lost device: the
// password is cleared, sessions signed in before now end, failed sign-ins
// and the lock are forgotten, and a new set-password link is made.
func (a *Accounts) Reset(username string) (*store.LocalAccount, string, error) {
	account, err := a.byName(username)
	if err != nil {
		return nil, "", err
	}
	now := a.Now()
	account, err = a.Store.UpdateLocalAccount(account.ID, func(acct *store.LocalAccount) error {
		acct.PasswordHash, acct.ResetAt = nil, now
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	if a.Throttle != nil {
		if err := a.Throttle.Unlock(account.Username); err != nil {
			return nil, "", err
		}
	}
	if a.Factors != nil {
		// A reset answers a lost device too: the owner sets up again.
		if err := RemoveAllFactors(a.Factors, account.ID); err != nil {
			return nil, "", err
		}
	}
	token, err := a.NewPasswordLink(account.ID)
	return account, token, err
}

// Remove removes an account (an admin's decision, by): it can no longer
// sign in, its name is free for someone else, and its certificates meet
// the deactivation setting through Removed.
func (a *Accounts) Remove(username, by string) (*store.LocalAccount, error) {
	account, err := a.byName(username)
	if err != nil {
		return nil, err
	}
	account, err = a.Store.RemoveLocalAccount(account.ID, by, a.Now())
	if errors.Is(err, records.ErrNotFound) {
		return nil, ErrNoSuchAccount
	}
	if err != nil {
		return nil, err
	}
	if a.Throttle != nil {
		_ = a.Throttle.Unlock(account.Username)
	}
	if a.Factors != nil {
		_ = RemoveAllFactors(a.Factors, account.ID)
	}
	if a.Removed != nil {
		a.Removed(RequesterOf(account))
	}
	return account, nil
}

// List is every account not removed, by username.
func (a *Accounts) List() ([]*store.LocalAccount, error) {
	accounts, err := a.Store.LocalAccounts()
	if err != nil {
		return nil, err
	}
	slices.SortFunc(accounts, func(x, y *store.LocalAccount) int { return strings.Compare(x.Username, y.Username) })
	return accounts, nil
}

// Unlock lifts the lock failed sign-ins put on an account's name.
func (a *Accounts) Unlock(username string) error {
	account, err := a.byName(username)
	if err != nil {
		return err
	}
	if a.Throttle == nil {
		return nil
	}
	return a.Throttle.Unlock(account.Username)
}

// ErrTooManySignIns is a password check the server has no room for now.
var ErrTooManySignIns = &enroll.Error{Code: enroll.CodeBusy, RetryAfter: time.Second, Next: enroll.NextTryAgain,
	Message: "Too many sign-ins at once; try again in a moment."}

// NewPasswordChecks is a bound for password checks on this machine: one
// bcrypt at a time per two CPUs, and a line of a few seconds of them.
func NewPasswordChecks() *admission.Queue {
	workers := max(1, runtime.NumCPU()/2)
	return admission.NewQueue(workers, int64(32*workers))
}

// Verify is the account a username and password sign in as, or
// ErrWrongCredentials. It costs one bcrypt comparison whether the account
// exists or not, so neither the answer nor its time tells which names
// exist; ErrTooManySignIns when the machine has no room for one now. The
// portal asks its throttle first.
func (a *Accounts) Verify(username, password string) (*store.LocalAccount, error) {
	if a.PasswordChecks == nil {
		return a.verify(username, password)
	}
	ticket, err := a.PasswordChecks.Admit(1)
	if err != nil {
		return nil, ErrTooManySignIns
	}
	defer ticket.Release()
	var account *store.LocalAccount
	err = ticket.Do(context.Background(), func() error {
		var err error
		account, err = a.verify(username, password)
		return err
	})
	return account, err
}

func (a *Accounts) verify(username, password string) (*store.LocalAccount, error) {
	account, err := a.Store.LocalAccountByName(username)
	if err != nil && !errors.Is(err, records.ErrNotFound) {
		return nil, err
	}
	hash := a.unknownAccountHash()
	if account != nil && len(account.PasswordHash) > 0 {
		hash = account.PasswordHash
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || account == nil || len(account.PasswordHash) == 0 {
		return nil, ErrWrongCredentials
	}
	return account, nil
}

// CheckPassword applies the password rules: long enough, not too long for
// bcrypt, and not containing the account's own names.
func CheckPassword(password string, names ...string) error {
	if len([]rune(password)) < MinPasswordLength {
		return invalid("A password has at least %d characters.", MinPasswordLength)
	}
	if len(password) > maxPasswordBytes {
		return invalid("A password has at most %d bytes.", maxPasswordBytes)
	}
	lower := strings.ToLower(password)
	for _, name := range names {
		name, _, _ = strings.Cut(strings.ToLower(name), "@")
		if len(name) >= 3 && strings.Contains(lower, name) {
			return invalid("A password may not contain your username or your email's name.")
		}
	}
	return nil
}

// unknownAccountHash is a bcrypt hash, of the accounts' cost, of a
// password nobody knows, compared against when a name has no account, so
// that such a sign-in costs what a wrong password costs.
func (a *Accounts) unknownAccountHash() []byte {
	a.unknownOnce.Do(func() {
		secret := make([]byte, 32)
		_, _ = rand.Read(secret)
		hash, err := bcrypt.GenerateFromPassword(secret, a.cost())
		if err != nil {
			panic(err)
		}
		a.unknownHash = hash
	})
	return a.unknownHash
}
