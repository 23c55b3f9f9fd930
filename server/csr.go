package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pkg/errors"

	"github.com/clientcerts/mattermost-plugin-certs/server/attest"
	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

// csrUpload is what a user sends to have their own key certified: a CSR,
// PEM or DER, and optionally the hardware attestation of its key.
type csrUpload struct {
	CSR         []byte
	Attestation []byte
}

// checkedCSR is an upload that passed every check of its profile.
type checkedCSR struct {
	csr            *x509.CertificateRequest
	keyType        pki.KeyType
	keyFingerprint string
	attestation    *store.Attestation
}

// csrRefusal is an upload refused for a reason the uploader can fix.
type csrRefusal struct{ message string }

func (e *csrRefusal) Error() string { return e.message }

func refuseCSR(format string, args ...any) error {
	return &csrRefusal{message: fmt.Sprintf(format, args...)}
}

// checkCSR checks an upload against the profile: a CSR we can read whose
// signature verifies, a key type the profile accepts, names that match the
// account when the profile says so, and the attestation its policy asks for.
func (p *Plugin) checkCSR(s *services, user *model.User, prof *profile.Profile, conn connector.Connector, upload csrUpload) (*checkedCSR, error) {
	csr, keyType, err := pki.ParseCSR(upload.CSR, prof.AcceptedKeyTypes())
	if err != nil {
		if pki.IsCSRError(err) {
			return nil, &csrRefusal{message: capitalize(err.Error()) + "."}
		}
		return nil, err
	}
	if prof.CSRNames == profile.CSRNamesMatch {
		if err := matchCSRNames(csr, subjectFor(user, prof), conn.Type() == profile.TypeStepCA); err != nil {
			return nil, err
		}
	}
	fingerprint, err := pki.PublicKeyFingerprint(csr.PublicKey)
	if err != nil {
		return nil, err
	}
	checked := &checkedCSR{csr: csr, keyType: keyType, keyFingerprint: fingerprint}

	var evidence attest.Evidence
	if len(upload.Attestation) > 0 && prof.Attestation != profile.AttestationIgnore {
		certs, err := attest.ParseCertificates(upload.Attestation)
		if err != nil {
			return nil, &csrRefusal{message: "The attestation cannot be read: " + err.Error()}
		}
		evidence.Certificates = certs
	}
	result, err := attest.Check(attest.Policy(prof.Attestation), s.attestationRoots, evidence, csr.PublicKey, p.now())
	if err != nil {
		if attest.IsError(err) {
			return nil, &csrRefusal{message: capitalize(err.Error()) + "."}
		}
		return nil, err
	}
	if result.Attested {
		checked.attestation = &store.Attestation{
			Format: result.Format, DeviceSerial: result.DeviceSerial, FirmwareVersion: result.FirmwareVersion,
			PINPolicy: result.PINPolicy, TouchPolicy: result.TouchPolicy, FormFactor: result.FormFactor, Root: result.Root,
		}
	}
	return checked, nil
}

// matchCSRNames checks that a CSR asks for nothing but the account's names.
// exact also wants every name of the certificate in the CSR, for CAs that
// sign the CSR's own names (step-ca).
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

// csrIssued is a certificate signed for a user's own key.
type csrIssued struct {
	Record      *store.Certificate
	Certificate *x509.Certificate
	Chain       []*x509.Certificate
}

// CertificatePEM is the certificate and its chain, issuing CA first.
func (c *csrIssued) CertificatePEM() []byte {
	return pki.EncodeCertificatesPEM(append([]*x509.Certificate{c.Certificate}, c.Chain...))
}

// csrOutcome is what became of an upload: a certificate, or a request that
// waits for an approver or the CA.
type csrOutcome struct {
	Issued  *csrIssued
	Request *store.Request
}

