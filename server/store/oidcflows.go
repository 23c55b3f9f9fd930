package store

import (
	"encoding/json"
	"time"

	"github.com/pkg/errors"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// OIDCFlow is an OpenID Connect sign-in under way: what the callback needs
// to finish it. It is kept under the hash of its state, never the state
// itself, and lives only minutes.
type OIDCFlow struct {
	// Issuer and ClientID are the provider settings the flow was started
	// with: a callback under other settings does not finish it.
	Issuer   string `json:"issuer"`
	ClientID string `json:"client_id"`
	Nonce    string `json:"nonce"`
	// PKCEVerifier proves to the provider's token endpoint that the code is
	// redeemed by whoever asked for it.
	PKCEVerifier string `json:"pkce_verifier"`
	// BrowserHash is the hash of the random value in the cookie of the
	// browser that started the flow.
	BrowserHash string    `json:"browser_hash"`
	ReturnTo    string    `json:"return_to"`
	CreatedAt   time.Time `json:"created_at"`
	ExpiresAt   time.Time `json:"expires_at"`
}

func oidcFlowKey(hash string) string { return "oidcflow:" + hash }

// SaveOIDCFlow stores a new flow under hash, to vanish from the KV store
// after ttl; false when the hash is taken (a random state that collided:
// the caller makes another).
func (s *Store) SaveOIDCFlow(hash string, flow *OIDCFlow, ttl time.Duration) (bool, error) {
	raw, err := json.Marshal(flow)
	if err != nil {
		return false, errors.Wrap(err, "encode sign-in flow")
	}
	created, err := s.kv.Set(oidcFlowKey(hash), raw, setIfAbsent(), expiry(ttl))
	if err != nil {
		return false, errors.Wrap(err, "save sign-in flow")
	}
	return created, nil
}

// ConsumeOIDCFlow reads the flow under hash and deletes it, atomically: the
// delete is a compare-and-set on the value read, so of any number of
// concurrent callbacks with one state exactly one gets the flow. The others,
// and a flow unknown, used or expired, get records.ErrNotFound.
func (s *Store) ConsumeOIDCFlow(hash string) (*OIDCFlow, error) {
	var raw []byte
	if err := s.kv.Get(oidcFlowKey(hash), &raw); err != nil {
		return nil, errors.Wrap(err, "read sign-in flow")
	}
	if len(raw) == 0 {
		return nil, records.ErrNotFound
	}
	consumed, err := s.kv.Set(oidcFlowKey(hash), nil, setIfEquals(raw))
	if err != nil {
		return nil, errors.Wrap(err, "consume sign-in flow")
	}
	if !consumed {
		return nil, records.ErrNotFound
	}
	flow := &OIDCFlow{}
	if err := json.Unmarshal(raw, flow); err != nil {
		return nil, errors.Wrap(err, "decode sign-in flow")
	}
	return flow, nil
}
