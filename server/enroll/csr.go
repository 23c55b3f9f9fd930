package enroll

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"

	"github.com/clientcerts/mattermost-plugin-certs/server/attest"
	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
)

// Upload is what a requester sends to have their own key certified: a
// CSR, PEM or DER, and optionally the hardware attestation of its key.
type Upload struct {
	CSR         []byte
	Attestation []byte
}

// checkedCSR is an upload that passed every check of its profile.
type checkedCSR struct {
	csr            *x509.CertificateRequest
	keyType        pki.KeyType
	keyFingerprint string
	attestation    *records.Attestation
	// renews is the certificate the new one is to replace, if any.
	renews string
}

// Signed is a certificate signed for a requester's own key.
type Signed struct {
	Record      *records.Certificate
	Certificate *x509.Certificate
	Chain       []*x509.Certificate
}

// CertificatePEM is the certificate and its chain, issuing CA first.
func (s *Signed) CertificatePEM() []byte {
	return pki.EncodeCertificatesPEM(append([]*x509.Certificate{s.Certificate}, s.Chain...))
}

func refuseCSR(format string, args ...any) error {
	return refuse(CodeRefused, format, args...)
}

// checkCSR checks an upload against the profile: a CSR we can read whose
// signature verifies, a key type the profile accepts, names that match the
// account when the profile says so, and the attestation its policy asks for.
func (c *Core) checkCSR(r *Requester, prof *profile.Profile, conn connector.Connector, upload Upload) (*checkedCSR, error) {
	checked, err := c.checkUpload(r, prof, conn, upload)
	if e := AsError(err); e != nil && e.Code == CodeRefused {
		// The requester reads words; the parser's own account is for the log.
		reason := e.Message
		var parseErr *pki.CSRError
		if errors.As(err, &parseErr) {
			reason = parseErr.Detail()
		}
		c.log.LogInfo("A CSR was refused", "principal", string(r.Principal), "profile", prof.Name, "reason", reason)
	}
	return checked, err
}

func (c *Core) checkUpload(r *Requester, prof *profile.Profile, conn connector.Connector, upload Upload) (*checkedCSR, error) {
	csr, keyType, err := pki.ParseCSR(upload.CSR, prof.AcceptedKeyTypes())
	if err != nil {
		if pki.IsCSRError(err) {
			return nil, &Error{Code: CodeRefused, Message: capitalize(err.Error()) + ".", Err: err}
		}
		return nil, err
	}
	if prof.CSRNames == profile.CSRNamesMatch {
		if err := matchCSRNames(csr, c.SubjectFor(r, prof), conn.Type() == profile.TypeStepCA); err != nil {
			return nil, err
		}
	}
	fingerprint, err := pki.PublicKeyFingerprint(csr.PublicKey)
	if err != nil {
		return nil, err
	}
	if err := c.refuseCompromisedKey(fingerprint); err != nil {
		return nil, err
	}
	checked := &checkedCSR{csr: csr, keyType: keyType, keyFingerprint: fingerprint}

	var evidence attest.Evidence
	if len(upload.Attestation) > 0 && prof.Attestation != profile.AttestationIgnore {
		certs, err := attest.ParseCertificates(upload.Attestation)
		if err != nil {
			return nil, &Error{Code: CodeRefused, Message: "The attestation cannot be read: " + err.Error(), Err: err}
		}
		evidence.Certificates = certs
	}
	result, err := attest.Check(attest.Policy(prof.Attestation), c.AttestationRoots, evidence, csr.PublicKey, c.now())
	if err != nil {
		if attest.IsError(err) {
			return nil, &Error{Code: CodeRefused, Message: capitalize(err.Error()) + ".", Err: err}
		}
		return nil, err
	}
	if result.Attested {
		checked.attestation = &records.Attestation{
			Format: result.Format, DeviceSerial: result.DeviceSerial, FirmwareVersion: result.FirmwareVersion,
			PINPolicy: result.PINPolicy, TouchPolicy: result.TouchPolicy, FormFactor: result.FormFactor, Root: result.Root,
		}
	}
	return checked, nil
}