// enrollCSR serves a checked upload for user: the key is claimed so no
// second upload can certify it, then the request goes to the approvers or to
// the CA. linkMarks are the link's own marks, already claimed; they are
// released with the key when nothing comes of the upload.
func (p *Plugin) enrollCSR(ctx context.Context, s *services, user *model.User, prof *profile.Profile, conn connector.Connector,
	checked *checkedCSR, linkMarks []string) (*csrOutcome, error) {
	upload := store.KeyHolder{Kind: store.KeyHeldByUpload, ID: model.NewId()}
	claimed, holder, err := p.store.ClaimKey(checked.keyFingerprint, upload, issueTimeout+tokenMarkGrace)
	if err != nil {
		p.releaseAll(linkMarks)
		return nil, err
	}
	if !claimed {
		p.releaseAll(linkMarks)
		return nil, duplicateKeyError(holder)
	}
	// The link's marks are final as claimed; the key's mark moves on to
	// what now holds it.
	complete := func(keyHolder store.KeyHolder, keyTTL time.Duration) {
		if err := p.store.MoveKey(checked.keyFingerprint, upload, keyHolder, keyTTL); err != nil {
			p.API.LogError("Could not record who holds a public key", "user_id", user.Id, "error", err.Error())
		}
	}

	if prof.RequiresApproval {
		req, err := p.requestApproval(s, user, prof, checked)
		if err != nil {
			p.releaseAll(linkMarks)
			_ = p.store.ReleaseKey(checked.keyFingerprint, upload)
			return nil, err
		}
		complete(store.KeyHolder{Kind: store.KeyHeldByRequest, ID: req.ID}, 2*requestLifetime+pickupLinkLifetime)
		return &csrOutcome{Request: req}, nil
	}

	issued, err := p.signCSR(ctx, s, user, prof, conn, checked, nil)
	var waiting *errWaitingForCA
	switch {
	case errors.As(err, &waiting):
		complete(store.KeyHolder{Kind: store.KeyHeldByRequest, ID: waiting.Request.ID}, 2*requestLifetime+pickupLinkLifetime)
		return &csrOutcome{Request: waiting.Request}, nil
	case err != nil:
		p.releaseAll(linkMarks)
		if relErr := p.store.ReleaseKey(checked.keyFingerprint, upload); relErr != nil {
			p.API.LogError("Could not release a public key after a failed issuance", "error", relErr.Error())
		}
		return nil, err
	}
	complete(store.KeyHolder{Kind: store.KeyHeldByCertificate, ID: issued.Record.Serial}, keyMarkLifetime(p.now(), issued.Record))
	return &csrOutcome{Issued: issued}, nil
}

// keyMarkLifetime keeps a certified key refused until its certificate
// expires: a revoked key may be compromised and is not certified again.
func keyMarkLifetime(now time.Time, record *store.Certificate) time.Duration {
	return record.NotAfter.Sub(now) + tokenMarkGrace
}

// duplicateKeyError explains why a key cannot be certified again.
func duplicateKeyError(holder store.KeyHolder) error {
	switch holder.Kind {
	case store.KeyHeldByCertificate:
		return &errDuplicateKey{message: fmt.Sprintf("A certificate (serial %s) was already issued for this key. Make a new key and CSR for a new certificate.", holder.ID)}
	case store.KeyHeldByRequest:
		return &errDuplicateKey{message: fmt.Sprintf("This key was already submitted in request %s. `/cert list` shows where it stands.", holder.ID)}
	}
	return &errDuplicateKey{message: "This certificate signing request is being processed right now, from another upload."}
}

// errDuplicateKey is a CSR whose key is already certified or requested.
type errDuplicateKey struct{ message string }

func (e *errDuplicateKey) Error() string { return e.message }

// signCSR has the profile's connector sign a checked CSR and records the
// certificate. req is the approved request being collected, if any. A CA
// that answers "pending" gives *errWaitingForCA.
func (p *Plugin) signCSR(ctx context.Context, s *services, user *model.User, prof *profile.Profile, conn connector.Connector,
	checked *checkedCSR, req *store.Request) (*csrIssued, error) {
	cert, chain, err := p.signAt(ctx, s, user, prof, conn, req, pendingWork{csr: checked})
	if err != nil {
		return nil, err
	}
	return p.recordCSRCertificate(user, prof, conn, checked, cert, chain)
}

