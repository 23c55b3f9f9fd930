package local

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/randtoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

// FactorStore keeps the second factors of local accounts: authenticator
// apps, passkeys and the passkey ceremonies under way.
type FactorStore interface {
	LocalAccount(id string) (*store.LocalAccount, error)
	TOTPFactor(accountID string) (*store.TOTPFactor, error)
	UpdateTOTPFactor(accountID string, change func(*store.TOTPFactor) error) (*store.TOTPFactor, error)
	DeleteTOTPFactor(accountID string) error
	TOTPAccountIDs() ([]string, error)
	Passkeys(accountID string) ([]store.Passkey, error)
	UpdatePasskeys(accountID string, change func([]store.Passkey) ([]store.Passkey, error)) ([]store.Passkey, error)
	DeletePasskeys(accountID string) error
	SavePasskeyCeremony(hash string, c *store.PasskeyCeremony, ttl time.Duration) error
	TakePasskeyCeremony(hash string) (*store.PasskeyCeremony, error)
}

// SecondFactors are the second factors an account has set up, for the
// portal to apply its setting (off, optional, required).
type SecondFactors struct {
	// TOTP is an authenticator app confirmed (one being set up is not);
	// PendingTOTP one being set up.
	TOTP, PendingTOTP bool
	Passkeys          int
}

// Any is whether the account has a second factor.
func (f SecondFactors) Any() bool { return f.TOTP || f.Passkeys > 0 }

// Factors are the second factors an account has set up.
func Factors(s FactorStore, accountID string) (SecondFactors, error) {
	var factors SecondFactors
	f, err := s.TOTPFactor(accountID)
	if err != nil && !errors.Is(err, records.ErrNotFound) {
		return factors, err
	}
	factors.TOTP = f != nil && f.Active != nil
	factors.PendingTOTP = f != nil && f.Pending != nil
	passkeys, err := s.Passkeys(accountID)
	factors.Passkeys = len(passkeys)
	return factors, err
}

// RemoveAllFactors removes an account's authenticator app and passkeys,
// when the account is removed or an admin resets it.
func RemoveAllFactors(s FactorStore, accountID string) error {
	if err := s.DeleteTOTPFactor(accountID); err != nil {
		return err
	}
	return s.DeletePasskeys(accountID)
}

// ceremonyLifetime is how long a passkey registration or sign-in may take
// between its begin and its finish: long enough to find a security key.
const ceremonyLifetime = 5 * time.Minute

// maxPasskeyName bounds the name an owner gives a passkey, in characters.
const maxPasskeyName = 64

const (
	ceremonyRegistration = "registration"
	ceremonyLogin        = "login"
)

// Refusals of passkeys.
var (
	ErrCeremonyExpired = &enroll.Error{Code: enroll.CodeGone, Message: "This passkey request has expired or was already used.",
		Hint: "Start again."}
	ErrPasskeyWrongSite = &enroll.Error{Code: enroll.CodeRefused, Message: "This passkey answer was made for another site."}
	ErrPasskeyNotKnown  = &enroll.Error{Code: enroll.CodeRefused, Message: "This passkey is not registered for this account.",
		Hint: "Use a passkey you registered here, or another way to sign in."}
	ErrPasskeySignature = &enroll.Error{Code: enroll.CodeRefused, Message: "The passkey's signature is not valid."}
	ErrPasskeyCloned    = &enroll.Error{Code: enroll.CodeRefused, Next: enroll.NextAskAdmin,
		Message: "This passkey's use counter went backwards: it may have been copied.",
		Hint:    "Sign in another way and remove this passkey, or ask your administrator."}
	ErrPasskeyRegistered = &enroll.Error{Code: enroll.CodeConflict, Message: "This passkey is already registered for this account."}
	ErrNoPasskeys        = &enroll.Error{Code: enroll.CodeNotFound, Message: "This account has no passkey."}
	ErrPasskeyNotFound   = &enroll.Error{Code: enroll.CodeNotFound, Message: "This account has no such passkey."}
)

// RelyingParty is the site passkeys are made for.
type RelyingParty struct {
	// ID is the site's host name, without scheme or port: a passkey works
	// on this host only.
	ID string
	// Name is the site's name the browser shows when it asks for a passkey.
	Name string
	// Origins are the scheme://host[:port] the browser may answer from.
	Origins []string
}

