package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pkg/errors"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

// maxImportBytes bounds a registered certificate with its chain.
const maxImportBytes = 64 << 10

// importedConnector is the connector name of a certificate from a CA the
// plugin does not talk to: revoking it changes only our records.
const importedConnector = ""

// errImportRefused is a certificate that cannot be registered, with a reason
// the uploader can act on.
type errImportRefused struct{ message string }

func (e *errImportRefused) Error() string { return e.message }

func refuseImport(format string, args ...any) error {
	return &errImportRefused{message: fmt.Sprintf(format, args...)}
}

// parseImportedCertificate reads one certificate, PEM or DER; in a PEM
// bundle the first certificate is the one registered, the rest its chain.
func parseImportedCertificate(data []byte) (*x509.Certificate, error) {
	// Trimmed only to recognise PEM: DER may end in a byte that looks like
	// white space.
	trimmed := bytes.TrimSpace(data)
	switch {
	case len(trimmed) == 0:
		return nil, refuseImport("The upload is empty: choose a certificate file (PEM or DER).")
	case len(data) > maxImportBytes:
		return nil, refuseImport("The upload is larger than %d KiB; a certificate is far smaller.", maxImportBytes>>10)
	case bytes.HasPrefix(trimmed, []byte("-----BEGIN")):
		certs, err := pki.ParseCertificatesPEM(trimmed)
		if err != nil {
			return nil, refuseImport("The PEM text cannot be read: %v.", err)
		}
		return certs[0], nil
	}
	cert, err := x509.ParseCertificate(data)
	if err != nil {
		return nil, refuseImport("This is not a certificate (PEM or DER): %v.", err)
	}
	return cert, nil
}

// certificateBelongsTo reports whether a certificate names user: its common
// name is their username or email, or it carries their email address.
func certificateBelongsTo(cert *x509.Certificate, user *model.User) bool {
	same := func(a, b string) bool { return a != "" && strings.EqualFold(a, b) }
	if same(cert.Subject.CommonName, user.Username) || same(cert.Subject.CommonName, user.Email) {
		return true
	}
	return slices.ContainsFunc(cert.EmailAddresses, func(e string) bool { return same(e, user.Email) })
}

// importCertificate registers an existing certificate for owner so it is
// listed, reminded and revocable. anyNames (admins only) accepts a
// certificate whose names are not the owner's, e.g. from an old CA that
// used full names.
func (p *Plugin) importCertificate(ctx context.Context, s *services, owner *model.User, data []byte, anyNames bool) (*store.Certificate, error) {
	cert, err := parseImportedCertificate(data)
	if err != nil {
		return nil, err
	}
	now := p.now()
	if now.After(cert.NotAfter) {
		return nil, refuseImport("This certificate expired on %s; only valid certificates can be registered.", cert.NotAfter.UTC().Format("2006-01-02"))
	}
	if cert.IsCA {
		return nil, refuseImport("This is a CA certificate, not a client certificate.")
	}
	if !anyNames && !certificateBelongsTo(cert, owner) {
		return nil, refuseImport("This certificate is not %s's: its name (%s) is neither the account's username nor its email address.",
			owner.Username, cert.Subject.String())
	}
	keyType, err := pki.KeyTypeOf(cert.PublicKey)
	if err != nil {
		// Old certificates may have keys we do not issue; they can still be
		// tracked.
		keyType = pki.KeyType(fmt.Sprintf("%T", cert.PublicKey))
	}
	record := p.newCertificateRecord(cert, store.MattermostUser(owner.Id), p.issuingConnector(ctx, s, cert), "", keyType)
	record.Origin = store.OriginImported
	if record.KeyFingerprint, err = pki.PublicKeyFingerprint(cert.PublicKey); err != nil {
		return nil, err
	}
	if existing, err := p.store.GetCertificate(record.Serial); err == nil {
		if existing.Fingerprint == record.Fingerprint {
			return nil, refuseImport("This certificate is already registered (serial %s).", record.Serial)
		}
		return nil, refuseImport("Another certificate with the serial %s is already recorded, so this one cannot be registered.", record.Serial)
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if err := p.store.CreateCertificate(record); errors.Is(err, store.ErrDuplicateSerial) {
		return nil, refuseImport("This certificate is already registered (serial %s).", record.Serial)
	} else if err != nil {
		return nil, err
	}
	// Its key is certified: a CSR for the same key is refused like any other.
	holder := store.KeyHolder{Kind: store.KeyHeldByCertificate, ID: record.Serial}
	if _, _, err := p.store.ClaimKey(record.KeyFingerprint, holder, keyMarkLifetime(now, record)); err != nil {
		p.API.LogWarn("Could not record the key of a registered certificate", "serial", record.Serial, "error", err.Error())
	}
	return record, nil
}

// issuingConnector names the configured connector whose CA signed cert, so
// that revoking it reaches that CA; importedConnector when none did.
func (p *Plugin) issuingConnector(ctx context.Context, s *services, cert *x509.Certificate) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for _, spec := range s.catalog.Connectors {
		chain, err := s.connectors[spec.Name].Chain(ctx)
		if err != nil || len(chain) == 0 {
			continue
		}
		if cert.CheckSignatureFrom(chain[0]) == nil {
			return spec.Name
		}
	}
	return importedConnector
}