// matchCSRNames checks that a CSR asks for nothing but the account's names.
// exact also wants every name of the certificate in the CSR, for CAs that
// sign the CSR's own names (step-ca); the account's id URI is not asked of
// a CSR: such a CA cannot add it.
func matchCSRNames(csr *x509.CertificateRequest, want connector.Subject, exact bool) error {
	if cn := csr.Subject.CommonName; cn != want.CommonName && (cn != "" || exact) {
		return refuseCSR("The request's common name must be %q (it is %q).", want.CommonName, cn)
	}
	if len(csr.DNSNames) > 0 || len(csr.IPAddresses) > 0 || len(csr.URIs) > 0 {
		return refuseCSR("The request may not name hosts, IP addresses or URIs; a client certificate names only you.")
	}
	for _, email := range csr.EmailAddresses {
		if !slices.ContainsFunc(want.Emails, func(w string) bool { return strings.EqualFold(w, email) }) {
			return refuseCSR("The request names the email address %q, which is not yours.", email)
		}
	}
	if exact {
		for _, email := range want.Emails {
			if !slices.ContainsFunc(csr.EmailAddresses, func(got string) bool { return strings.EqualFold(got, email) }) {
				return refuseCSR("The request must name your email address %q as a subject alternative name.", email)
			}
		}
	}
	return nil
}

// SubmitCSR checks an upload made with a CSR link, then consumes the link
// and serves it. An upload that is refused leaves the link usable, so the
// requester can fix the request and send it again; a used link is told
// before a refusal, so that it is not offered the form again.
func (c *Core) SubmitCSR(ctx context.Context, g *Grant, upload Upload) (*Outcome, error) {
	if err := c.checkLimits(g.Requester, g.Profile, g.renews()); err != nil {
		return nil, err
	}
	checked, err := c.checkCSR(g.Requester, g.Profile, g.Connector, upload)
	if err != nil {
		if usedErr := c.CheckUnused(g); usedErr != nil {
			return nil, usedErr
		}
		return nil, err
	}
	marks, err := c.claim(g)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, IssueTimeout)
	defer cancel()
	outcome, err := c.enrollCSR(ctx, g.Requester, g.Profile, g.Connector, checked, marks, g.Renews)
	if e := AsError(err); e != nil && e.Code == CodeConflict {
		if usedErr := c.CheckUnused(g); usedErr != nil {
			return nil, usedErr
		}
	}
	return outcome, err
}

// SignCSR signs a CSR for a signed-in requester, with no link: the same
// checks as the upload page.
func (c *Core) SignCSR(ctx context.Context, r *Requester, profileName string, upload Upload) (*Outcome, error) {
	prof, conn, err := c.ProfileFor(r, profileName)
	if err != nil {
		return nil, err
	}
	if err := c.checkLimits(r, prof, ""); err != nil {
		return nil, err
	}
	checked, err := c.checkCSR(r, prof, conn, upload)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, IssueTimeout)
	defer cancel()
	return c.enrollCSR(ctx, r, prof, conn, checked, nil, nil)
}