// RelyingPartyOf is the relying party of the site at siteURL (Mattermost's
// Site URL), shown as name.
func RelyingPartyOf(siteURL, name string) (RelyingParty, error) {
	u, err := url.Parse(siteURL)
	if err != nil || u.Hostname() == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return RelyingParty{}, fmt.Errorf("passkeys need a Site URL such as https://chat.example.com, not %q", siteURL)
	}
	// Browsers send the host in lower case, and no default port.
	host := strings.ToLower(u.Host)
	if port := u.Port(); (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		host = strings.ToLower(u.Hostname())
	}
	return RelyingParty{ID: strings.ToLower(u.Hostname()), Name: name, Origins: []string{u.Scheme + "://" + host}}, nil
}

// Passkeys is the passkey (WebAuthn) second factor of local accounts.
// Every ceremony is begun by the server, which keeps its challenge for
// ceremonyLifetime under a random id, for one finish.
type Passkeys struct {
	store    FactorStore
	now      func() time.Time
	rp       RelyingParty
	webauthn *webauthn.WebAuthn
}

// NewPasskeys makes passkeys for the relying party rp.
func NewPasskeys(s FactorStore, rp RelyingParty, now func() time.Time) (*Passkeys, error) {
	w, err := webauthn.New(&webauthn.Config{
		RPID:          rp.ID,
		RPDisplayName: rp.Name,
		RPOrigins:     rp.Origins,
		// No attestation: which maker's authenticator it is decides nothing
		// here, and asking makes browsers warn.
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:        protocol.ResidentKeyRequirementPreferred,
			RequireResidentKey: protocol.ResidentKeyNotRequired(),
			UserVerification:   protocol.VerificationPreferred,
		},
		// The browser's timeouts; the server enforces ceremonyLifetime on
		// its own clock.
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: ceremonyLifetime, TimeoutUVD: ceremonyLifetime},
			Registration: webauthn.TimeoutConfig{Timeout: ceremonyLifetime, TimeoutUVD: ceremonyLifetime},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("passkeys cannot be set up for %s: %w", rp.ID, err)
	}
	return &Passkeys{store: s, now: now, rp: rp, webauthn: w}, nil
}

// PasskeyCeremony is a registration or sign-in begun: the page hands
// Options to the browser and sends the browser's answer back with ID.
type PasskeyCeremony struct {
	ID string
	// Options is, for a registration, PublicKeyCredentialCreationOptionsJSON
	// (for PublicKeyCredential.parseCreationOptionsFromJSON); for a sign-in,
	// PublicKeyCredentialRequestOptionsJSON (parseRequestOptionsFromJSON).
	Options json.RawMessage
}

// BeginRegistration begins registering a new passkey for an account. The
// account's passkeys are excluded: an authenticator that holds one of them
// declines.
func (p *Passkeys) BeginRegistration(account *store.LocalAccount) (*PasskeyCeremony, error) {
	user, err := p.userOf(account)
	if err != nil {
		return nil, err
	}
	exclusions := webauthn.Credentials(user.credentials).CredentialDescriptors()
	creation, session, err := p.webauthn.BeginRegistration(user, webauthn.WithExclusions(exclusions))
	if err != nil {
		return nil, err
	}
	return p.begin(account.ID, ceremonyRegistration, creation.Response, session)
}

// FinishRegistration checks the browser's answer (RegistrationResponseJSON,
// as PublicKeyCredential.toJSON writes it) to a registration, and keeps the
// new passkey under name. The ceremony is used up whatever the answer.
func (p *Passkeys) FinishRegistration(account *store.LocalAccount, ceremonyID, name string, response []byte) (*store.Passkey, error) {
	name = strings.TrimSpace(name)
	if len([]rune(name)) > maxPasskeyName {
		return nil, invalid("A passkey's name has at most %d characters.", maxPasskeyName)
	}
	session, err := p.take(account, ceremonyID, ceremonyRegistration)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return nil, unreadable(err)
	}
	if err := p.checkSite(parsed.Response.CollectedClientData.Origin, parsed.Response.AttestationObject.AuthData.RPIDHash); err != nil {
		return nil, err
	}
	user, err := p.userOf(account)
	if err != nil {
		return nil, err
	}
	if slices.ContainsFunc(user.credentials, func(c webauthn.Credential) bool { return bytes.Equal(c.ID, parsed.RawID) }) {
		return nil, ErrPasskeyRegistered
	}
	credential, err := p.webauthn.CreateCredential(user, *session, parsed)
	if err != nil {
		return nil, refusal(err)
	}
	passkey := store.Passkey{
		ID:                base64.RawURLEncoding.EncodeToString(credential.ID),
		PublicKey:         credential.PublicKey,
		SignCount:         credential.Authenticator.SignCount,
		AAGUID:            credential.Authenticator.AAGUID,
		BackupEligible:    credential.Flags.BackupEligible,
		BackupState:       credential.Flags.BackupState,
		UserVerified:      credential.Flags.UserVerified,
		AttestationFormat: credential.AttestationFormat,
		Name:              name,
		CreatedAt:         p.now(),
	}
	for _, t := range credential.Transport {
		passkey.Transports = append(passkey.Transports, string(t))
	}
	_, err = p.store.UpdatePasskeys(account.ID, func(list []store.Passkey) ([]store.Passkey, error) {
		if passkeyIndex(list, passkey.ID) >= 0 {
			return nil, ErrPasskeyRegistered
		}
		if passkey.Name == "" {
			passkey.Name = fmt.Sprintf("Passkey %d", len(list)+1)
		}
		return append(list, passkey), nil
	})
	if err != nil {
		return nil, err
	}
	return &passkey, nil
}

