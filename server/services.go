package main

import (
	"fmt"
	"net/url"
	"strconv"

	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/sealbox"
)

// services is everything derived from one configuration snapshot: the
// enrollment core with its parsed catalog, connectors and token minter. It
// is immutable once built.
type services struct {
	config  *configuration
	catalog *profile.Catalog
	core    *enroll.Core
	// builtinCA is a connector of the built-in CA that renews itself, nil
	// when the catalog has none or the admin supplied the CA.
	builtinCA *connector.Builtin
}

// buildServices derives the services from c, loading or creating the CA.
func (p *Plugin) buildServices(c *configuration) (*services, error) {
	if err := c.IsValid(); err != nil {
		return nil, err
	}
	catalog, err := c.catalog()
	if err != nil {
		return nil, err
	}
	minter, err := linktoken.NewMinter(c.LinkSigningSecret, p.now)
	if err != nil {
		return nil, err
	}
	connectors := make(map[string]connector.Connector, len(catalog.Connectors))
	var builtinCA *connector.Builtin
	for _, spec := range catalog.Connectors {
		conn, err := p.newConnector(c, spec)
		if err != nil {
			return nil, fmt.Errorf("connector %q: %w", spec.Name, err)
		}
		connectors[spec.Name] = p.metrics.observeConnector(conn, p.API)
		if b, ok := conn.(*connector.Builtin); ok && !c.usesCustomCA() {
			builtinCA = b
		}
	}
	format, _ := pki.ParsePKCS12Format(c.PKCS12Format)
	roots, err := c.attestationRoots()
	if err != nil {
		return nil, err
	}
	sealKey, err := sealbox.NewKey(c.EncryptionSecret)
	if err != nil {
		return nil, err
	}
	p.bindProfileNames(catalog)
	site := p.site()
	core := enroll.New(enroll.Settings{
		Catalog:              catalog,
		Connectors:           connectors,
		Minter:               minter,
		PKCS12Format:         format,
		AttestationRoots:     roots,
		SealKey:              sealKey,
		LinkLifetime:         c.linkLifetime(),
		EmailDelivery:        c.EmailDelivery != emailDeliveryOff,
		RequireVerifiedEmail: site.requireVerifiedEmail,
		IdentityHost:         site.host,
		PerRequesterPerDay:   int(c.CertificatesPerUserPerDay),
	}, enroll.Ports{
		Inventory: observedInventory{Inventory: p.inventory, audit: p.API, metrics: p.metrics},
		// Mattermost accounts are the only kind of principal the plugin
		// serves today; its system admins are reached in Mattermost.
		Directories: map[string]enroll.Directory{records.KindMattermost: &directory{p: p}},
		Notifiers:   map[string]enroll.Notifier{records.KindMattermost: &notifier{p: p}},
		Admins:      &adminNotifier{p: p},
		Mailer:      &certificateMailer{p: p, config: c},
		Log:         p.API,
		Clock:       p.now,
		RSAKeys:     p.rsaKeys,
		CRLs:        p.crls,
	})
	return &services{config: c, catalog: catalog, core: core, builtinCA: builtinCA}, nil
}

// newConnector builds the connector a catalog entry describes.
func (p *Plugin) newConnector(c *configuration, spec profile.Connector) (connector.Connector, error) {
	switch spec.Type {
	case profile.TypeBuiltin:
		loaded, err := p.loadCA(c)
		if err != nil {
			return nil, err
		}
		builtin := connector.NewBuiltinGenerations(spec.Name, loaded.current, loaded.previous, p.now).WithOCSPResponders(p.ocspResponders)
		if root := c.revocationBase(p.siteURL()); root != "" {
			base := root + "/plugins/" + manifest.Id
			builtin = builtin.WithRevocation(base+crlPath(spec.Name, loaded.current.Generation), base+routeOCSP)
		}
		return builtin, nil
	case profile.TypeStepCA:
		cfg := spec.StepCA.ConnectorConfig(spec.Name)
		if isSealedSecret(cfg.ProvisionerPassword) {
			password, err := p.openSecret(c.EncryptionSecret, cfg.ProvisionerPassword)
			if err != nil {
				return nil, fmt.Errorf("provisioner password: %w", err)
			}
			cfg.ProvisionerPassword = password
		}
		return connector.NewStepCA(cfg, p.now)
	}
	return nil, fmt.Errorf("connector type %q is not available in this version", spec.Type)
}

// crlPath is where the list of generation of a connector's issuing CA is
// served: the first keeps the path certificates named before CAs renewed
// themselves, each later one has its own, so that the distribution point
// in a certificate always names the list of the CA that signed it.
func crlPath(connectorName string, generation int) string {
	if generation <= 1 {
		return "/crl/" + url.PathEscape(connectorName) + ".crl"
	}
	return "/crl/" + url.PathEscape(connectorName) + "/" + strconv.Itoa(generation) + ".crl"
}

// applyConfiguration rebuilds the services for c. A configuration that
// cannot be used keeps the plugin active: users are told the plugin needs an
// admin, and the admin finds the reason in the log.
func (p *Plugin) applyConfiguration(c *configuration) {
	p.refreshSite()
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
