package main

import (
	"context"
	"crypto/x509"
	"fmt"

	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

// defaultConnectorName names the single connector until connectors and
// profiles become configurable.
const (
	defaultConnectorName = "builtin"
	defaultProfileName   = "default"
)

// services is everything derived from one configuration snapshot: parsed,
// validated, and ready for requests. It is immutable once built.
type services struct {
	config    *configuration
	minter    *linktoken.Minter
	connector connector.Connector
	keyType   pki.KeyType
	p12Format pki.PKCS12Format
	// chain is what /ca.pem serves and what goes into PKCS#12 files.
	chain []*x509.Certificate
}

// buildServices derives the services from c, loading or creating the CA.
func (p *Plugin) buildServices(c *configuration) (*services, error) {
	if err := c.IsValid(); err != nil {
		return nil, err
	}
	minter, err := linktoken.NewMinter(c.LinkSigningSecret, p.now)
	if err != nil {
		return nil, err
	}
	ca, err := p.loadCA(c)
	if err != nil {
		return nil, err
	}
	conn := connector.NewBuiltin(defaultConnectorName, ca, p.now)
	chain, err := conn.Chain(context.Background())
	if err != nil {
		return nil, err
	}
	keyType, _ := pki.ParseKeyType(c.KeyType)
	format, _ := pki.ParsePKCS12Format(c.PKCS12Format)
	return &services{
		config:    c,
		minter:    minter,
		connector: conn,
		keyType:   keyType,
		p12Format: format,
		chain:     chain,
	}, nil
}

// applyConfiguration rebuilds the services for c. A configuration that
// cannot be used keeps the plugin active: users are told the plugin needs an
// admin, and the admin finds the reason in the log.
func (p *Plugin) applyConfiguration(c *configuration) {
	s, err := p.buildServices(c)
	if err != nil {
		msg := err.Error()
		p.setupErr.Store(&msg)
		p.services.Store(nil)
		p.API.LogError("Client Certificates cannot issue certificates until its settings are fixed", "error", msg)
		return
	}
	p.setupErr.Store(nil)
	p.services.Store(s)
}

// errNotReady is what users see while the plugin cannot issue.
type errNotReady struct{ reason string }

func (e *errNotReady) Error() string {
	return fmt.Sprintf("certificates cannot be issued right now: the plugin's settings need an administrator's attention (%s)", e.reason)
}

// getServices returns the current services or an error saying why there are
// none.
func (p *Plugin) getServices() (*services, error) {
	if s := p.services.Load(); s != nil {
		return s, nil
	}
	reason := "the plugin is starting"
	if msg := p.setupErr.Load(); msg != nil {
		reason = *msg
	}
	return nil, &errNotReady{reason: reason}
}
