package local

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

const siteOrigin = "https://chat.example.com"

var b64 = base64.RawURLEncoding

// softAuthenticator is a passkey in software, and the browser around it:
// it answers the options the server hands the browser as a browser would,
// with what a test makes it get wrong.
type softAuthenticator struct {
	key          *ecdsa.PrivateKey
	credentialID []byte
	aaguid       []byte
	signCount    uint32
	// origin is where the browser is; rpID, when set, is the RP ID the
	// authenticator signs for instead of the one asked.
	origin string
	rpID   string
	// signer, when set, signs instead of the registered key.
	signer *ecdsa.PrivateKey
}

func newSoftAuthenticator(t *testing.T) *softAuthenticator {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	a := &softAuthenticator{key: key, credentialID: make([]byte, 16), aaguid: make([]byte, 16), origin: siteOrigin}
	_, _ = rand.Read(a.credentialID)
	_, _ = rand.Read(a.aaguid)
	return a
}

// Flags of authenticator data: user present, user verified, attested
// credential data included.
const (
	flagUP = 0x01
	flagUV = 0x04
	flagAT = 0x40
)

func (a *softAuthenticator) clientData(t *testing.T, ceremony, challenge string) []byte {
	raw, err := json.Marshal(map[string]any{"type": ceremony, "challenge": challenge, "origin": a.origin, "crossOrigin": false})
	require.NoError(t, err)
	return raw
}

func (a *softAuthenticator) authData(rpID string, flags byte, attested []byte) []byte {
	if a.rpID != "" {
		rpID = a.rpID
	}
	hash := sha256.Sum256([]byte(rpID))
	data := append(hash[:], flags)
	data = binary.BigEndian.AppendUint32(data, a.signCount)
	return append(data, attested...)
}

// create answers creation options (navigator.credentials.create).
func (a *softAuthenticator) create(t *testing.T, options []byte) []byte {
	var opts struct {
		Challenge string `json:"challenge"`
		RP        struct {
			ID string `json:"id"`
		} `json:"rp"`
	}
	require.NoError(t, json.Unmarshal(options, &opts))
	cose, err := webauthncbor.Marshal(webauthncose.EC2PublicKeyData{
		PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.EllipticKey), Algorithm: int64(webauthncose.AlgES256)},
		Curve:         1, // P-256
		XCoord:        a.key.X.FillBytes(make([]byte, 32)),
		YCoord:        a.key.Y.FillBytes(make([]byte, 32)),
	})
	require.NoError(t, err)
	attested := slices.Concat(a.aaguid, binary.BigEndian.AppendUint16(nil, uint16(len(a.credentialID))), a.credentialID, cose)
	attestation, err := webauthncbor.Marshal(map[string]any{
		"fmt": "none", "attStmt": map[string]any{}, "authData": a.authData(opts.RP.ID, flagUP|flagUV|flagAT, attested),
	})
	require.NoError(t, err)
	return a.answer(t, map[string]any{
		"clientDataJSON":    b64.EncodeToString(a.clientData(t, "webauthn.create", opts.Challenge)),
		"attestationObject": b64.EncodeToString(attestation),
		"transports":        []string{"internal", "hybrid"},
	})
}

// get answers request options (navigator.credentials.get), signing with
// userHandle as the account's.
func (a *softAuthenticator) get(t *testing.T, options []byte, userHandle string) []byte {
	var opts struct {
		Challenge string `json:"challenge"`
		RPID      string `json:"rpId"`
	}
	require.NoError(t, json.Unmarshal(options, &opts))
	a.signCount++
	authData := a.authData(opts.RPID, flagUP|flagUV, nil)
	clientData := a.clientData(t, "webauthn.get", opts.Challenge)
	clientHash := sha256.Sum256(clientData)
	digest := sha256.Sum256(slices.Concat(authData, clientHash[:]))
	signer := a.key
	if a.signer != nil {
		signer = a.signer
	}
	signature, err := ecdsa.SignASN1(rand.Reader, signer, digest[:])
	require.NoError(t, err)
	return a.answer(t, map[string]any{
		"clientDataJSON":    b64.EncodeToString(clientData),
		"authenticatorData": b64.EncodeToString(authData),
		"signature":         b64.EncodeToString(signature),
		"userHandle":        b64.EncodeToString([]byte(userHandle)),
	})
}

func (a *softAuthenticator) answer(t *testing.T, response map[string]any) []byte {
	raw, err := json.Marshal(map[string]any{
		"id": b64.EncodeToString(a.credentialID), "rawId": b64.EncodeToString(a.credentialID), "type": "public-key",
		"authenticatorAttachment": "platform", "response": response, "clientExtensionResults": map[string]any{},
	})
	require.NoError(t, err)
	return raw
}

