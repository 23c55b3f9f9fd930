package local

import (
	"bytes"
	"image/png"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/pluginapi"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/clientcerts/mattermost-plugin-certs/server/clocktest"
	"github.com/clientcerts/mattermost-plugin-certs/server/sealbox"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

// factorsFixture is a store with one local account, dave, and a clock.
type factorsFixture struct {
	kv      *pluginapi.MemoryStore
	store   *store.Store
	clock   *clocktest.Clock
	account *store.LocalAccount
}

func newFactorsFixture(t *testing.T) *factorsFixture {
	kv := &pluginapi.MemoryStore{}
	clock := clocktest.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	s := store.New(kv)
	accounts := &Accounts{Store: s, Now: clock.Now, Cost: bcrypt.MinCost}
	account, _, err := accounts.Add("dave", "dave@example.com", "mm:admin1")
	require.NoError(t, err)
	return &factorsFixture{kv: kv, store: s, clock: clock, account: account}
}

func sealKey(t *testing.T, secret string) *sealbox.Key {
	key, err := sealbox.NewKey(strings.Repeat(secret, 32))
	require.NoError(t, err)
	return key
}

func (f *factorsFixture) totp(key *sealbox.Key) *TOTP {
	return &TOTP{Store: f.store, Key: key, Issuer: "Example Certificates", Now: f.clock.Now}
}

// codeAt is what an authenticator app with secret shows at.
func codeAt(t *testing.T, secret string, at time.Time) string {
	code, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	require.NoError(t, err)
	return code
}

// enrolled is dave with an authenticator app confirmed; it returns the
// app's secret.
func (f *factorsFixture) enrolled(t *testing.T, app *TOTP) string {
	enrolment, err := app.Begin(f.account.ID)
	require.NoError(t, err)
	require.NoError(t, app.Confirm(f.account.ID, codeAt(t, enrolment.Secret, f.clock.Now())))
	return enrolment.Secret
}

func TestAnAuthenticatorAppIsConfirmedBeforeItSignsIn(t *testing.T) {
	f := newFactorsFixture(t)
	app := f.totp(sealKey(t, "a"))

	enrolment, err := app.Begin(f.account.ID)
	require.NoError(t, err)
	link, err := url.Parse(enrolment.URL)
	require.NoError(t, err)
	assert.Equal(t, "otpauth", link.Scheme)
	assert.Equal(t, "/Example Certificates:dave", link.Path)
	assert.Equal(t, enrolment.Secret, link.Query().Get("secret"))
	assert.Equal(t, "SHA1", link.Query().Get("algorithm"))
	assert.Equal(t, "6", link.Query().Get("digits"))
	assert.Equal(t, "30", link.Query().Get("period"))
	qr, err := png.Decode(bytes.NewReader(enrolment.QRCodePNG))
	require.NoError(t, err)
	assert.Equal(t, totpQRSize, qr.Bounds().Dx())

	factors, err := Factors(f.store, f.account.ID)
	require.NoError(t, err)
	assert.False(t, factors.Any(), "a pending secret is no factor yet")
	assert.Same(t, ErrNoTOTP, app.Verify(f.account.ID, codeAt(t, enrolment.Secret, f.clock.Now())))

	assert.Same(t, ErrTOTPWrongCode, app.Confirm(f.account.ID, "000000"))
	assert.Same(t, ErrTOTPWrongCode, app.Confirm(f.account.ID, "not a code"))
	code := codeAt(t, enrolment.Secret, f.clock.Now())
	require.NoError(t, app.Confirm(f.account.ID, code[:3]+" "+code[3:]), "a wrong code kept it pending; spaces as apps show them are fine")
	assert.Same(t, ErrNoPendingTOTP, app.Confirm(f.account.ID, code))

	factors, err = Factors(f.store, f.account.ID)
	require.NoError(t, err)
	assert.Equal(t, SecondFactors{TOTP: true}, factors)
	assert.Same(t, ErrTOTPCodeUsed, app.Verify(f.account.ID, code), "the confirming code signs nobody in")
	f.clock.Advance(30 * time.Second)
	require.NoError(t, app.Verify(f.account.ID, codeAt(t, enrolment.Secret, f.clock.Now())))
}

func TestACodeIsAcceptedOneStepEitherSideOfNow(t *testing.T) {
	f := newFactorsFixture(t)
	app := f.totp(sealKey(t, "a"))
	secret := f.enrolled(t, app)
	f.clock.Advance(2 * time.Minute)
	now := f.clock.Now()

	assert.Same(t, ErrTOTPWrongCode, app.Verify(f.account.ID, codeAt(t, secret, now.Add(-60*time.Second))), "two steps late")
	assert.Same(t, ErrTOTPWrongCode, app.Verify(f.account.ID, codeAt(t, secret, now.Add(60*time.Second))), "two steps early")
	require.NoError(t, app.Verify(f.account.ID, codeAt(t, secret, now.Add(-30*time.Second))), "one step late")
	require.NoError(t, app.Verify(f.account.ID, codeAt(t, secret, now.Add(30*time.Second))), "one step early")
	assert.Same(t, ErrTOTPCodeUsed, app.Verify(f.account.ID, codeAt(t, secret, now)),
		"a step before the last accepted one is refused too")
}

func TestACodeSignsInOnce(t *testing.T) {
	f := newFactorsFixture(t)
	app := f.totp(sealKey(t, "a"))
	secret := f.enrolled(t, app)
	f.clock.Advance(30 * time.Second)
	code := codeAt(t, secret, f.clock.Now())

	require.NoError(t, app.Verify(f.account.ID, code))
	assert.Same(t, ErrTOTPCodeUsed, app.Verify(f.account.ID, code))
	f.clock.Advance(10 * time.Second)
	assert.Same(t, ErrTOTPCodeUsed, app.Verify(f.account.ID, code), "still within its step and the skew")
}

func TestOfConcurrentSignInsWithOneCodeExactlyOneSucceeds(t *testing.T) {
	f := newFactorsFixture(t)
	app := f.totp(sealKey(t, "a"))
	secret := f.enrolled(t, app)
	f.clock.Advance(30 * time.Second)
	code := codeAt(t, secret, f.clock.Now())

	exactlyOneSucceeds(t, 20, ErrTOTPCodeUsed, func() error { return app.Verify(f.account.ID, code) })
}

// exactlyOneSucceeds runs try tries times at once: one succeeds, and every
// other is refused with refusal.
func exactlyOneSucceeds(t *testing.T, tries int, refusal error, try func() error) {
	t.Helper()
	errs := make([]error, tries)
	var wg sync.WaitGroup
	for i := range tries {
		wg.Go(func() { errs[i] = try() })
	}
	wg.Wait()
	succeeded := 0
	for _, err := range errs {
		if err == nil {
			succeeded++
		} else {
			assert.Same(t, refusal, err)
		}
	}
	assert.Equal(t, 1, succeeded)
}

func TestANewAppReplacesTheOldOnlyWhenConfirmed(t *testing.T) {
	f := newFactorsFixture(t)
	app := f.totp(sealKey(t, "a"))
	old := f.enrolled(t, app)

	first, err := app.Begin(f.account.ID)
	require.NoError(t, err)
	second, err := app.Begin(f.account.ID)
	require.NoError(t, err)
	assert.NotEqual(t, first.Secret, second.Secret)
	f.clock.Advance(30 * time.Second)
	require.NoError(t, app.Verify(f.account.ID, codeAt(t, old, f.clock.Now())), "the app in use works while another is set up")

	f.clock.Advance(30 * time.Second)
	assert.Same(t, ErrTOTPWrongCode, app.Confirm(f.account.ID, codeAt(t, first.Secret, f.clock.Now())), "a second Begin replaced the first")
	require.NoError(t, app.Confirm(f.account.ID, codeAt(t, second.Secret, f.clock.Now())))
	f.clock.Advance(30 * time.Second)
	assert.Same(t, ErrTOTPWrongCode, app.Verify(f.account.ID, codeAt(t, old, f.clock.Now())))
	require.NoError(t, app.Verify(f.account.ID, codeAt(t, second.Secret, f.clock.Now())))
}

func TestTheSecretIsStoredSealedToItsAccount(t *testing.T) {
	f := newFactorsFixture(t)
	app := f.totp(sealKey(t, "a"))
	secret := f.enrolled(t, app)
	pending, err := app.Begin(f.account.ID)
	require.NoError(t, err)

	var raw []byte
	require.NoError(t, f.kv.Get("local:totp:"+f.account.ID, &raw))
	require.NotEmpty(t, raw)
	for _, s := range []string{secret, pending.Secret} {
		assert.NotContains(t, strings.ToUpper(string(raw)), s)
		assert.NotContains(t, strings.ToLower(string(raw)), strings.ToLower(s))
	}

	// A record copied to another account does not open there.
	_, err = f.kv.Set("local:totp:someone-else", raw)
	require.NoError(t, err)
	f.clock.Advance(30 * time.Second)
	err = app.Verify("someone-else", codeAt(t, secret, f.clock.Now()))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), secret)
}