// enrollCSR serves a checked upload for r: the key is claimed so no second
// upload can certify it, then the request goes to the approvers or to the
// CA. linkMarks are the link's own marks, already claimed; they are
// released with the key when nothing comes of the upload. renews is the
// certificate a renewal replaces: its key may be certified again (a smart
// card keeps its key), so its claim passes to the upload, and back if
// nothing comes of it.
func (c *Core) enrollCSR(ctx context.Context, r *Requester, prof *profile.Profile, conn connector.Connector,
	checked *checkedCSR, linkMarks []string, renews *records.Certificate) (*Outcome, error) {
	if renews != nil {
		checked.renews = renews.Serial
	}
	upload := records.KeyHolder{Kind: records.KeyHeldByUpload, ID: newUploadID()}
	claimed, holder, err := c.store.ClaimKey(checked.keyFingerprint, upload, IssueTimeout+tokenMarkGrace)
	if err != nil {
		c.release(linkMarks)
		return nil, err
	}
	var reused *records.Certificate
	if !claimed {
		if reused, err = c.takeOverKey(checked, holder, upload, renews); err != nil {
			c.release(linkMarks)
			return nil, err
		}
	}
	// The link's marks are final as claimed; the key's mark moves on to
	// what now holds it.
	complete := func(keyHolder records.KeyHolder, keyTTL time.Duration) {
		if err := c.store.MoveKey(checked.keyFingerprint, upload, keyHolder, keyTTL); err != nil {
			c.log.LogError("Could not record who holds a public key", "principal", string(r.Principal), "error", err.Error())
		}
	}
	fail := func(err error) (*Outcome, error) {
		c.release(linkMarks)
		c.giveBackKey(checked.keyFingerprint, upload, reused)
		return nil, err
	}

	if prof.RequiresApproval && !c.renewalSkipsApproval(prof, renews) {
		req, err := c.requestApproval(r, prof, checked, checked.renews)
		if err != nil {
			return fail(err)
		}
		complete(records.KeyHolder{Kind: records.KeyHeldByRequest, ID: req.ID}, 2*RequestLifetime+PickupLinkLifetime)
		return &Outcome{Request: req}, nil
	}

	signed, err := c.signCSR(ctx, r, prof, conn, checked, nil)
	var waiting *errWaitingForCA
	switch {
	case errors.As(err, &waiting):
		complete(records.KeyHolder{Kind: records.KeyHeldByRequest, ID: waiting.Request.ID}, 2*RequestLifetime+PickupLinkLifetime)
		return c.waitingForCA(r, waiting.Request), nil
	case err != nil:
		c.log.LogWarn("A certificate could not be issued for a CSR", "principal", string(r.Principal), "profile", prof.Name,
			"connector", conn.Name(), "error", err.Error())
		return fail(IssuanceError(err))
	}
	complete(records.KeyHolder{Kind: records.KeyHeldByCertificate, ID: signed.Record.Serial}, keyMarkLifetime(c.now(), signed.Record))
	c.issuedForCSR(r, signed.Record)
	return &Outcome{Signed: signed}, nil
}

// issuedForCSR logs and announces a certificate signed for a CSR.
func (c *Core) issuedForCSR(owner *Requester, record *records.Certificate) {
	c.log.LogInfo("Certificate issued for a CSR", "principal", string(owner.Principal), "serial", record.Serial, "connector", record.Connector,
		"attested", record.Attestation != nil, "not_after", record.NotAfter.UTC().Format(time.RFC3339))
	c.notifierOf(owner.Principal).CertificateIssued(owner, record)
}

func newUploadID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// keyMarkLifetime keeps a certified key refused until its certificate
// expires: a revoked key may be compromised and is not certified again.
func keyMarkLifetime(now time.Time, record *records.Certificate) time.Duration {
	return record.NotAfter.Sub(now) + tokenMarkGrace
}

// duplicateKeyError explains why a key cannot be certified again.
func duplicateKeyError(holder records.KeyHolder) error {
	switch holder.Kind {
	case records.KeyHeldByCertificate:
		return refuse(CodeConflict, "A certificate (serial %s) was already issued for this key. Make a new key and CSR for a new certificate.", holder.ID)
	case records.KeyHeldByRequest:
		return &Error{Code: CodeConflict, Message: fmt.Sprintf("This key was already submitted in request %s.", holder.ID),
			Next: NextSeeRequests, Hint: "Your requests say where it stands."}
	}
	return refuse(CodeConflict, "This certificate signing request is being processed right now, from another upload.")
}

// signCSR has the profile's connector sign a checked CSR and records the
// certificate. req is the approved request being collected, if any. A CA
// that answers "pending" gives *errWaitingForCA.
func (c *Core) signCSR(ctx context.Context, r *Requester, prof *profile.Profile, conn connector.Connector,
	checked *checkedCSR, req *records.Request) (*Signed, error) {
	cert, chain, err := c.signAt(ctx, r, prof, conn, req, pendingWork{csr: checked, renews: checked.renews})
	if err != nil {
		return nil, err
	}
	return c.recordCSRCertificate(r, prof, conn, checked, cert, chain, req)
}

// recordCSRCertificate records a certificate issued for a requester's own
// key, closing the request it was issued for, if any.
func (c *Core) recordCSRCertificate(r *Requester, prof *profile.Profile, conn connector.Connector, checked *checkedCSR,
	cert *x509.Certificate, chain []*x509.Certificate, req *records.Request) (*Signed, error) {
	record := c.newCertificateRecord(cert, r, conn.Name(), prof.Name, checked.keyType)
	record.Origin = records.OriginCSR
	record.KeyFingerprint = checked.keyFingerprint
	record.Attestation = checked.attestation
	record.Renews = checked.renews
	fresh, err := c.record(record, req)
	if errors.Is(err, ErrCompromisedKey) {
		c.discardSigned(context.Background(), conn, cert)
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("record the certificate: %w", err)
	}
	if fresh {
		c.settle(prof, record)
	}
	return &Signed{Record: record, Certificate: cert, Chain: chain}, nil
}

