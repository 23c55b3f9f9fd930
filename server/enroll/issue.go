package enroll

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"

	"github.com/clientcerts/mattermost-plugin-certs/server/admission"
	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
)

// Issued is what one enrollment with a server-generated key hands to its
// owner. It holds the only copy of the private key (inside PKCS12), and
// lives no longer than the answer that carries it.
type Issued struct {
	Record     *records.Certificate
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

// Options are what the requester chose before pressing Create.
type Options struct {
	// Format is the PKCS#12 encryption; zero is the admin's default.
	Format pki.PKCS12Format
	// KeyPEM also gives the key as encrypted PKCS#8 PEM, for software that
	// does not read PKCS#12. It costs a key derivation, so only on request.
	KeyPEM bool
	// Email also sends the PKCS#12 file to the owner.
	Email bool
	// renews is the certificate a renewal link replaces; only the core
	// sets it, from the link.
	renews string
}

// Outcome is what became of an enrollment: a PKCS#12 file (Issued), a
// certificate for the requester's own key (Signed), or a request that waits
// for an approver or the CA (Request).
type Outcome struct {
	Issued  *Issued
	Signed  *Signed
	Request *records.Request
	// EmailedTo is where the file was emailed; EmailError why it was not,
	// when the requester asked for it. The file is in the answer either
	// way, so a mail server that is down loses nothing.
	EmailedTo  string
	EmailError string
}

// RedeemLink consumes a link exactly once and serves it: a certificate for
// a key made now, the certificate of a request the CA has issued
// meanwhile, or the certificate of an approved CSR. A link that made
// nothing is given back, so the requester may retry while it is valid.
func (c *Core) RedeemLink(ctx context.Context, g *Grant, opts Options) (*Outcome, error) {
	if limitsApply(g.Request) {
		if err := c.checkLimits(g.Requester, g.Profile, renewsOf(g.Request, g.renews())); err != nil {
			return nil, err
		}
	}
	opts.renews = g.renews()
	// A place in line for the key comes before the link is claimed: a
	// request turned away as busy leaves the link as it was.
	var keyWork *admission.Ticket
	if !g.CollectsCSR() {
		var err error
		if keyWork, err = c.admitKeyGeneration(keyToGenerate(g.Profile, g.Request)); err != nil {
			return nil, ErrBusyCreatingKeys
		}
		defer keyWork.Release()
	}
	marks, err := c.claim(g)
	if errors.Is(err, ErrLinkUsed) {
		if outcome, ok := c.redeliver(g, opts); ok {
			return outcome, nil
		}
	}
	if err != nil {
		return nil, err
	}
	started := c.now()
	ctx, cancel := context.WithTimeout(ctx, IssueTimeout)
	defer cancel()

	outcome, err := c.serveGrant(ctx, g, keyWork, opts)
	if err != nil {
		// Nothing was issued: give the link back.
		c.release(marks)
		c.log.LogWarn("A certificate could not be issued", "principal", string(g.Requester.Principal), "profile", g.Profile.Name,
			"connector", g.Connector.Name(), "error", err.Error())
		return nil, IssuanceError(err)
	}
	if outcome.Issued != nil && (ctx.Err() != nil || c.now().Sub(started) > slowAnswer) {
		c.holdForLink(g, outcome.Issued)
	}
	return outcome, nil
}

// slowAnswer is how long an issuance may take before its answer may not
// reach the browser (proxies and browsers give up after 30 to 60 s).
const slowAnswer = 20 * time.Second

// linkHoldID is the request that keeps a slow answer for its link.
func linkHoldID(g *Grant) string { return "l-" + g.Claims.ID }

// holdForLink keeps a certificate whose answer was slow, with its key
// sealed, until the link expires: if the answer never arrived, the same
// link delivers it once more instead of it being lost.
func (c *Core) holdForLink(g *Grant, issued *Issued) {
	req, err := c.keep(g.Requester, issued, linkHoldID(g), g.Claims.ExpiresAt.Time, "kept for its link: the answer was slow and may not have arrived")
	if err != nil {
		c.log.LogError("Could not keep a slow certificate for its link", "serial", issued.Record.Serial, "error", err.Error())
		return
	}
	c.log.LogInfo("A slow certificate is kept for its link until it expires", "serial", issued.Record.Serial, "request", req.ID)
}

// redeliver serves a used link once more when it holds the certificate of
// a slow answer.
func (c *Core) redeliver(g *Grant, opts Options) (*Outcome, bool) {
	req, err := c.store.GetRequest(linkHoldID(g))
	if err != nil || req.Owner != g.Requester.Principal || req.State != records.RequestApproved || c.now().After(req.ExpiresAt) {
		return nil, false
	}
	held := &Grant{Claims: g.Claims, Requester: g.Requester, Profile: g.Profile, Connector: g.Connector, Request: req}
	claimed, err := c.store.ClaimToken(held.marks()[1], req.ExpiresAt.Sub(c.now())+tokenMarkGrace)
	if err != nil || !claimed {
		return nil, false
	}
	issued, err := c.issueWithServerKey(context.Background(), g.Requester, g.Profile, g.Connector, req, nil, opts)
	if err != nil {
		c.log.LogError("Could not deliver a kept certificate again", "request", req.ID, "error", err.Error())
		return nil, false
	}
	c.log.LogInfo("A kept certificate was delivered again on its link", "serial", issued.Record.Serial, "request", req.ID)
	return &Outcome{Issued: issued}, true
}

func (c *Core) serveGrant(ctx context.Context, g *Grant, keyWork *admission.Ticket, opts Options) (*Outcome, error) {
	if g.CollectsCSR() {
		signed, err := c.collectCSRRequest(ctx, g.Requester, g.Profile, g.Connector, g.Request)
		var waiting *errWaitingForCA
		if errors.As(err, &waiting) {
			return c.waitingForCA(g.Requester, waiting.Request), nil
		}
		if err != nil {
			return nil, err
		}
		c.issuedForCSR(g.Requester, signed.Record)
		return &Outcome{Signed: signed}, nil
	}
	return c.serveServerKey(ctx, g.Requester, g.Profile, g.Connector, g.Request, keyWork, opts)
}

// serveServerKey issues a certificate with a server-made key, announces it
// and emails it when asked.
func (c *Core) serveServerKey(ctx context.Context, r *Requester, prof *profile.Profile, conn connector.Connector,
	req *records.Request, keyWork *admission.Ticket, opts Options) (*Outcome, error) {
	issued, err := c.issueWithServerKey(ctx, r, prof, conn, req, keyWork, opts)
	var waiting *errWaitingForCA
	if errors.As(err, &waiting) {
		// The link did its job: the CA holds the request now.
		return c.waitingForCA(r, waiting.Request), nil
	}
	if err != nil {
		return nil, err
	}
	c.log.LogInfo("Certificate issued", "principal", string(r.Principal), "serial", issued.Record.Serial, "connector", issued.Record.Connector,
		"not_after", issued.Record.NotAfter.UTC().Format(time.RFC3339))
	c.notifierOf(r.Principal).CertificateIssued(r, issued.Record)
	outcome := &Outcome{Issued: issued}
	if opts.Email && c.EmailDelivery {
		c.emailOutcome(ctx, r, outcome)
	}
	return outcome, nil
}

// Enroll serves a signed-in requester with no link, for the enroll modal
// and automation: a certificate with a key made now, or, for a profile that
// needs an approver, a request.
func (c *Core) Enroll(ctx context.Context, r *Requester, profileName string, opts Options) (*Outcome, error) {
	prof, conn, err := c.ProfileFor(r, profileName)
	if err != nil {
		return nil, err
	}
	approval, err := c.serverKeyNeedsApproval(prof, nil)
	if err != nil {
		return nil, err
	}
	if approval {
		req, err := c.requestApproval(r, prof, nil, "")
		if err != nil {
			return nil, err
		}
		return &Outcome{Request: req}, nil
	}
	if err := c.checkLimits(r, prof, ""); err != nil {
		return nil, err
	}
	return c.issueNow(ctx, r, prof, conn, opts)
}

// issueNow issues a certificate with a server-made key for r, with no link:
// in the RSA line's turn, bounded by IssueTimeout.
func (c *Core) issueNow(ctx context.Context, r *Requester, prof *profile.Profile, conn connector.Connector, opts Options) (*Outcome, error) {
	keyWork, err := c.admitKeyGeneration(keyToGenerate(prof, nil))
	if err != nil {
		return nil, ErrBusyCreatingKeys
	}
	defer keyWork.Release()
	ctx, cancel := context.WithTimeout(ctx, IssueTimeout)
	defer cancel()
	outcome, err := c.serveServerKey(ctx, r, prof, conn, nil, keyWork, opts)
	if err != nil {
		c.log.LogWarn("A certificate could not be issued", "principal", string(r.Principal), "profile", prof.Name, "connector", conn.Name(), "error", err.Error())
		return nil, IssuanceError(err)
	}
	return outcome, nil
}

// emailOutcome mails the file of an outcome and notes how it went.
func (c *Core) emailOutcome(ctx context.Context, owner *Requester, outcome *Outcome) {
	if c.certifiableEmail(owner) == "" {
		outcome.EmailError = "Your account has no verified email address to send it to."
		return
	}
	if err := c.mail.SendCertificate(ctx, owner, outcome.Issued); err != nil {
		outcome.EmailError = capitalize(err.Error()) + "."
		c.log.LogWarn("Could not email a certificate", "principal", string(owner.Principal), "serial", outcome.Issued.Record.Serial, "error", errorChain(err))
		return
	}
	outcome.EmailedTo = owner.Email
}

// waitingForCA is the outcome of a request the CA holds.
func (c *Core) waitingForCA(owner *Requester, req *records.Request) *Outcome {
	c.log.LogInfo("The CA left a certificate request pending", "principal", string(owner.Principal), "request", req.ID, "connector", req.Connector)
	c.notifierOf(owner.Principal).WaitingForCA(owner, req)
	return &Outcome{Request: req}
}

// keyToGenerate is the key type a server-key issuance for prof makes, and
// whether it makes one at all: a pickup of a certificate the CA has already
// issued delivers the key held with it.
func keyToGenerate(prof *profile.Profile, req *records.Request) (pki.KeyType, bool) {
	if req != nil && len(req.CertificateDER) > 0 {
		return pki.KeyType(req.KeyType), false
	}
	return prof.GeneratedKeyType(), true
}

// issueWithServerKey generates a key for owner (in keyWork's turn), has the
// profile's connector sign it, records the certificate and packs key,
// certificate and chain as PKCS#12. req is the request a pickup link
// collects, if any: when the CA has issued it meanwhile, its held key and
// certificate are delivered. A CA that answers "pending" gives
// *errWaitingForCA.
func (c *Core) issueWithServerKey(ctx context.Context, owner *Requester, prof *profile.Profile, conn connector.Connector,
	req *records.Request, keyWork *admission.Ticket, opts Options) (*Issued, error) {
	var (
		key   crypto.Signer
		cert  *x509.Certificate
		chain []*x509.Certificate
		err   error
	)
	renews := renewsOf(req, opts.renews)
	keyType, generates := keyToGenerate(prof, req)
	if generates {
		key, cert, chain, err = c.signNewKey(ctx, owner, prof, conn, req, pendingWork{keyType: keyType, renews: renews}, keyWork)
	} else {
		key, cert, chain, err = c.collectHeld(req)
	}
	if err != nil {
		return nil, err
	}

	record := c.newCertificateRecord(cert, owner, conn.Name(), prof.Name, keyType)
	record.Origin = records.OriginServerKey
	record.Renews = renews
	if record.KeyFingerprint, err = pki.PublicKeyFingerprint(cert.PublicKey); err != nil {
		return nil, err
	}
	// Recorded before it is packed: the record decides (the profile's
	// limits, the request it closes), and a certificate it turns away
	// costs no PKCS#12.
	fresh, err := c.record(record, req)
	if err != nil {
		return nil, fmt.Errorf("record the certificate: %w", err)
	}
	issued, err := c.pack(owner, key, cert, chain, opts)
	if err != nil {
		if fresh {
			c.withdraw(record, err)
		}
		return nil, err
	}
	issued.Record = record
	if fresh {
		c.settle(prof, record)
	}
	return issued, nil
}

// withdraw revokes a certificate recorded for a key that could not be
// packed: the key never reaches its owner, and the certificate must not
// stay valid, nor hold a place in the owner's limits.
func (c *Core) withdraw(record *records.Certificate, cause error) {
	c.log.LogError("A certificate that could not be packed for delivery is revoked", "serial", record.Serial, "error", cause.Error())
	ctx, cancel := context.WithTimeout(context.Background(), IssueTimeout)
	defer cancel()
	if _, err := c.revokeRecord(ctx, record, records.ReasonCessationOfOperation, "issuance"); err != nil {
		c.log.LogError("Could not revoke a certificate that was not delivered", "serial", record.Serial, "error", err.Error())
	}
}

// pack encodes a key with its certificate for delivery.
func (c *Core) pack(owner *Requester, key crypto.Signer, cert *x509.Certificate, chain []*x509.Certificate, opts Options) (*Issued, error) {
	passphrase, err := pki.NewPassphrase()
	if err != nil {
		return nil, err
	}
	format := opts.Format
	if format == "" {
		format = c.PKCS12Format
	}
	certificatePEM := pki.EncodeCertificatesPEM(append([]*x509.Certificate{cert}, chain...))
	p12, err := pki.EncodePKCS12(format, key, cert, chain, passphrase)
	if err != nil {
		return nil, err
	}
	var keyPEM []byte
	if opts.KeyPEM {
		if keyPEM, err = pki.EncryptedPrivateKeyPEM(key, passphrase); err != nil {
			return nil, err
		}
	}
	return &Issued{
		key:            key,
		chain:          chain,
		PKCS12:         p12,
		Passphrase:     passphrase,
		Filename:       FileBase(owner.Username) + ".p12",
		CertificatePEM: certificatePEM,
		KeyPEM:         keyPEM,
	}, nil
}

// signNewKey generates a key of work's type in keyWork's turn and has the
// connector sign it. Only the generation waits for a turn: a slow CA holds
// no generator.
func (c *Core) signNewKey(ctx context.Context, owner *Requester, prof *profile.Profile, conn connector.Connector,
	req *records.Request, work pendingWork, keyWork *admission.Ticket) (crypto.Signer, *x509.Certificate, []*x509.Certificate, error) {
	err := keyWork.Do(ctx, func() error {
		var err error
		work.key, err = pki.GenerateKey(work.keyType)
		return err
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("generate key: %w", err)
	}
	cert, chain, err := c.signAt(ctx, owner, prof, conn, req, work)
	if err != nil {
		return nil, nil, nil, err
	}
	return work.key, cert, chain, nil
}

// signAt has the profile's connector certify work's key (a generated key,
// or the key of a checked CSR) for owner and reads its answer: the
// certificate and chain, or, when the CA holds the request, the request kept
// with work (*errWaitingForCA); a denial or an answer without a certificate
// is a connector error.
func (c *Core) signAt(ctx context.Context, owner *Requester, prof *profile.Profile, conn connector.Connector,
	req *records.Request, work pendingWork) (*x509.Certificate, []*x509.Certificate, error) {
	subject := c.SubjectFor(owner, prof)
	cp := connector.Profile{Name: prof.Name, Validity: prof.Validity(), ExtKeyUsages: prof.ExtKeyUsageValues()}
	var signReq connector.SignRequest
	if work.csr != nil {
		if conn.Type() == profile.TypeStepCA {
			// step-ca signs the CSR's own names: a URI the requester's CSR
			// does not carry cannot be added. The record keeps the id.
			subject.URIs = nil
		}
		signReq = connector.ForCSR(work.csr.csr, subject, cp)
	} else {
		signReq = connector.ForGeneratedKey(work.key, subject, cp)
	}
	result, err := conn.Sign(ctx, signReq)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case result.Status == connector.StatusPending:
		work.caRequestID = result.RequestID
		held, err := c.holdForCA(owner, prof, conn, req, work)
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

func (c *Core) newCertificateRecord(cert *x509.Certificate, owner *Requester, connectorName, profile string, keyType pki.KeyType) *records.Certificate {
	return &records.Certificate{
		Serial:      pki.FormatSerial(cert.SerialNumber),
		Issuer:      pki.IssuerID(cert),
		Owner:       owner.Principal,
		Subject:     cert.Subject.String(),
		CommonName:  cert.Subject.CommonName,
		Emails:      cert.EmailAddresses,
		NotBefore:   cert.NotBefore,
		NotAfter:    cert.NotAfter,
		Connector:   connectorName,
		Profile:     profile,
		KeyType:     string(keyType),
		Fingerprint: pki.Fingerprint(cert),
		State:       records.CertIssued,
		CreatedAt:   c.now(),
		DER:         cert.Raw,
	}
}

// limitsApply reports whether a profile's limits decide a certificate made
// for req (nil outside a request): waiting requests hold no place, so an
// approved one is decided when it is collected; a certificate the CA issued
// while it held the request, or one kept for a delivery, is past deciding.
func limitsApply(req *records.Request) bool {
	return req == nil || len(req.CertificateDER) == 0
}

// renewsOf is the certificate a new one replaces: the request's, when it
// is made for one, else link's (a serial, or "").
func renewsOf(req *records.Request, link string) string {
	if req != nil {
		return req.Renews
	}
	return link
}

// record records an issued certificate and closes the request it was
// issued for, if any, and reports whether this call recorded it (a held
// delivery made again was recorded the first time). A request that cannot
// be closed (it expired meanwhile) does not cost the owner the certificate
// they are about to receive. The profile's limits are decided again with
// the record (where limitsApply): of two enrollments (or approved
// requests) racing for the last place, the loser's certificate is never
// delivered.
func (c *Core) record(record *records.Certificate, req *records.Request) (bool, error) {
	prof, _ := c.Catalog.Profile(record.Profile)
	requestID := ""
	if req != nil {
		requestID = req.ID
	}
	var quota *records.Quota
	if prof != nil && limitsApply(req) {
		quota = c.quotaFor(prof, record.Renews)
	}
	err := c.store.RecordIssuance(record, requestID, c.now(), quota)
	var (
		unclosed  *records.ErrTransition
		overQuota *records.ErrOverQuota
	)
	switch {
	case errors.Is(err, records.ErrAlreadyRecorded):
		return false, nil
	case errors.As(err, &unclosed):
		c.log.LogWarn("Could not close a collected request", "request", requestID, "serial", record.Serial, "error", err.Error())
	case errors.Is(err, records.ErrCompromisedKey):
		return false, ErrCompromisedKey
	case errors.As(err, &overQuota):
		c.log.LogWarn("A certificate signed while another enrollment took the owner's last place is not delivered",
			"serial", record.Serial, "connector", record.Connector, "profile", record.Profile)
		return false, overQuotaError(overQuota)
	case err != nil:
		return false, err
	}
	return true, nil
}

// settle does what a new certificate of prof, recorded and ready for its
// owner, sets off: a renewal revokes the certificate it replaces, where the
// profile asks for it.
func (c *Core) settle(prof *profile.Profile, record *records.Certificate) {
	if prof.Renewal.RevokeReplaced && record.Renews != "" {
		c.revokeReplaced(record)
	}
}