func TestSecretsAreResealedUnderANewEncryptionSecret(t *testing.T) {
	f := newFactorsFixture(t)
	oldKey, newKey := sealKey(t, "a"), sealKey(t, "b")
	secret := f.enrolled(t, f.totp(oldKey))
	pending, err := f.totp(oldKey).Begin(f.account.ID)
	require.NoError(t, err)

	require.NoError(t, ResealTOTP(f.store, oldKey, newKey))
	require.NoError(t, ResealTOTP(f.store, oldKey, newKey), "resealing twice adds nothing")
	record, err := f.store.TOTPFactor(f.account.ID)
	require.NoError(t, err)
	assert.Len(t, record.Active.Sealed, 2, "the old copy stays until the new secret is in use")

	f.clock.Advance(30 * time.Second)
	require.NoError(t, f.totp(newKey).Verify(f.account.ID, codeAt(t, secret, f.clock.Now())))
	require.NoError(t, f.totp(newKey).Confirm(f.account.ID, codeAt(t, pending.Secret, f.clock.Now().Add(30*time.Second))))

	require.NoError(t, DropStaleTOTPSeals(f.store, newKey.ID()))
	record, err = f.store.TOTPFactor(f.account.ID)
	require.NoError(t, err)
	require.Len(t, record.Active.Sealed, 1)
	assert.Equal(t, newKey.ID(), record.Active.Sealed[0].KeyID)
	f.clock.Advance(time.Minute)
	assert.Error(t, f.totp(oldKey).Verify(f.account.ID, codeAt(t, pending.Secret, f.clock.Now())), "the old secret opens nothing now")
	require.NoError(t, f.totp(newKey).Verify(f.account.ID, codeAt(t, pending.Secret, f.clock.Now())))
}

func TestAnAdminRemovesTheApp(t *testing.T) {
	f := newFactorsFixture(t)
	app := f.totp(sealKey(t, "a"))
	secret := f.enrolled(t, app)

	require.NoError(t, app.Remove(f.account.ID))
	factors, err := Factors(f.store, f.account.ID)
	require.NoError(t, err)
	assert.False(t, factors.TOTP)
	f.clock.Advance(30 * time.Second)
	assert.Same(t, ErrNoTOTP, app.Verify(f.account.ID, codeAt(t, secret, f.clock.Now())))
	ids, err := f.store.TOTPAccountIDs()
	require.NoError(t, err)
	assert.Empty(t, ids)
}
