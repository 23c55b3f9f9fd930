package openid

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// rediscoverAfter is how long a provider's discovery document is trusted
// before it is read again. Its signing keys are go-oidc's to refresh: it
// fetches them again when a token names a key it does not know.
const rediscoverAfter = time.Hour

// providerCache keeps each issuer's discovered provider in memory: public
// metadata only, so each node of a cluster may hold its own. A failed
// discovery is not kept, so the next sign-in tries again.
type providerCache struct {
	mu       sync.Mutex
	byIssuer map[string]discovered
}

type discovered struct {
	provider *oidc.Provider
	at       time.Time
}

// get is the issuer's provider, discovered with client now if it is not
// known or is stale. Two sign-ins may both discover it at once; either
// result does.
func (c *providerCache) get(ctx context.Context, client *http.Client, issuer string, now time.Time) (*oidc.Provider, error) {
	c.mu.Lock()
	d, ok := c.byIssuer[issuer]
	c.mu.Unlock()
	if ok && now.Sub(d.at) < rediscoverAfter {
		return d.provider, nil
	}
	provider, err := discover(ctx, client, issuer)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byIssuer == nil {
		c.byIssuer = map[string]discovered{}
	}
	c.byIssuer[issuer] = discovered{provider: provider, at: now}
	return provider, nil
}

// discover reads the issuer's discovery document with client; the
// provider keeps client for its signing keys.
func discover(ctx context.Context, client *http.Client, issuer string) (*oidc.Provider, error) {
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, client), issuer)
	if err == nil {
		return provider, nil
	}
	if isTransport(err) {
		return nil, unreachable("discovery", err)
	}
	return nil, refuse(ErrUnreachable, "The identity provider's settings could not be read from it (its discovery document). Tell your administrator.", err)
}