// BeginLogin begins a sign-in with one of an account's passkeys.
func (p *Passkeys) BeginLogin(account *store.LocalAccount) (*PasskeyCeremony, error) {
	user, err := p.userOf(account)
	if err != nil {
		return nil, err
	}
	if len(user.credentials) == 0 {
		return nil, ErrNoPasskeys
	}
	assertion, session, err := p.webauthn.BeginLogin(user)
	if err != nil {
		return nil, err
	}
	return p.begin(account.ID, ceremonyLogin, assertion.Response, session)
}

// FinishLogin checks the browser's answer (AuthenticationResponseJSON) to
// a sign-in and returns the passkey that signed. Its use counter is
// recorded by compare-and-set; one that did not go up (unless the
// authenticator keeps none) is refused as a copied authenticator's. The
// ceremony is used up whatever the answer.
func (p *Passkeys) FinishLogin(account *store.LocalAccount, ceremonyID string, response []byte) (*store.Passkey, error) {
	session, err := p.take(account, ceremonyID, ceremonyLogin)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return nil, unreadable(err)
	}
	if err := p.checkSite(parsed.Response.CollectedClientData.Origin, parsed.Response.AuthenticatorData.RPIDHash); err != nil {
		return nil, err
	}
	user, err := p.userOf(account)
	if err != nil {
		return nil, err
	}
	id := base64.RawURLEncoding.EncodeToString(parsed.RawID)
	if !slices.ContainsFunc(user.credentials, func(c webauthn.Credential) bool { return bytes.Equal(c.ID, parsed.RawID) }) {
		return nil, ErrPasskeyNotKnown
	}
	credential, err := p.webauthn.ValidateLogin(user, *session, parsed)
	if err != nil {
		return nil, refusal(err)
	}
	count := parsed.Response.AuthenticatorData.Counter
	now := p.now()
	var used store.Passkey
	_, err = p.store.UpdatePasskeys(account.ID, func(list []store.Passkey) ([]store.Passkey, error) {
		i := passkeyIndex(list, id)
		if i < 0 {
			return nil, ErrPasskeyNotKnown // removed meanwhile
		}
		if count <= list[i].SignCount && (count != 0 || list[i].SignCount != 0) {
			return nil, ErrPasskeyCloned
		}
		list[i].SignCount, list[i].BackupState, list[i].LastUsedAt = count, credential.Flags.BackupState, now
		used = list[i]
		return list, nil
	})
	if err != nil {
		return nil, err
	}
	return &used, nil
}

// List is an account's passkeys, oldest first.
func (p *Passkeys) List(accountID string) ([]store.Passkey, error) {
	return p.store.Passkeys(accountID)
}

// Remove removes one of an account's passkeys, by its id (store.Passkey's
// ID).
func (p *Passkeys) Remove(accountID, passkeyID string) error {
	_, err := p.store.UpdatePasskeys(accountID, func(list []store.Passkey) ([]store.Passkey, error) {
		i := passkeyIndex(list, passkeyID)
		if i < 0 {
			return nil, ErrPasskeyNotFound
		}
		return slices.Delete(list, i, i+1), nil
	})
	return err
}

