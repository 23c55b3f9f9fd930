package local

import (
	"bytes"
	"errors"
	"fmt"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"

	"github.com/clientcerts/mattermost-plugin-certs/server/config"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/sealbox"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

// The codes every authenticator app makes by default: RFC 6238's SHA-1,
// six digits, every 30 seconds.
const (
	totpPeriod    = 30
	totpDigits    = otp.DigitsSix
	totpAlgorithm = otp.AlgorithmSHA1
	// totpSkew is how many steps before or after now a code may be of,
	// for a phone's clock a little off.
	totpSkew = 1
	// totpQRSize is the QR code's side in pixels: large enough for a
	// phone's camera across a desk.
	totpQRSize = 256
)

// TOTP is the authenticator-app second factor of local accounts. The
// secret is kept sealed, and pending until its owner types a code of it.
type TOTP struct {
	Store FactorStore
	// Key seals the secrets at rest: the plugin's, from its encryption
	// secret.
	Key *sealbox.Key
	// Issuer names the site in the owner's app.
	Issuer string
	Now    func() time.Time
}

// TOTPEnrolment is what the owner needs to add a new secret to their app.
// It is shown once: the secret is never handed out again.
type TOTPEnrolment struct {
	// URL is the otpauth:// URL the QR code holds.
	URL string
	// Secret is the base32 secret, for typing into an app without a camera.
	Secret string
	// QRCodePNG is the URL as a QR code, a PNG image.
	QRCodePNG []byte
}

// Refusals of authenticator-app codes.
var (
	ErrTOTPWrongCode = &enroll.Error{Code: enroll.CodeRefused, Message: "This code is not right.",
		Hint: "Type the code your authenticator app shows now."}
	ErrTOTPCodeUsed = &enroll.Error{Code: enroll.CodeConflict, Message: "This code was already used.",
		Next: enroll.NextTryLater, Hint: "Wait for your authenticator app to show the next code."}
	ErrNoPendingTOTP = &enroll.Error{Code: enroll.CodeConflict, Message: "No authenticator app is being set up for this account.",
		Hint: "Start setting it up again."}
	ErrNoTOTP = &enroll.Error{Code: enroll.CodeNotFound, Message: "This account has no authenticator app set up."}
)

// totpContext binds a sealed secret to its account: a copy moved to
// another account's record does not open.
func totpContext(accountID string) string { return "local account totp secret:" + accountID }

// Begin makes a new secret for an account and keeps it pending, replacing
// any pending one. A secret already in use keeps working until the new one
// is confirmed.
func (t *TOTP) Begin(accountID string) (*TOTPEnrolment, error) {
	account, err := t.Store.LocalAccount(accountID)
	if err != nil {
		return nil, err
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: t.Issuer, AccountName: account.Username,
		Period: totpPeriod, Digits: totpDigits, Algorithm: totpAlgorithm})
	if err != nil {
		return nil, fmt.Errorf("make a TOTP secret: %w", err)
	}
	sealed, err := t.Key.Seal([]byte(key.Secret()), totpContext(accountID))
	if err != nil {
		return nil, err
	}
	pending := &store.TOTPSecret{Sealed: []records.SealedKey{{KeyID: t.Key.ID(), Sealed: sealed}}, CreatedAt: t.Now()}
	if _, err := t.Store.UpdateTOTPFactor(accountID, func(f *store.TOTPFactor) error {
		f.Pending = pending
		return nil
	}); err != nil {
		return nil, err
	}
	img, err := key.Image(totpQRSize, totpQRSize)
	if err != nil {
		return nil, fmt.Errorf("draw the TOTP QR code: %w", err)
	}
	var qr bytes.Buffer
	if err := png.Encode(&qr, img); err != nil {
		return nil, fmt.Errorf("encode the TOTP QR code: %w", err)
	}
	return &TOTPEnrolment{URL: key.URL(), Secret: key.Secret(), QRCodePNG: qr.Bytes()}, nil
}

