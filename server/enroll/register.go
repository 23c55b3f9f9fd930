package enroll

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

// MaxRegisterBytes bounds a registered certificate with its chain.
const MaxRegisterBytes = 64 << 10

// UnmanagedConnector is the connector name of a certificate from a CA the
// plugin does not talk to: revoking it changes only our records.
const UnmanagedConnector = ""

// chainLookupTimeout bounds asking the connectors for their chains.
const chainLookupTimeout = 10 * time.Second

func refuseRegistration(format string, args ...any) error {
	return refuse(CodeRefused, format, args...)
}

// parseRegisteredCertificate reads one certificate, PEM or DER; in a PEM
// bundle the first certificate is the one registered, the rest its chain.
func parseRegisteredCertificate(data []byte) (*x509.Certificate, error) {
	// Trimmed only to recognise PEM: DER may end in a byte that looks like
	// white space.
	trimmed := bytes.TrimSpace(data)
	switch {
	case len(trimmed) == 0:
		return nil, refuseRegistration("The upload is empty: choose a certificate file (PEM or DER).")
	case len(data) > MaxRegisterBytes:
		return nil, refuseRegistration("The upload is larger than %d KiB; a certificate is far smaller.", MaxRegisterBytes>>10)
	case bytes.HasPrefix(trimmed, []byte("-----BEGIN")):
		certs, err := pki.ParseCertificatesPEM(trimmed)
		if err != nil {
			return nil, &Error{Code: CodeRefused, Message: "The PEM text cannot be read as a certificate.", Err: err}
		}
		return certs[0], nil
	}
	cert, err := x509.ParseCertificate(data)
	if err != nil {
		return nil, &Error{Code: CodeRefused, Message: "This is not a certificate (PEM or DER).", Err: err}
	}
	return cert, nil
}

// belongsTo reports whether a certificate names r. A certificate that
// names an account by its id URI belongs to that account only; otherwise
// its common name is r's username or email, or it carries r's email.
func (c *Core) belongsTo(cert *x509.Certificate, r *Requester) bool {
	if mine := c.IdentityURI(r); mine != nil {
		for _, u := range cert.URIs {
			if u.Scheme == mine.Scheme {
				return u.String() == mine.String()
			}
		}
	}
	same := func(a, b string) bool { return a != "" && strings.EqualFold(a, b) }
	email := c.certifiableEmail(r)
	if same(cert.Subject.CommonName, r.Username) || same(cert.Subject.CommonName, email) {
		return true
	}
	return slices.ContainsFunc(cert.EmailAddresses, func(e string) bool { return same(e, email) })
}

// Registration is an existing certificate to record for its owner.
type Registration struct {
	// By is who registers it; Owner whose it is (By when nil).
	By    *Requester
	Owner *Requester
	Data  []byte
	// AnyNames (admins) accepts a certificate whose names are not the
	// owner's, e.g. from an old CA that used full names.
	AnyNames bool
}

// Register records an existing certificate for its owner so it is listed
// and revocable. Registering for someone else, or with names that are not
// the owner's, needs a system admin. Only a certificate an admin
// registered may be revoked at its CA through the plugin: anyone can hold
// a copy of someone's certificate.
func (c *Core) Register(ctx context.Context, reg Registration) (*records.Certificate, error) {
	by, owner := reg.By, reg.Owner
	if owner == nil {
		owner = by
	}
	if (owner.Principal != by.Principal || reg.AnyNames) && !c.IsAdmin(by) {
		return nil, refuse(CodeForbidden, "Only system admins may register certificates for other users or with other names.")
	}
	if owner.Bot || !owner.Active {
		return nil, refuse(CodeNotFound, "No active user is called @%s.", owner.Username)
	}
	cert, err := parseRegisteredCertificate(reg.Data)
	if err != nil {
		return nil, err
	}
	now := c.now()
	if now.After(cert.NotAfter) {
		return nil, refuseRegistration("This certificate expired on %s; only valid certificates can be registered.", cert.NotAfter.UTC().Format("2006-01-02"))
	}
	if cert.IsCA {
		return nil, refuseRegistration("This is a CA certificate, not a client certificate.")
	}
	if !reg.AnyNames && !c.belongsTo(cert, owner) {
		return nil, refuseRegistration("This certificate is not %s's: its name (%s) is neither the account's username nor its email address.",
			owner.Username, cert.Subject.String())
	}
	keyType, err := pki.KeyTypeOf(cert.PublicKey)
	if err != nil {
		// Old certificates may have keys we do not issue; they can still be
		// tracked.
		keyType = pki.KeyType(fmt.Sprintf("%T", cert.PublicKey))
	}
	record := c.newCertificateRecord(cert, owner, c.issuingConnector(ctx, cert), "", keyType)
	record.Origin = records.OriginImported
	record.RegisteredBy = string(by.Principal)
	record.RevocableAtCA = c.IsAdmin(by) && record.Connector != UnmanagedConnector
	if record.KeyFingerprint, err = pki.PublicKeyFingerprint(cert.PublicKey); err != nil {
		return nil, err
	}
	if existing, err := c.store.GetCertificate(record.Serial); err == nil {
		if existing.Fingerprint == record.Fingerprint {
			return nil, refuseRegistration("This certificate is already registered (serial %s).", record.Serial)
		}
		return nil, refuseRegistration("Another certificate with the serial %s is already recorded, so this one cannot be registered.", record.Serial)
	} else if !errors.Is(err, records.ErrNotFound) {
		return nil, err
	}
	// The store refuses a key revoked as compromised: nothing was done
	// before that needs undoing, so no earlier check is asked.
	switch err := c.store.CreateCertificate(record); {
	case errors.Is(err, records.ErrDuplicateSerial):
		return nil, refuseRegistration("This certificate is already registered (serial %s).", record.Serial)
	case errors.Is(err, records.ErrCompromisedKey):
		return nil, ErrCompromisedKey
	case err != nil:
		return nil, err
	}
	// Its key is certified: a CSR for the same key is refused like any other.
	holder := records.KeyHolder{Kind: records.KeyHeldByCertificate, ID: record.Serial}
	if _, _, err := c.store.ClaimKey(record.KeyFingerprint, holder, keyMarkLifetime(now, record)); err != nil {
		c.log.LogWarn("Could not record the key of a registered certificate", "serial", record.Serial, "error", err.Error())
	}
	c.log.LogInfo("Certificate registered", "owner", string(owner.Principal), "by", string(by.Principal), "serial", record.Serial, "connector", record.Connector)
	if owner.Principal != by.Principal {
		c.notifierOf(owner.Principal).CertificateRegistered(owner, by, record)
	}
	return record, nil
}

// issuingConnector names the configured connector whose CA signed cert;
// UnmanagedConnector when none did.
func (c *Core) issuingConnector(ctx context.Context, cert *x509.Certificate) string {
	ctx, cancel := context.WithTimeout(ctx, chainLookupTimeout)
	defer cancel()
	for _, spec := range c.Catalog.Connectors {
		chain, err := c.Connectors[spec.Name].Chain(ctx)
		if err != nil || len(chain) == 0 {
			continue
		}
		if cert.CheckSignatureFrom(chain[0]) == nil {
			return spec.Name
		}
	}
	return UnmanagedConnector
}