// checkedFromRequest rebuilds the checked CSR a request holds. It was
// checked when it was uploaded; its signature is checked again, as
// connectors trust it, and this path is rare.
func checkedFromRequest(req *records.Request) (*checkedCSR, error) {
	block, _ := pem.Decode([]byte(req.CSRPEM))
	if block == nil {
		return nil, fmt.Errorf("request %s holds no readable CSR", req.ID)
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("request %s holds no readable CSR: %w", req.ID, err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("the CSR of request %s: %w", req.ID, err)
	}
	keyType, err := pki.KeyTypeOf(csr.PublicKey)
	if err != nil {
		return nil, err
	}
	fingerprint, err := pki.PublicKeyFingerprint(csr.PublicKey)
	if err != nil {
		return nil, err
	}
	return &checkedCSR{csr: csr, keyType: keyType, keyFingerprint: fingerprint, attestation: req.Attestation, renews: req.Renews}, nil
}

// collectCSRRequest delivers the certificate of an approved CSR request:
// the one the CA issued meanwhile, or one signed now. The key's mark moves
// from the request to the certificate.
func (c *Core) collectCSRRequest(ctx context.Context, r *Requester, prof *profile.Profile, conn connector.Connector,
	req *records.Request) (*Signed, error) {
	checked, err := checkedFromRequest(req)
	if err != nil {
		return nil, err
	}
	// Reported compromised while the request waited: refused before a CA
	// signs (one that signed while it held the request is told to revoke).
	if err := c.refuseCompromisedKey(checked.keyFingerprint); err != nil {
		if errors.Is(err, ErrCompromisedKey) {
			c.closeCompromised(ctx, conn, req)
		}
		return nil, err
	}
	var signed *Signed
	if len(req.CertificateDER) > 0 {
		cert, chain, err := heldCertificate(req)
		if err != nil {
			return nil, err
		}
		if signed, err = c.recordCSRCertificate(r, prof, conn, checked, cert, chain, req); err != nil {
			return nil, err
		}
	} else if signed, err = c.signCSR(ctx, r, prof, conn, checked, req); err != nil {
		return nil, err
	}
	from := records.KeyHolder{Kind: records.KeyHeldByRequest, ID: req.ID}
	to := records.KeyHolder{Kind: records.KeyHeldByCertificate, ID: signed.Record.Serial}
	if err := c.store.MoveKey(checked.keyFingerprint, from, to, keyMarkLifetime(c.now(), signed.Record)); err != nil {
		c.log.LogWarn("Could not record who holds a public key", "request", req.ID, "error", err.Error())
	}
	return signed, nil
}

// releaseRequestKey frees the key of a CSR request that ended without a
// certificate (denied, withdrawn, expired), so the same key may be
// submitted again; a renewal's key that its replaced certificate held goes
// back to it.
func (c *Core) releaseRequestKey(req *records.Request) {
	if req == nil || req.CSRPEM == "" {
		return
	}
	checked, err := checkedFromRequest(req)
	if err != nil {
		c.log.LogWarn("Could not release the key of a closed request", "request", req.ID, "error", err.Error())
		return
	}
	var reused *records.Certificate
	if req.Renews != "" {
		if old, err := c.store.GetCertificate(req.Renews); err == nil && old.KeyFingerprint == checked.keyFingerprint {
			reused = old
		}
	}
	c.giveBackKey(checked.keyFingerprint, records.KeyHolder{Kind: records.KeyHeldByRequest, ID: req.ID}, reused)
}

// csrPEM is a CSR as a request stores it.
func csrPEM(csr *x509.CertificateRequest) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr.Raw}))
}

// AttestationLabel names the device that attested a key, for people.
func AttestationLabel(a *records.Attestation) string {
	label := a.Format
	if a.Format == "yubico-piv" {
		label = "YubiKey"
	}
	if a.DeviceSerial != "" {
		label += " serial " + a.DeviceSerial
	}
	return label
}