// recordCSRCertificate records a certificate issued for a user's own key.
func (p *Plugin) recordCSRCertificate(user *model.User, prof *profile.Profile, conn connector.Connector, checked *checkedCSR,
	cert *x509.Certificate, chain []*x509.Certificate) (*csrIssued, error) {
	record := p.newCertificateRecord(cert, store.MattermostUser(user.Id), conn.Name(), prof.Name, checked.keyType)
	record.Origin = store.OriginCSR
	record.KeyFingerprint = checked.keyFingerprint
	record.Attestation = checked.attestation
	if err := p.store.CreateCertificate(record); err != nil {
		return nil, errors.Wrap(err, "record the certificate")
	}
	return &csrIssued{Record: record, Certificate: cert, Chain: chain}, nil
}

// checkedFromRequest rebuilds the checked CSR a request holds. It was
// checked when it was uploaded; its signature is checked again, as
// connectors trust it, and this path is rare.
func checkedFromRequest(req *store.Request) (*checkedCSR, error) {
	block, _ := pem.Decode([]byte(req.CSRPEM))
	if block == nil {
		return nil, errors.Errorf("request %s holds no readable CSR", req.ID)
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, errors.Wrapf(err, "request %s holds no readable CSR", req.ID)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, errors.Wrapf(err, "the CSR of request %s", req.ID)
	}
	keyType, err := pki.KeyTypeOf(csr.PublicKey)
	if err != nil {
		return nil, err
	}
	fingerprint, err := pki.PublicKeyFingerprint(csr.PublicKey)
	if err != nil {
		return nil, err
	}
	return &checkedCSR{csr: csr, keyType: keyType, keyFingerprint: fingerprint, attestation: req.Attestation}, nil
}

// collectCSRRequest delivers the certificate of an approved CSR request:
// the one the CA issued meanwhile, or one signed now. The key's mark moves
// from the request to the certificate.
func (p *Plugin) collectCSRRequest(ctx context.Context, s *services, user *model.User, prof *profile.Profile, conn connector.Connector,
	req *store.Request) (*csrIssued, error) {
	checked, err := checkedFromRequest(req)
	if err != nil {
		return nil, err
	}
	var issued *csrIssued
	if len(req.CertificateDER) > 0 {
		cert, chain, err := heldCertificate(req)
		if err != nil {
			return nil, err
		}
		issued, err = p.recordCSRCertificate(user, prof, conn, checked, cert, chain)
		if err != nil {
			return nil, err
		}
	} else if issued, err = p.signCSR(ctx, s, user, prof, conn, checked, req); err != nil {
		return nil, err
	}
	from := store.KeyHolder{Kind: store.KeyHeldByRequest, ID: req.ID}
	to := store.KeyHolder{Kind: store.KeyHeldByCertificate, ID: issued.Record.Serial}
	if err := p.store.MoveKey(checked.keyFingerprint, from, to, keyMarkLifetime(p.now(), issued.Record)); err != nil {
		p.API.LogWarn("Could not record who holds a public key", "request", req.ID, "error", err.Error())
	}
	return issued, nil
}

// releaseRequestKey frees the key of a CSR request that ended without a
// certificate (denied, withdrawn, expired), so the same key may be
// submitted again.
func (p *Plugin) releaseRequestKey(req *store.Request) {
	if req == nil || req.CSRPEM == "" {
		return
	}
	checked, err := checkedFromRequest(req)
	if err == nil {
		err = p.store.ReleaseKey(checked.keyFingerprint, store.KeyHolder{Kind: store.KeyHeldByRequest, ID: req.ID})
	}
	if err != nil {
		p.API.LogWarn("Could not release the key of a closed request", "request", req.ID, "error", err.Error())
	}
}

// csrPEM is a CSR as a request stores it.
func csrPEM(csr *x509.CertificateRequest) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr.Raw}))
}

// attestationLabel names the device that attested a key, for people.
func attestationLabel(a *store.Attestation) string {
	label := a.Format
	if a.Format == "yubico-piv" {
		label = "YubiKey"
	}
	if a.DeviceSerial != "" {
		label += " serial " + a.DeviceSerial
	}
	return label
}