// begin keeps a ceremony's session data for its finish, and returns the
// options for the browser.
func (p *Passkeys) begin(accountID, kind string, options any, session *webauthn.SessionData) (*PasskeyCeremony, error) {
	sessionJSON, err := json.Marshal(session)
	if err != nil {
		return nil, err
	}
	optionsJSON, err := json.Marshal(options)
	if err != nil {
		return nil, err
	}
	id, err := randtoken.New()
	if err != nil {
		return nil, err
	}
	ceremony := &store.PasskeyCeremony{AccountID: accountID, Kind: kind, Session: sessionJSON, ExpiresAt: p.now().Add(ceremonyLifetime)}
	if err := p.store.SavePasskeyCeremony(randtoken.Hash(id), ceremony, ceremonyLifetime); err != nil {
		return nil, err
	}
	return &PasskeyCeremony{ID: id, Options: optionsJSON}, nil
}

// take uses a ceremony up, atomically, and returns its session data if it
// is the account's, of kind, and not expired.
func (p *Passkeys) take(account *store.LocalAccount, ceremonyID, kind string) (*webauthn.SessionData, error) {
	ceremony, err := p.store.TakePasskeyCeremony(randtoken.Hash(ceremonyID))
	if errors.Is(err, records.ErrNotFound) {
		return nil, ErrCeremonyExpired
	}
	if err != nil {
		return nil, err
	}
	if ceremony.AccountID != account.ID || ceremony.Kind != kind || !p.now().Before(ceremony.ExpiresAt) {
		return nil, ErrCeremonyExpired
	}
	session := &webauthn.SessionData{}
	if err := json.Unmarshal(ceremony.Session, session); err != nil {
		return nil, fmt.Errorf("decode passkey session: %w", err)
	}
	return session, nil
}

// checkSite refuses an answer made at another origin or for another RP ID
// with a message of its own; the library checks both again.
func (p *Passkeys) checkSite(origin string, rpIDHash []byte) error {
	want := sha256.Sum256([]byte(p.rp.ID))
	if !protocol.IsOriginInHaystack(origin, p.rp.Origins) || !bytes.Equal(rpIDHash, want[:]) {
		return ErrPasskeyWrongSite
	}
	return nil
}

func unreadable(err error) error {
	return &enroll.Error{Code: enroll.CodeInvalid, Message: "The browser's passkey answer cannot be read.", Err: err}
}

// refusal words the library's refusal of an answer.
func refusal(err error) error {
	var unknown *protocol.ErrorUnknownCredential
	if errors.As(err, &unknown) {
		return ErrPasskeyNotKnown
	}
	var perr *protocol.Error
	if errors.As(err, &perr) && perr.Type == protocol.ErrAssertionSignature.Type {
		return ErrPasskeySignature
	}
	return &enroll.Error{Code: enroll.CodeRefused, Message: "The passkey's answer was refused.", Err: err}
}

func passkeyIndex(list []store.Passkey, id string) int {
	return slices.IndexFunc(list, func(p store.Passkey) bool { return p.ID == id })
}

// passkeyUser is a local account as WebAuthn sees it. Its user handle is
// the account id, which is random and stays when the username changes.
type passkeyUser struct {
	account     *store.LocalAccount
	credentials []webauthn.Credential
}

func (u *passkeyUser) WebAuthnID() []byte                         { return []byte(u.account.ID) }
func (u *passkeyUser) WebAuthnName() string                       { return u.account.Username }
func (u *passkeyUser) WebAuthnDisplayName() string                { return u.account.Username }
func (u *passkeyUser) WebAuthnCredentials() []webauthn.Credential { return u.credentials }

func (p *Passkeys) userOf(account *store.LocalAccount) (*passkeyUser, error) {
	passkeys, err := p.store.Passkeys(account.ID)
	if err != nil {
		return nil, err
	}
	user := &passkeyUser{account: account}
	for _, k := range passkeys {
		id, err := base64.RawURLEncoding.DecodeString(k.ID)
		if err != nil {
			return nil, fmt.Errorf("stored passkey id %q: %w", k.ID, err)
		}
		credential := webauthn.Credential{
			ID:                id,
			PublicKey:         k.PublicKey,
			AttestationFormat: k.AttestationFormat,
			Flags: webauthn.CredentialFlags{UserPresent: true, UserVerified: k.UserVerified,
				BackupEligible: k.BackupEligible, BackupState: k.BackupState},
			Authenticator: webauthn.Authenticator{AAGUID: k.AAGUID, SignCount: k.SignCount},
		}
		for _, t := range k.Transports {
			credential.Transport = append(credential.Transport, protocol.AuthenticatorTransport(t))
		}
		user.credentials = append(user.credentials, credential)
	}
	return user, nil
}
