package enroll

import (
	"context"
	"crypto/x509"
	"sort"
	"time"
)

// CAExpiry is a CA certificate of a connector's chain that expires soon.
type CAExpiry struct {
	Connector   string
	Certificate *x509.Certificate
}

// caChainTimeout bounds asking a connector for its chain.
const caChainTimeout = 15 * time.Second

// ExpiringCAs lists the CA certificates of every connector's chain that
// expire within d, soonest first: once they expire, no certificate under
// them is trusted, so the admins must hear of it well before.
func (c *Core) ExpiringCAs(ctx context.Context, d time.Duration) []CAExpiry {
	limit := c.now().Add(d)
	var out []CAExpiry
	for name, conn := range c.Connectors {
		ctx, cancel := context.WithTimeout(ctx, caChainTimeout)
		chain, err := conn.Chain(ctx)
		cancel()
		if err != nil {
			c.log.LogWarn("Could not read a CA chain to check its expiry", "connector", name, "error", err.Error())
			continue
		}
		for _, cert := range chain {
			if cert.NotAfter.Before(limit) {
				out = append(out, CAExpiry{Connector: name, Certificate: cert})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Certificate.NotAfter.Before(out[j].Certificate.NotAfter) })
	return out
}
