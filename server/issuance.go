package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"runtime"
	"strings"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pkg/errors"

	"github.com/clientcerts/mattermost-plugin-certs/server/admission"
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
	// its chain, and, when asked for, the key encrypted with the same
	// passphrase.
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

// issueOptions are what the user chose before pressing Create.
type issueOptions struct {
	format pki.PKCS12Format
	// keyPEM also gives the key as encrypted PKCS#8 PEM, for software that
	// does not read PKCS#12. It costs a key derivation, so only on request.
	keyPEM bool
}

// rsaQueuePerWorker is how much RSA key generation may be in line per
// generator, in RSA-2048 keys (pki.KeyType.GenerationCost): about six
// seconds of work, so that the last in line still gets its certificate in
// seconds. It holds sixty RSA-2048 requests, or five RSA-4096.
const rsaQueuePerWorker = 60

// newRSAKeyQueue runs RSA key generation on every core but one, so that a
// burst of RSA requests always leaves a core for everything else.
func newRSAKeyQueue() *admission.Queue {
	workers := max(1, runtime.NumCPU()-1)
	return admission.NewQueue(workers, rsaQueuePerWorker*int64(workers))
}

// admitKeyGeneration takes a place in line for the key a request will have
// generated (none for a certificate the CA already issued, or for a CSR).
// It runs before the link is claimed, so that a request turned away as
// busy has used up nothing. ECDSA keys take microseconds and never queue.
func (p *Plugin) admitKeyGeneration(keyType pki.KeyType, generates bool) (*admission.Ticket, error) {
	if !generates || !keyType.IsRSA() {
		return nil, nil
	}
	return p.rsaKeys.Admit(keyType.GenerationCost())
}

// keyToGenerate is the key type a server-key issuance for prof makes, and
// whether it makes one at all: a pickup of a certificate the CA has already
// issued delivers the key held with it.
func keyToGenerate(prof *profile.Profile, req *store.Request) (pki.KeyType, bool) {
	if req != nil && len(req.CertificateDER) > 0 {
		return pki.KeyType(req.KeyType), false
	}
	return prof.GeneratedKeyType(), true
}

// issueWithServerKey generates a key for user (in keyWork's turn), has the
// profile's connector sign it, records the certificate and packs key,
// certificate and chain as PKCS#12. req is the request a pickup link
// collects, if any: when the CA has issued it meanwhile, its held key and
// certificate are delivered. A CA that answers "pending" gives
// *errWaitingForCA.
func (p *Plugin) issueWithServerKey(ctx context.Context, s *services, user *model.User, prof *profile.Profile, conn connector.Connector,
	req *store.Request, keyWork *admission.Ticket, opts issueOptions) (*issuedCertificate, error) {
	var (
		key   crypto.Signer
		cert  *x509.Certificate
		chain []*x509.Certificate
		err   error
	)
	keyType, generates := keyToGenerate(prof, req)
	if generates {
		key, cert, chain, err = p.signNewKey(ctx, s, user, prof, conn, req, keyType, keyWork)
	} else {
		key, cert, chain, err = p.collectHeld(s, req)
	}
	if err != nil {
		return nil, err
	}

	passphrase, err := pki.NewPassphrase()
	if err != nil {
		return nil, err
	}
	p12, err := pki.EncodePKCS12(opts.format, key, cert, chain, passphrase)
	if err != nil {
		return nil, err
	}
	var keyPEM []byte
	if opts.keyPEM {
		if keyPEM, err = pki.EncryptedPrivateKeyPEM(key, passphrase); err != nil {
			return nil, err
		}
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

// signNewKey generates a key in keyWork's turn and has the connector sign
// it. Only the generation waits for a turn: a slow CA holds no generator.
func (p *Plugin) signNewKey(ctx context.Context, s *services, user *model.User, prof *profile.Profile, conn connector.Connector,
	req *store.Request, keyType pki.KeyType, keyWork *admission.Ticket) (crypto.Signer, *x509.Certificate, []*x509.Certificate, error) {
	var key crypto.Signer
	err := keyWork.Do(ctx, func() error {
		var err error
		key, err = pki.GenerateKey(keyType)
		return err
	})
	if err != nil {
		return nil, nil, nil, errors.Wrap(err, "generate key")
	}
	cert, chain, err := p.signAt(ctx, s, user, prof, conn, req, pendingWork{key: key, keyType: keyType})
	if err != nil {
		return nil, nil, nil, err
	}
	return key, cert, chain, nil
}

// signAt has the profile's connector certify work's key (a generated key,
// or the key of a checked CSR) for user and reads its answer: the
// certificate and chain, or, when the CA holds the request, the request kept
// with work (*errWaitingForCA); a denial or an answer without a
// certificate is a connector error.
func (p *Plugin) signAt(ctx context.Context, s *services, user *model.User, prof *profile.Profile, conn connector.Connector,
	req *store.Request, work pendingWork) (*x509.Certificate, []*x509.Certificate, error) {
	subject := subjectFor(user, prof)
	profile := connector.Profile{Name: prof.Name, Validity: prof.Validity(), ExtKeyUsages: prof.ExtKeyUsageValues()}
	var signReq connector.SignRequest
	if work.csr != nil {
		signReq = connector.ForCSR(work.csr.csr, subject, profile)
	} else {
		signReq = connector.ForGeneratedKey(work.key, subject, profile)
	}
	result, err := conn.Sign(ctx, signReq)
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
