package store

import (
	"encoding/json"
	"time"

	"github.com/pkg/errors"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// TOTPFactor is a local account's authenticator app: the secret in use,
// and one being set up that replaces it once a code of it is confirmed.
type TOTPFactor struct {
	AccountID string      `json:"account_id"`
	Active    *TOTPSecret `json:"active,omitempty"`
	Pending   *TOTPSecret `json:"pending,omitempty"`
	// LastStep is the last time step (Unix time / period) a code was
	// accepted for, so that a code signs in once.
	LastStep int64 `json:"last_step,omitempty"`
}

// TOTPSecret is a TOTP secret sealed at rest, one copy per encryption
// secret while the plugin's changes.
type TOTPSecret struct {
	Sealed    []records.SealedKey `json:"sealed"`
	CreatedAt time.Time           `json:"created_at"`
}

const totpPrefix = "local:totp:"

func totpKey(accountID string) string { return totpPrefix + accountID }

// TOTPFactor reads an account's authenticator app; records.ErrNotFound
// when it has none, set up or pending.
func (s *Store) TOTPFactor(accountID string) (*TOTPFactor, error) {
	return getJSON[TOTPFactor](s, totpKey(accountID), "TOTP factor")
}

// UpdateTOTPFactor changes an account's authenticator app with a
// compare-and-set; change gets an empty record when there is none yet, and
// returns an error to leave it alone. A record left with neither secret is
// deleted.
func (s *Store) UpdateTOTPFactor(accountID string, change func(*TOTPFactor) error) (*TOTPFactor, error) {
	var updated *TOTPFactor
	err := s.update(totpKey(accountID), func(old []byte) (any, error) {
		f := &TOTPFactor{}
		if len(old) > 0 {
			if err := json.Unmarshal(old, f); err != nil {
				return nil, errors.Wrap(err, "decode TOTP factor")
			}
		}
		f.AccountID = accountID
		if err := change(f); err != nil {
			return nil, err
		}
		updated = f
		if f.Active == nil && f.Pending == nil {
			return nil, nil
		}
		return f, nil
	})
	if err != nil {
		return nil, err
	}
	return updated, nil
}

// DeleteTOTPFactor removes an account's authenticator app.
func (s *Store) DeleteTOTPFactor(accountID string) error {
	return errors.Wrap(s.kv.Delete(totpKey(accountID)), "delete TOTP factor")
}

// TOTPAccountIDs lists the accounts that have an authenticator app, set up
// or pending.
func (s *Store) TOTPAccountIDs() ([]string, error) {
	keys, err := s.keysWithPrefix(totpPrefix)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(keys))
	for i, key := range keys {
		ids[i] = key[len(totpPrefix):]
	}
	return ids, nil
}

// Passkey is a WebAuthn credential a local account registered.
type Passkey struct {
	// ID is the credential id, base64url without padding, as WebAuthn's
	// JSON writes it.
	ID string `json:"id"`
	// PublicKey is the COSE public key the authenticator signs with.
	PublicKey  []byte   `json:"public_key"`
	SignCount  uint32   `json:"sign_count"`
	AAGUID     []byte   `json:"aaguid,omitempty"`
	Transports []string `json:"transports,omitempty"`
	// The authenticator's flags at registration: whether it may sync the
	// key, whether it did, whether it verified the person.
	BackupEligible    bool      `json:"backup_eligible,omitempty"`
	BackupState       bool      `json:"backup_state,omitempty"`
	UserVerified      bool      `json:"user_verified,omitempty"`
	AttestationFormat string    `json:"attestation_format,omitempty"`
	Name              string    `json:"name"`
	CreatedAt         time.Time `json:"created_at"`
	LastUsedAt        time.Time `json:"last_used_at,omitzero"`
}

func passkeysKey(accountID string) string { return "local:passkeys:" + accountID }

// Passkeys reads an account's passkeys; none is an empty list.
func (s *Store) Passkeys(accountID string) ([]Passkey, error) {
	list, err := getJSON[[]Passkey](s, passkeysKey(accountID), "passkeys")
	if errors.Is(err, records.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return *list, nil
}

// UpdatePasskeys changes an account's list of passkeys with a
// compare-and-set; change returns an error to leave it alone. It returns
// the list as written.
func (s *Store) UpdatePasskeys(accountID string, change func([]Passkey) ([]Passkey, error)) ([]Passkey, error) {
	var updated []Passkey
	err := s.update(passkeysKey(accountID), func(old []byte) (any, error) {
		var list []Passkey
		if len(old) > 0 {
			if err := json.Unmarshal(old, &list); err != nil {
				return nil, errors.Wrap(err, "decode passkeys")
			}
		}
		list, err := change(list)
		if err != nil {
			return nil, err
		}
		updated = list
		if len(list) == 0 {
			return nil, nil
		}
		return list, nil
	})
	if err != nil {
		return nil, err
	}
	return updated, nil
}

// DeletePasskeys removes every passkey of an account.
func (s *Store) DeletePasskeys(accountID string) error {
	return errors.Wrap(s.kv.Delete(passkeysKey(accountID)), "delete passkeys")
}

// PasskeyCeremony is a WebAuthn registration or sign-in begun and not
// finished: what its finish must be checked against.
type PasskeyCeremony struct {
	AccountID string `json:"account_id"`
	// Kind tells a registration from a sign-in, so neither finishes the
	// other.
	Kind string `json:"kind"`
	// Session is the WebAuthn library's session data, as it encoded it.
	Session   json.RawMessage `json:"session"`
	ExpiresAt time.Time       `json:"expires_at"`
}

func passkeyCeremonyKey(hash string) string { return "local:webauthn:" + hash }

// SavePasskeyCeremony keeps a ceremony under the hash of its id, for ttl.
func (s *Store) SavePasskeyCeremony(hash string, c *PasskeyCeremony, ttl time.Duration) error {
	raw, err := json.Marshal(c)
	if err != nil {
		return errors.Wrap(err, "encode passkey ceremony")
	}
	created, err := s.kv.Set(passkeyCeremonyKey(hash), raw, setIfAbsent(), expiry(ttl))
	if err == nil && !created {
		err = errors.New("a passkey ceremony id collided")
	}
	return errors.Wrap(err, "save passkey ceremony")
}

// TakePasskeyCeremony reads the ceremony under hash and deletes it, with a
// compare-and-set: of any number of concurrent takes exactly one gets it;
// the others (and an id unknown, used or expired) get
// records.ErrNotFound.
func (s *Store) TakePasskeyCeremony(hash string) (*PasskeyCeremony, error) {
	var raw []byte
	if err := s.kv.Get(passkeyCeremonyKey(hash), &raw); err != nil {
		return nil, errors.Wrap(err, "read passkey ceremony")
	}
	if len(raw) == 0 {
		return nil, records.ErrNotFound
	}
	taken, err := s.kv.Set(passkeyCeremonyKey(hash), nil, setIfEquals(raw))
	if err != nil {
		return nil, errors.Wrap(err, "take passkey ceremony")
	}
	if !taken {
		return nil, records.ErrNotFound
	}
	c := &PasskeyCeremony{}
	if err := json.Unmarshal(raw, c); err != nil {
		return nil, errors.Wrap(err, "decode passkey ceremony")
	}
	return c, nil
}
