package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"strings"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pkg/errors"

	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

// issuedCertificate is what one enrollment with a server-generated key hands
// to the user. It holds the only copy of the private key (inside PKCS12), and
// lives no longer than the response that carries it.
type issuedCertificate struct {
	Record     *store.Certificate
	PKCS12     []byte
	Passphrase string
	Filename   string
	// The same, for software that wants PEM or DER: the certificate with
	// its chain, and the key encrypted with the same passphrase.
	CertificatePEM []byte
	KeyPEM         []byte
	// key and chain are kept for a delivery that must wait (an email that
	// could not be sent).
	key   crypto.Signer
	chain []*x509.Certificate
}

// subjectFor derives the certificate identity from the Mattermost account,
// shaped by the profile.
func subjectFor(user *model.User, prof *profile.Profile) connector.Subject {
	s := connector.Subject{
		CommonName:         user.Username,
		Organization:       prof.Subject.Organization,
		OrganizationalUnit: prof.Subject.OrganizationalUnit,
	}
	if prof.Subject.CommonName == "email" && user.Email != "" {
		s.CommonName = user.Email
	}
	if prof.Subject.IncludesEmail() && user.Email != "" {
		s.Emails = []string{user.Email}
	}
	return s
}

// issueWithServerKey generates a key for user, has the profile's connector
// sign it, records the certificate and packs key, certificate and chain as
// PKCS#12. req is the request a pickup link collects, if any: when the CA
// has issued it meanwhile, its held key and certificate are delivered. A CA
// that answers "pending" gives *errWaitingForCA.
func (p *Plugin) issueWithServerKey(ctx context.Context, s *services, user *model.User, prof *profile.Profile, conn connector.Connector,
	req *store.Request, format pki.PKCS12Format) (*issuedCertificate, error) {
	select {
	case p.keyGeneration <- struct{}{}:
		defer func() { <-p.keyGeneration }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}

	var (
		key     crypto.Signer
		cert    *x509.Certificate
		chain   []*x509.Certificate
		keyType pki.KeyType
		err     error
	)
	if req != nil && len(req.CertificateDER) > 0 {
		keyType = pki.KeyType(req.KeyType)
		key, cert, chain, err = p.collectHeld(s, req)
	} else {
		keyType = prof.GeneratedKeyType()
		key, cert, chain, err = p.signNewKey(ctx, s, user, prof, conn, req, keyType)
	}
	if err != nil {
		return nil, err
	}

	passphrase, err := pki.NewPassphrase()
	if err != nil {
		return nil, err
	}
	p12, err := pki.EncodePKCS12(format, key, cert, chain, passphrase)
	if err != nil {
		return nil, err
	}
	keyPEM, err := pki.EncryptedPrivateKeyPEM(key, passphrase)
	if err != nil {
		return nil, err
	}
	record := p.newCertificateRecord(cert, store.MattermostUser(user.Id), conn.Name(), prof.Name, keyType)
	record.Origin = store.OriginServerKey
	if record.KeyFingerprint, err = pki.PublicKeyFingerprint(cert.PublicKey); err != nil {
		return nil, err
	}
	// A held delivery was recorded when it was issued.
	alreadyRecorded := req != nil && req.Serial == record.Serial
	if err := p.store.CreateCertificate(record); err != nil && !(alreadyRecorded && errors.Is(err, store.ErrDuplicateSerial)) {
		return nil, errors.Wrap(err, "record the certificate")
	}
	return &issuedCertificate{
		key:            key,
		chain:          chain,
		Record:         record,
		PKCS12:         p12,
		Passphrase:     passphrase,
		Filename:       p12Filename(user.Username),
		CertificatePEM: pki.EncodeCertificatesPEM(append([]*x509.Certificate{cert}, chain...)),
		KeyPEM:         keyPEM,
	}, nil
}

// signNewKey generates a key and has the connector sign it.
func (p *Plugin) signNewKey(ctx context.Context, s *services, user *model.User, prof *profile.Profile, conn connector.Connector,
	req *store.Request, keyType pki.KeyType) (crypto.Signer, *x509.Certificate, []*x509.Certificate, error) {
	subject := subjectFor(user, prof)
	key, err := pki.GenerateKey(keyType)
	if err != nil {
		return nil, nil, nil, errors.Wrap(err, "generate key")
	}
	csr, err := pki.NewCSR(key, subject.CommonName, subject.Emails)
	if err != nil {
		return nil, nil, nil, err
	}
	cert, chain, err := p.signAt(ctx, s, user, prof, conn, req, csr, pendingWork{key: key, keyType: keyType})
	if err != nil {
		return nil, nil, nil, err
	}
	return key, cert, chain, nil
}