func (f *factorsFixture) passkeys(t *testing.T) *Passkeys {
	rp, err := RelyingPartyOf(siteOrigin+"/", "Example Certificates")
	require.NoError(t, err)
	p, err := NewPasskeys(f.store, rp, f.clock.Now)
	require.NoError(t, err)
	return p
}

// register registers a as a passkey of the fixture's account.
func (f *factorsFixture) register(t *testing.T, p *Passkeys, a *softAuthenticator, name string) *store.Passkey {
	ceremony, err := p.BeginRegistration(f.account)
	require.NoError(t, err)
	passkey, err := p.FinishRegistration(f.account, ceremony.ID, name, a.create(t, ceremony.Options))
	require.NoError(t, err)
	return passkey
}

// login is a's answer to a sign-in begun, and the ceremony's id.
func (f *factorsFixture) login(t *testing.T, p *Passkeys, a *softAuthenticator) (string, []byte) {
	ceremony, err := p.BeginLogin(f.account)
	require.NoError(t, err)
	return ceremony.ID, a.get(t, ceremony.Options, f.account.ID)
}

func TestAPasskeyIsRegisteredThenSignsIn(t *testing.T) {
	f := newFactorsFixture(t)
	p := f.passkeys(t)
	a := newSoftAuthenticator(t)

	ceremony, err := p.BeginRegistration(f.account)
	require.NoError(t, err)
	var options struct {
		RP                     map[string]string `json:"rp"`
		User                   map[string]string `json:"user"`
		Attestation            string            `json:"attestation"`
		AuthenticatorSelection map[string]any    `json:"authenticatorSelection"`
		ExcludeCredentials     []any             `json:"excludeCredentials"`
	}
	require.NoError(t, json.Unmarshal(ceremony.Options, &options))
	assert.Equal(t, map[string]string{"id": "chat.example.com", "name": "Example Certificates"}, options.RP)
	assert.Equal(t, b64.EncodeToString([]byte(f.account.ID)), options.User["id"], "the user handle is the account id, not its name")
	assert.Equal(t, "dave", options.User["name"])
	assert.Equal(t, "none", options.Attestation)
	assert.Equal(t, "preferred", options.AuthenticatorSelection["residentKey"])
	assert.Equal(t, "preferred", options.AuthenticatorSelection["userVerification"])
	assert.Empty(t, options.ExcludeCredentials)

	passkey, err := p.FinishRegistration(f.account, ceremony.ID, " Laptop ", a.create(t, ceremony.Options))
	require.NoError(t, err)
	assert.Equal(t, b64.EncodeToString(a.credentialID), passkey.ID)
	assert.Equal(t, "Laptop", passkey.Name)
	assert.Equal(t, a.aaguid, passkey.AAGUID)
	assert.Equal(t, []string{"internal", "hybrid"}, passkey.Transports)
	assert.Equal(t, f.clock.Now(), passkey.CreatedAt)
	assert.True(t, passkey.UserVerified)
	listed, err := p.List(f.account.ID)
	require.NoError(t, err)
	assert.Equal(t, []store.Passkey{*passkey}, listed)
	factors, err := Factors(f.store, f.account.ID)
	require.NoError(t, err)
	assert.Equal(t, SecondFactors{Passkeys: 1}, factors)

	login, err := p.BeginLogin(f.account)
	require.NoError(t, err)
	var request struct {
		RPID             string           `json:"rpId"`
		AllowCredentials []map[string]any `json:"allowCredentials"`
		UserVerification string           `json:"userVerification"`
	}
	require.NoError(t, json.Unmarshal(login.Options, &request))
	assert.Equal(t, "chat.example.com", request.RPID)
	require.Len(t, request.AllowCredentials, 1)
	assert.Equal(t, passkey.ID, request.AllowCredentials[0]["id"])

	f.clock.Advance(time.Minute)
	used, err := p.FinishLogin(f.account, login.ID, a.get(t, login.Options, f.account.ID))
	require.NoError(t, err)
	assert.Equal(t, passkey.ID, used.ID)
	assert.Equal(t, a.signCount, used.SignCount)
	assert.Equal(t, f.clock.Now(), used.LastUsedAt)

	// Another name each, given or made.
	second := f.register(t, p, newSoftAuthenticator(t), "")
	assert.Equal(t, "Passkey 2", second.Name)
}

