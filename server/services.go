package main

import (
	"fmt"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/config"
	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/local"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/sealbox"
	"github.com/clientcerts/mattermost-plugin-certs/server/web/public"
)

// buildServices derives the services from c, loading or creating the CA.
func (p *Plugin) buildServices(c *config.Configuration) (*app.Snapshot, error) {
	if err := c.IsValid(); err != nil {
		return nil, err
	}
	catalog, err := c.Catalog()
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
		connectors[spec.Name] = p.metrics.ObserveConnector(conn, p.API)
		if b, ok := conn.(*connector.Builtin); ok && !c.UsesCustomCA() {
			builtinCA = b
		}
	}
	format, _ := pki.ParsePKCS12Format(c.PKCS12Format)
	roots, err := c.ParseAttestationRoots()
	if err != nil {
		return nil, err
	}
	sealKey, err := sealbox.NewKey(c.EncryptionSecret)
	if err != nil {
		return nil, err
	}
	p.dir.BindProfileNames(catalog)
	site := p.current.Site()
	core := enroll.New(enroll.Settings{
		Catalog:              catalog,
		Connectors:           connectors,
		Minter:               minter,
		PKCS12Format:         format,
		AttestationRoots:     roots,
		SealKey:              sealKey,
		LinkLifetime:         c.LinkLifetime(),
		EmailDelivery:        c.EmailDelivery != config.EmailDeliveryOff,
		RequireVerifiedEmail: site.RequireVerifiedEmail,
		IdentityHost:         site.Host,
		PerRequesterPerDay:   int(c.CertificatesPerUserPerDay),
	}, enroll.Ports{
		Inventory: p.metrics.ObserveInventory(p.inventory, p.API),
		// Mattermost accounts, and the portal's people (local accounts,
		// people of the identity provider), told by email; system admins
		// are reached in Mattermost.
		Directories: map[string]enroll.Directory{records.KindMattermost: p.dir, local.KindLocal: p.localDir, records.KindOIDC: p.oidcDir},
		Notifiers: map[string]enroll.Notifier{records.KindMattermost: p.notifier, local.KindLocal: p.portalNotifier,
			records.KindOIDC: p.portalNotifier},
		Admins:  p.adminNotifier,
		Mailer:  p.mailer,
		Log:     p.API,
		Clock:   p.now,
		RSAKeys: p.rsaKeys,
		CRLs:    p.crls,
	})
	return &app.Snapshot{Config: c, Catalog: catalog, Core: core, BuiltinCA: builtinCA}, nil
}

// newConnector builds the connector a catalog entry describes.
func (p *Plugin) newConnector(c *config.Configuration, spec profile.Connector) (connector.Connector, error) {
	switch spec.Type {
	case profile.TypeBuiltin:
		loaded, err := p.caKeeper.Load(c)
		if err != nil {
			return nil, err
		}
		builtin := connector.NewBuiltinGenerations(spec.Name, loaded.Current, loaded.Previous, p.now).WithOCSPResponders(p.ocspResponders)
		if root := c.RevocationBase(p.current.Site().URL); root != "" {
			base := root + "/plugins/" + manifest.Id
			builtin = builtin.WithRevocation(base+public.CRLPath(spec.Name, loaded.Current.Generation), base+public.OCSPPath)
		}
		return builtin, nil
	case profile.TypeStepCA:
		cfg := spec.StepCA.ConnectorConfig(spec.Name)
		password, err := p.secrets.OpenIfSealed(c.EncryptionSecret, cfg.ProvisionerPassword)
		if err != nil {
			return nil, fmt.Errorf("provisioner password: %w", err)
		}
		cfg.ProvisionerPassword = password
		return connector.NewStepCA(cfg, p.now)
	}
	return nil, fmt.Errorf("connector type %q is not available in this version", spec.Type)
}

// applyConfiguration rebuilds the services for c. A configuration that
// cannot be used keeps the plugin active: users are told the plugin needs an
// admin, and the admin finds the reason in the log.
func (p *Plugin) applyConfiguration(c *config.Configuration) {
	p.refreshSite()
	s, err := p.buildServices(c)
	if err != nil {
		p.current.Fail(err.Error())
		p.API.LogError("Client Certificates cannot issue certificates until its settings are fixed", "error", err.Error())
		return
	}
	p.current.Store(s)
}
