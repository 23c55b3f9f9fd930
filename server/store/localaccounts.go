package store

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/pkg/errors"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// LocalAccount is a person an admin made an account for on the portal,
// known by an id that stays when the username changes.
type LocalAccount struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Email    string `json:"email"`
	// PasswordHash is the bcrypt hash of the password; empty until its
	// owner sets one through their set-password link.
	PasswordHash []byte    `json:"password_hash,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	CreatedBy    string    `json:"created_by"`
	PasswordAt   time.Time `json:"password_at,omitzero"`
	// ResetAt is when an admin last reset the account: sessions and
	// passwords from before it no longer count.
	ResetAt time.Time `json:"reset_at,omitzero"`
	// RemovedAt is when an admin removed the account; its record stays so
	// that its certificates still name their owner, its name is free.
	RemovedAt time.Time `json:"removed_at,omitzero"`
	RemovedBy string    `json:"removed_by,omitempty"`
}

// Removed reports whether an admin removed the account.
func (a *LocalAccount) Removed() bool { return !a.RemovedAt.IsZero() }

// ErrUsernameTaken is a local account name another account has.
var ErrUsernameTaken = errors.New("a local account already has this name")

func localAccountKey(id string) string { return "local:account:" + id }

func localNameKey(username string) string {
	return "local:name:" + strings.ToLower(strings.TrimSpace(username))
}

// CreateLocalAccount stores a new account. Its name is claimed first, with
// a create-if-absent write, so that of two admins adding one name at once
// exactly one succeeds (ErrUsernameTaken for the other).
func (s *Store) CreateLocalAccount(a *LocalAccount) error {
	if a.ID == "" || a.Username == "" {
		return errors.New("a local account needs an id and a username")
	}
	claimed, err := s.kv.Set(localNameKey(a.Username), []byte(a.ID), setIfAbsent())
	if err != nil {
		return errors.Wrap(err, "claim the local account name")
	}
	if !claimed {
		return ErrUsernameTaken
	}
	raw, err := json.Marshal(a)
	if err != nil {
		return errors.Wrap(err, "encode local account")
	}
	created, err := s.kv.Set(localAccountKey(a.ID), raw, setIfAbsent())
	if err == nil && !created {
		err = errors.New("a local account already has this id")
	}
	if err != nil {
		_, _ = s.kv.Set(localNameKey(a.Username), nil, setIfEquals([]byte(a.ID)))
		return errors.Wrap(err, "create local account")
	}
	return nil
}

// LocalAccount reads an account by id; records.ErrNotFound when none.
func (s *Store) LocalAccount(id string) (*LocalAccount, error) {
	return getJSON[LocalAccount](s, localAccountKey(id), "local account")
}

// LocalAccountByName reads the account a username names now;
// records.ErrNotFound when none.
func (s *Store) LocalAccountByName(username string) (*LocalAccount, error) {
	var id []byte
	if err := s.kv.Get(localNameKey(username), &id); err != nil {
		return nil, errors.Wrap(err, "read local account name")
	}
	if len(id) == 0 {
		return nil, records.ErrNotFound
	}
	return s.LocalAccount(string(id))
}

// UpdateLocalAccount changes an account with a compare-and-set; its id and
// username are kept as they are.
func (s *Store) UpdateLocalAccount(id string, change func(*LocalAccount) error) (*LocalAccount, error) {
	return updateJSON(s, localAccountKey(id), "local account", func(a *LocalAccount) error {
		keepID, keepName := a.ID, a.Username
		if err := change(a); err != nil {
			return err
		}
		a.ID, a.Username = keepID, keepName
		return nil
	})
}

// RemoveLocalAccount marks an account removed (by whom, when) and frees its
// name; records.ErrNotFound when it was removed before. The record stays:
// certificates and audit events still name their owner.
func (s *Store) RemoveLocalAccount(id, by string, at time.Time) (*LocalAccount, error) {
	a, err := updateJSON(s, localAccountKey(id), "local account", func(a *LocalAccount) error {
		if a.Removed() {
			return records.ErrNotFound
		}
		a.RemovedAt, a.RemovedBy, a.PasswordHash = at, by, nil
		return nil
	})
	if err != nil {
		return nil, err
	}
	_, err = s.kv.Set(localNameKey(a.Username), nil, setIfEquals([]byte(id)))
	return a, errors.Wrap(err, "free the local account name")
}

// LocalAccounts lists the accounts not removed, in no set order.
func (s *Store) LocalAccounts() ([]*LocalAccount, error) {
	keys, err := s.keysWithPrefix(localNameKey(""))
	if err != nil {
		return nil, err
	}
	var out []*LocalAccount
	for _, key := range keys {
		a, err := s.LocalAccountByName(strings.TrimPrefix(key, localNameKey("")))
		if errors.Is(err, records.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

func passwordTokenKey(hash string) string { return "local:setpw:" + hash }

// SavePasswordToken keeps, under the hash of a set-password link's token,
// the account it sets the password of, for ttl.
func (s *Store) SavePasswordToken(hash, accountID string, ttl time.Duration) error {
	created, err := s.kv.Set(passwordTokenKey(hash), []byte(accountID), setIfAbsent(), expiry(ttl))
	if err == nil && !created {
		err = errors.New("a set-password token collided")
	}
	return errors.Wrap(err, "save set-password token")
}

// PasswordTokenAccount is the account a set-password token is for, without
// using it; records.ErrNotFound when it is unknown, used or expired.
func (s *Store) PasswordTokenAccount(hash string) (string, error) {
	var id []byte
	if err := s.kv.Get(passwordTokenKey(hash), &id); err != nil {
		return "", errors.Wrap(err, "read set-password token")
	}
	if len(id) == 0 {
		return "", records.ErrNotFound
	}
	return string(id), nil
}

// UsePasswordToken uses a set-password token up, atomically: of any number
// of concurrent uses exactly one gets the account id; the others (and a
// token unknown, used or expired) get records.ErrNotFound.
func (s *Store) UsePasswordToken(hash string) (string, error) {
	id, err := s.PasswordTokenAccount(hash)
	if err != nil {
		return "", err
	}
	used, err := s.kv.Set(passwordTokenKey(hash), nil, setIfEquals([]byte(id)))
	if err != nil {
		return "", errors.Wrap(err, "use set-password token")
	}
	if !used {
		return "", records.ErrNotFound
	}
	return id, nil
}