// Confirm makes the pending secret the account's when code is one of it;
// a wrong code leaves it pending. The confirming code cannot then sign in.
func (t *TOTP) Confirm(accountID, code string) error {
	now := t.Now()
	_, err := t.Store.UpdateTOTPFactor(accountID, func(f *store.TOTPFactor) error {
		if f.Pending == nil {
			return ErrNoPendingTOTP
		}
		secret, err := t.open(accountID, f.Pending)
		if err != nil {
			return err
		}
		step, ok := matchingStep(secret, code, now)
		if !ok {
			return ErrTOTPWrongCode
		}
		f.Active, f.Pending = f.Pending, nil
		f.LastStep = max(f.LastStep, step)
		return nil
	})
	return err
}

// Verify accepts a code of the account's secret, of the time step now or
// one either side, once: the step is recorded by compare-and-set, so of
// concurrent sign-ins with one code exactly one succeeds, and no code of
// that step or an earlier one is accepted after it. The portal asks its
// throttle first: six digits are guessed in a million tries.
func (t *TOTP) Verify(accountID, code string) error {
	now := t.Now()
	_, err := t.Store.UpdateTOTPFactor(accountID, func(f *store.TOTPFactor) error {
		if f.Active == nil {
			return ErrNoTOTP
		}
		secret, err := t.open(accountID, f.Active)
		if err != nil {
			return err
		}
		step, ok := matchingStep(secret, code, now)
		if !ok {
			return ErrTOTPWrongCode
		}
		if step <= f.LastStep {
			return ErrTOTPCodeUsed
		}
		f.LastStep = step
		return nil
	})
	return err
}

// Remove takes an account's authenticator app away, in use or pending (an
// admin's reset, or its owner's).
func (t *TOTP) Remove(accountID string) error {
	return t.Store.DeleteTOTPFactor(accountID)
}

func (t *TOTP) open(accountID string, secret *store.TOTPSecret) (string, error) {
	sealed, ok := config.FindSealed(secret.Sealed, t.Key.ID())
	if !ok {
		return "", errors.New("the TOTP secret was sealed with another encryption secret")
	}
	plain, err := t.Key.Open(sealed.Sealed, totpContext(accountID))
	if err != nil {
		return "", fmt.Errorf("open the TOTP secret: %w", err)
	}
	return string(plain), nil
}

// matchingStep is the time step, within the skew of at, that code is the
// code of.
func matchingStep(secret, code string, at time.Time) (int64, bool) {
	code = strings.ReplaceAll(code, " ", "") // apps show "123 456"
	opts := hotp.ValidateOpts{Digits: totpDigits, Algorithm: totpAlgorithm}
	current := at.Unix() / totpPeriod
	for step := current - totpSkew; step <= current+totpSkew; step++ {
		if ok, _ := hotp.ValidateCustom(code, uint64(step), secret, opts); ok {
			return step, true
		}
	}
	return 0, false
}

// ResealTOTP adds to every account's TOTP secrets a copy sealed under
// newKey of the one sealed under oldKey, so that they survive a change of
// the encryption secret. The old copies stay until DropStaleTOTPSeals (the
// save of the new secret could still fail). An account whose secret cannot
// be resealed does not stop the others'.
func ResealTOTP(s FactorStore, oldKey, newKey *sealbox.Key) error {
	ids, err := s.TOTPAccountIDs()
	if err != nil {
		return err
	}
	var failed []error
	for _, id := range ids {
		_, err := s.UpdateTOTPFactor(id, func(f *store.TOTPFactor) error {
			for _, secret := range []*store.TOTPSecret{f.Active, f.Pending} {
				if secret == nil {
					continue
				}
				resealed, err := config.Resealed(secret.Sealed, oldKey, newKey, totpContext(id))
				if err != nil {
					return err
				}
				secret.Sealed = resealed
			}
			return nil
		})
		if err != nil {
			failed = append(failed, fmt.Errorf("the TOTP secret of local account %s: %w", id, err))
		}
	}
	return errors.Join(failed...)
}

// DropStaleTOTPSeals keeps, of every account's TOTP secrets, only the copy
// sealed under keyID, once the secret it comes from is in use.
func DropStaleTOTPSeals(s FactorStore, keyID string) error {
	ids, err := s.TOTPAccountIDs()
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := s.UpdateTOTPFactor(id, func(f *store.TOTPFactor) error {
			for _, secret := range []*store.TOTPSecret{f.Active, f.Pending} {
				if secret != nil {
					secret.Sealed = config.KeepSealed(secret.Sealed, keyID)
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}