func TestACeremonyFinishesOnceWithinItsTime(t *testing.T) {
	f := newFactorsFixture(t)
	p := f.passkeys(t)
	a := newSoftAuthenticator(t)

	ceremony, err := p.BeginRegistration(f.account)
	require.NoError(t, err)
	answer := a.create(t, ceremony.Options)
	_, err = p.FinishRegistration(f.account, ceremony.ID, "Laptop", answer)
	require.NoError(t, err)
	_, err = p.FinishRegistration(f.account, ceremony.ID, "Laptop", answer)
	assert.Same(t, ErrCeremonyExpired, err, "a registration replayed")

	id, login := f.login(t, p, a)
	_, err = p.FinishLogin(f.account, id, login)
	require.NoError(t, err)
	_, err = p.FinishLogin(f.account, id, login)
	assert.Same(t, ErrCeremonyExpired, err, "a sign-in replayed")

	id, login = f.login(t, p, a)
	f.clock.Advance(ceremonyLifetime)
	_, err = p.FinishLogin(f.account, id, login)
	assert.Same(t, ErrCeremonyExpired, err, "too late")

	id, _ = f.login(t, p, a)
	_, err = p.FinishRegistration(f.account, id, "", a.create(t, ceremony.Options))
	assert.Same(t, ErrCeremonyExpired, err, "a sign-in finishes no registration")

	other := &store.LocalAccount{ID: "someone-else", Username: "erin"}
	id, login = f.login(t, p, a)
	_, err = p.FinishLogin(other, id, login)
	assert.Same(t, ErrCeremonyExpired, err, "a ceremony is its account's")
	_, err = p.FinishLogin(f.account, "made-up", login)
	assert.Same(t, ErrCeremonyExpired, err)
}

func TestOfConcurrentFinishesOfOneSignInExactlyOneSucceeds(t *testing.T) {
	f := newFactorsFixture(t)
	p := f.passkeys(t)
	a := newSoftAuthenticator(t)
	f.register(t, p, a, "Laptop")
	id, login := f.login(t, p, a)

	exactlyOneSucceeds(t, 10, ErrCeremonyExpired, func() error {
		_, err := p.FinishLogin(f.account, id, login)
		return err
	})
}

func TestAnAnswerMadeForAnotherSiteIsRefused(t *testing.T) {
	f := newFactorsFixture(t)
	p := f.passkeys(t)

	for name, wrong := range map[string]func(*softAuthenticator){
		"origin": func(a *softAuthenticator) { a.origin = "https://chat.example.com.evil.example" },
		"port":   func(a *softAuthenticator) { a.origin = siteOrigin + ":8443" },
		"RP ID":  func(a *softAuthenticator) { a.rpID = "evil.example" },
	} {
		a := newSoftAuthenticator(t)
		wrong(a)
		ceremony, err := p.BeginRegistration(f.account)
		require.NoError(t, err)
		_, err = p.FinishRegistration(f.account, ceremony.ID, "", a.create(t, ceremony.Options))
		assert.Same(t, ErrPasskeyWrongSite, err, "registration, wrong %s", name)

		a = newSoftAuthenticator(t)
		f.register(t, p, a, name)
		wrong(a)
		id, login := f.login(t, p, a)
		_, err = p.FinishLogin(f.account, id, login)
		assert.Same(t, ErrPasskeyWrongSite, err, "sign-in, wrong %s", name)
	}
}

func TestASignatureOfAnotherKeyIsRefused(t *testing.T) {
	f := newFactorsFixture(t)
	p := f.passkeys(t)
	a := newSoftAuthenticator(t)
	f.register(t, p, a, "Laptop")
	a.signer = newSoftAuthenticator(t).key

	id, login := f.login(t, p, a)
	_, err := p.FinishLogin(f.account, id, login)
	assert.Same(t, ErrPasskeySignature, err)
}

func TestAPasskeyNotRegisteredIsNotRecognised(t *testing.T) {
	f := newFactorsFixture(t)
	p := f.passkeys(t)
	f.register(t, p, newSoftAuthenticator(t), "Laptop")

	id, login := f.login(t, p, newSoftAuthenticator(t))
	_, err := p.FinishLogin(f.account, id, login)
	assert.Same(t, ErrPasskeyNotKnown, err)

	id, _ = f.login(t, p, newSoftAuthenticator(t))
	_, err = p.FinishLogin(f.account, id, []byte(`{"id": "not json of a credential"`))
	assert.Equal(t, enroll.CodeInvalid, codeOf(err))
}