// signAt has the profile's connector sign csr for user and reads its answer:
// the certificate and chain, or, when the CA holds the request, the request
// kept with work (*errWaitingForCA); a denial or an answer without a
// certificate is a connector error.
func (p *Plugin) signAt(ctx context.Context, s *services, user *model.User, prof *profile.Profile, conn connector.Connector,
	req *store.Request, csr *x509.CertificateRequest, work pendingWork) (*x509.Certificate, []*x509.Certificate, error) {
	result, err := conn.Sign(ctx, connector.SignRequest{
		CSR:     csr,
		Subject: subjectFor(user, prof),
		Profile: connector.Profile{Name: prof.Name, Validity: prof.Validity(), ExtKeyUsages: prof.ExtKeyUsageValues()},
	})
	if err != nil {
		return nil, nil, err
	}
	switch {
	case result.Status == connector.StatusPending:
		work.caRequestID = result.RequestID
		held, err := p.holdForCA(s, user, prof, conn, req, work)
		if err != nil {
			return nil, nil, err
		}
		return nil, nil, &errWaitingForCA{Request: held}
	case result.Status == connector.StatusDenied:
		return nil, nil, &connector.Error{Kind: connector.KindRejected, Connector: conn.Name(), Message: result.Reason}
	case result.Status != connector.StatusIssued || result.Certificate == nil:
		return nil, nil, &connector.Error{Kind: connector.KindMisconfigured, Connector: conn.Name(),
			Message: fmt.Sprintf("the CA answered %q without a certificate", result.Status)}
	}
	return result.Certificate, result.Chain, nil
}

func (p *Plugin) newCertificateRecord(cert *x509.Certificate, owner store.Principal, connectorName, profile string, keyType pki.KeyType) *store.Certificate {
	return &store.Certificate{
		Serial:      pki.FormatSerial(cert.SerialNumber),
		Owner:       owner,
		Subject:     cert.Subject.String(),
		CommonName:  cert.Subject.CommonName,
		Emails:      cert.EmailAddresses,
		NotBefore:   cert.NotBefore,
		NotAfter:    cert.NotAfter,
		Connector:   connectorName,
		Profile:     profile,
		KeyType:     string(keyType),
		Fingerprint: pki.Fingerprint(cert),
		State:       store.CertIssued,
		CreatedAt:   p.now(),
		DER:         cert.Raw,
	}
}

// p12Filename is a download name safe on every OS.
func p12Filename(username string) string {
	return fileBase(username) + ".p12"
}

// fileBase is username reduced to characters safe in a file name.
func fileBase(username string) string {
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, username)
	if name == "" {
		name = "certificate"
	}
	return name
}

// errNotOwner hides whether a serial exists from someone who does not own it.
var errNotOwner = errors.New("no certificate with this serial belongs to you")

// revokeOwnCertificate revokes a certificate that owner holds: at the CA
// first, then in the record, so a CA that refuses leaves the record honest.
func (p *Plugin) revokeOwnCertificate(ctx context.Context, s *services, owner store.Principal, serial, reason, revokedBy string) (*store.Certificate, error) {
	record, err := p.store.GetCertificate(serial)
	if errors.Is(err, store.ErrNotFound) || (err == nil && record.Owner != owner) {
		return nil, errNotOwner
	}
	if err != nil {
		return nil, err
	}
	if record.State == store.CertRevoked {
		return record, errAlreadyRevoked
	}
	// A registered certificate from an outside CA is revoked in our records
	// only; its CA must be told separately.
	if record.Connector != importedConnector {
		conn, ok := s.connectors[record.Connector]
		if !ok {
			return nil, fmt.Errorf("the CA connector %q that issued this certificate is no longer configured; an administrator must revoke it at that CA", record.Connector)
		}
		if err := conn.Revoke(ctx, connector.RevokeRequest{Serial: serial, Reason: reason}); err != nil {
			return nil, err
		}
	}
	now := p.now()
	return p.store.UpdateCertificate(serial, func(c *store.Certificate) error {
		if c.State == store.CertRevoked {
			return errAlreadyRevoked
		}
		c.State = store.CertRevoked
		c.RevokedAt = &now
		c.RevokedBy = revokedBy
		c.RevocationReason = reason
		return nil
	})
}

var errAlreadyRevoked = errors.New("this certificate is already revoked")