func TestASignCountThatGoesBackIsRefusedAsACopiedAuthenticator(t *testing.T) {
	f := newFactorsFixture(t)
	p := f.passkeys(t)
	a := newSoftAuthenticator(t)
	a.signCount = 10
	f.register(t, p, a, "Laptop")

	id, login := f.login(t, p, a) // 11
	_, err := p.FinishLogin(f.account, id, login)
	require.NoError(t, err)

	a.signCount = 5
	id, login = f.login(t, p, a) // 6
	_, err = p.FinishLogin(f.account, id, login)
	assert.Same(t, ErrPasskeyCloned, err)
	a.signCount = 10
	id, login = f.login(t, p, a) // 11 again
	_, err = p.FinishLogin(f.account, id, login)
	assert.Same(t, ErrPasskeyCloned, err, "a count that did not go up")
	listed, err := p.List(f.account.ID)
	require.NoError(t, err)
	assert.Equal(t, uint32(11), listed[0].SignCount)

	// An authenticator that keeps no count says 0 every time.
	counterless := newSoftAuthenticator(t)
	f.register(t, p, counterless, "Phone")
	for range 2 {
		counterless.signCount = 0xFFFFFFFF // get adds one: 0
		id, login = f.login(t, p, counterless)
		_, err = p.FinishLogin(f.account, id, login)
		require.NoError(t, err)
	}
}

func TestAPasskeyIsRegisteredOnce(t *testing.T) {
	f := newFactorsFixture(t)
	p := f.passkeys(t)
	a := newSoftAuthenticator(t)
	passkey := f.register(t, p, a, "Laptop")

	ceremony, err := p.BeginRegistration(f.account)
	require.NoError(t, err)
	var options struct {
		ExcludeCredentials []map[string]any `json:"excludeCredentials"`
	}
	require.NoError(t, json.Unmarshal(ceremony.Options, &options))
	require.Len(t, options.ExcludeCredentials, 1)
	assert.Equal(t, passkey.ID, options.ExcludeCredentials[0]["id"])

	// An authenticator that ignores the exclusion is refused all the same.
	_, err = p.FinishRegistration(f.account, ceremony.ID, "Again", a.create(t, ceremony.Options))
	assert.Same(t, ErrPasskeyRegistered, err)
	listed, err := p.List(f.account.ID)
	require.NoError(t, err)
	assert.Len(t, listed, 1)
}

func TestPasskeysAreRemovedOneOrAllWithTheApp(t *testing.T) {
	f := newFactorsFixture(t)
	p := f.passkeys(t)
	laptop := f.register(t, p, newSoftAuthenticator(t), "Laptop")
	phone := newSoftAuthenticator(t)
	f.register(t, p, phone, "Phone")

	require.NoError(t, p.Remove(f.account.ID, laptop.ID))
	assert.Same(t, ErrPasskeyNotFound, p.Remove(f.account.ID, laptop.ID))
	listed, err := p.List(f.account.ID)
	require.NoError(t, err)
	require.Len(t, listed, 1)
	assert.Equal(t, "Phone", listed[0].Name)

	// A sign-in begun before its passkey was removed does not finish.
	id, login := f.login(t, p, phone)
	require.NoError(t, p.Remove(f.account.ID, listed[0].ID))
	_, err = p.FinishLogin(f.account, id, login)
	assert.Same(t, ErrPasskeyNotKnown, err)
	_, err = p.BeginLogin(f.account)
	assert.Same(t, ErrNoPasskeys, err)

	f.register(t, p, newSoftAuthenticator(t), "Key")
	f.enrolled(t, f.totp(sealKey(t, "a")))
	factors, err := Factors(f.store, f.account.ID)
	require.NoError(t, err)
	assert.Equal(t, SecondFactors{TOTP: true, Passkeys: 1}, factors)
	require.NoError(t, RemoveAllFactors(f.store, f.account.ID))
	factors, err = Factors(f.store, f.account.ID)
	require.NoError(t, err)
	assert.False(t, factors.Any())
}

func TestTheRelyingPartyIsTheSiteURLs(t *testing.T) {
	rp, err := RelyingPartyOf("https://Chat.Example.com:8443/mattermost", "Example")
	require.NoError(t, err)
	assert.Equal(t, RelyingParty{ID: "chat.example.com", Name: "Example", Origins: []string{"https://chat.example.com:8443"}}, rp)
	rp, err = RelyingPartyOf("https://chat.example.com:443", "Example")
	require.NoError(t, err)
	assert.Equal(t, []string{siteOrigin}, rp.Origins, "browsers send no default port")
	for _, bad := range []string{"", "chat.example.com", "ftp://chat.example.com", "https://"} {
		_, err := RelyingPartyOf(bad, "Example")
		assert.Error(t, err, bad)
	}
}
