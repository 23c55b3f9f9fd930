package connector

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"go.step.sm/crypto/jose"
)

// TypeStepCA is a smallstep step-ca, reached over its HTTPS API with a JWK
// provisioner.
const TypeStepCA = "stepca"

const (
	stepCADefaultTimeout = 15 * time.Second
	stepCAMaxTimeout     = 5 * time.Minute
	// stepCATokenLifetime is how long a one-time token is valid, as the step
	// CLI does it.
	stepCATokenLifetime = 5 * time.Minute
	// stepCAMaxBody bounds any answer we read; stepCAMaxErrorBody bounds the
	// answers we only read a message from.
	stepCAMaxBody      = 4 << 20
	stepCAMaxErrorBody = 64 << 10
	// stepCAPageLimit and stepCAMaxPages bound the provisioner list.
	stepCAPageLimit = 100
	stepCAMaxPages  = 100
	// stepCAChainTTL is how long the intermediates from /intermediates are
	// reused before Chain asks again.
	stepCAChainTTL = time.Hour
	// stepCAMaxMessage bounds the CA's own text quoted in a user message.
	stepCAMaxMessage = 400
)

// StepCAConfig is what an administrator configures for a step-ca connector.
type StepCAConfig struct {
	// Name is the connector's name, for messages and logs.
	Name string
	// URL is the CA's base address, https://host[:port], e.g.
	// https://ca.example.com:9000.
	URL string
	// RootFingerprint is the SHA-256 of the root certificate's DER in hex, as
	// step-ca prints it at start-up (`step certificate fingerprint
	// root_ca.crt`). Trust in the CA is bootstrapped from it and pinned.
	RootFingerprint string
	// Provisioner is the name of a JWK provisioner.
	Provisioner string
	// ProvisionerPassword decrypts the provisioner's encrypted key.
	ProvisionerPassword string
	// Timeout bounds each request to the CA; 0 means 15 s.
	Timeout time.Duration
}

// StepCAConfigError is a StepCAConfig field that Validate refused. Field is
// the StepCAConfig field name; Message reads well on its own and names the
// setting.
//
// Check returns one too, for a setting the CA itself shows to be wrong; Err
// is then the connector's *Error with the details for the log.
type StepCAConfigError struct {
	Field   string
	Message string
	Err     error
}

func (e *StepCAConfigError) Error() string { return e.Message }

// Unwrap returns the failure behind a refusal by Check, or nil.
func (e *StepCAConfigError) Unwrap() error { return e.Err }

// stepCASettings is a validated, normalized StepCAConfig.
type stepCASettings struct {
	base        string // https://host[:port]
	fingerprint []byte
	fpHex       string
	provisioner string
	timeout     time.Duration
}

// Validate checks the configuration without contacting the CA. It returns
// the first problem as a *StepCAConfigError.
func (c StepCAConfig) Validate() error {
	_, err := c.settings()
	return err
}

func (c StepCAConfig) settings() (*stepCASettings, error) {
	bad := func(field, format string, args ...any) error {
		return &StepCAConfigError{Field: field, Message: fmt.Sprintf(format, args...)}
	}
	s := &stepCASettings{}

	raw := strings.TrimSpace(c.URL)
	if raw == "" {
		return nil, bad("URL", "step-ca URL is required, e.g. https://ca.example.com:9000")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, bad("URL", "step-ca URL %q is not a valid URL", raw)
	}
	if !strings.EqualFold(u.Scheme, "https") {
		return nil, bad("URL", "step-ca URL must start with https:// (step-ca serves its API over HTTPS only)")
	}
	if u.Hostname() == "" {
		return nil, bad("URL", "step-ca URL %q has no host name", raw)
	}
	if u.User != nil {
		return nil, bad("URL", "step-ca URL must not contain a user name or password")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" || u.ForceQuery {
		return nil, bad("URL", "step-ca URL must be the CA's address only, https://host[:port], without a path or query")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, bad("URL", "step-ca URL has an invalid port %q", p)
		}
	}
	s.base = "https://" + strings.ToLower(u.Host)

	fp := strings.ToLower(strings.TrimSpace(c.RootFingerprint))
	fp = strings.NewReplacer(":", "", " ", "").Replace(fp)
	switch {
	case fp == "":
		return nil, bad("RootFingerprint", "step-ca root fingerprint is required: the SHA-256 fingerprint of the CA's root certificate, as step-ca prints it at start-up or `step certificate fingerprint root_ca.crt` shows it")
	case len(fp) != 2*sha256.Size:
		return nil, bad("RootFingerprint", "step-ca root fingerprint must be 64 hexadecimal characters (a SHA-256 fingerprint); this one has %d", len(fp))
	}
	if s.fingerprint, err = hex.DecodeString(fp); err != nil {
		return nil, bad("RootFingerprint", "step-ca root fingerprint must contain only hexadecimal characters (0-9, a-f)")
	}
	s.fpHex = fp

	s.provisioner = strings.TrimSpace(c.Provisioner)
	switch {
	case s.provisioner == "":
		return nil, bad("Provisioner", "step-ca provisioner is required: the name of a JWK provisioner of the CA (`step ca provisioner list`)")
	case len(s.provisioner) > 256 || strings.ContainsFunc(s.provisioner, unicode.IsControl):
		return nil, bad("Provisioner", "step-ca provisioner name is not valid")
	}

	if c.ProvisionerPassword == "" {
		return nil, bad("ProvisionerPassword", "step-ca provisioner password is required: the password that encrypts the JWK provisioner's key")
	}

	switch {
	case c.Timeout < 0:
		return nil, bad("Timeout", "step-ca timeout must not be negative")
	case c.Timeout > stepCAMaxTimeout:
		return nil, bad("Timeout", "step-ca timeout must be at most %s", stepCAMaxTimeout)
	case c.Timeout == 0:
		s.timeout = stepCADefaultTimeout
	default:
		s.timeout = c.Timeout
	}
	return s, nil
}

// StepCA signs and revokes at a step-ca with a JWK provisioner, using the
// same protocol as the step CLI: a one-time token signed with the
// provisioner's key authorizes each request.
//
// The first use bootstraps trust from the root fingerprint (the only request
// made without verifying the CA's TLS certificate, and whose answer must hash
// to the fingerprint) and pins that root for every later request; it then
// fetches the provisioner list and decrypts the provisioner's key with the
// password. Both are kept in memory: every node of a cluster can rebuild
// them, so nothing needs to be shared. A failed bootstrap is retried by the
// next call; concurrent calls share one bootstrap, so the key is decrypted
// once.
type StepCA struct {
	name     string
	cfg      *stepCASettings
	password []byte
	now      func() time.Time

	trust stepCALazy[*stepCATrust]
	key   stepCALazy[*stepCAKey]

	decryptions atomic.Int64

	chainMu      sync.Mutex
	chain        []*x509.Certificate // intermediates, issuing CA first
	chainAt      time.Time
	chainFromAPI bool // chain came from /intermediates (else from a sign answer)
	noChainAPI   bool // the CA does not serve /intermediates
}

// stepCATrust is the pinned root and the HTTP client that trusts only it.
type stepCATrust struct {
	root   *x509.Certificate
	client *http.Client
}

// stepCAKey is the decrypted provisioner key.
type stepCAKey struct {
	kid string
	alg jose.SignatureAlgorithm
	key crypto.PrivateKey
}

var _ Connector = (*StepCA)(nil)

// NewStepCA returns a step-ca connector. It validates cfg and makes no
// network request; now (nil means time.Now) dates the one-time tokens.
func NewStepCA(cfg StepCAConfig, now func() time.Time) (*StepCA, error) {
	s, err := cfg.settings()
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	name := strings.TrimSpace(cfg.Name)
	if name == "" {
		name = "step-ca"
	}
	return &StepCA{name: name, cfg: s, password: []byte(cfg.ProvisionerPassword), now: now}, nil
}

func (s *StepCA) Name() string { return s.name }
func (s *StepCA) Type() string { return TypeStepCA }

// KeyDecryptions reports how many times the connector has decrypted the
// provisioner key: once, unless a bootstrap failed or the CA stopped
// accepting the key's tokens. For tests and diagnostics.
func (s *StepCA) KeyDecryptions() int64 { return s.decryptions.Load() }

// Sign asks step-ca to sign the request's CSR. The token names req.Subject: its common
// name is the token subject and its emails the token SANs (plus the common
// name if the CSR carries it as a SAN, since step-ca wants the CSR's SANs to
// equal the token's). step-ca's provisioner template decides the rest of the
// certificate; the connector checks that the result is for the CSR's key,
// chains to the pinned root and has the profile's extended key usages.
func (s *StepCA) Sign(ctx context.Context, req SignRequest) (*Result, error) {
	csr, err := req.CertificateRequest()
	if err != nil {
		return nil, s.fail(KindRejected, "no certificate signing request", err)
	}
	if req.Subject.CommonName == "" {
		return nil, s.fail(KindRejected, "the certificate needs a common name", nil)
	}
	if req.Profile.Validity < 0 {
		return nil, s.fail(KindRejected, "the certificate validity is negative", nil)
	}
	t, k, err := s.credentials(ctx)
	if err != nil {
		return nil, err
	}

	sum := sha256.Sum256(csr.Raw)
	ott, err := s.token(k, "/1.0/sign", req.Subject.CommonName, stepCASANs(req.Subject, csr), base64.RawURLEncoding.EncodeToString(sum[:]))
	if err != nil {
		return nil, s.fail(KindMisconfigured, "a token could not be signed with the provisioner key", err)
	}
	body := struct {
		CSR      string `json:"csr"`
		OTT      string `json:"ott"`
		NotAfter string `json:"notAfter,omitempty"`
	}{
		CSR:      string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr.Raw})),
		OTT:      ott,
		NotAfter: stepCADuration(req.Profile.Validity),
	}
	status, data, err := s.call(ctx, t.client, http.MethodPost, "/1.0/sign", body)
	if err != nil {
		return nil, err
	}
	if status != http.StatusCreated && status != http.StatusOK {
		if status == http.StatusUnauthorized {
			// The provisioner key may have changed at the CA: fetch it again
			// next time.
			s.key.forget(k)
		}
		return nil, s.statusError("sign", status, data)
	}

	var resp struct {
		Crt       string   `json:"crt"`
		CA        string   `json:"ca"`
		CertChain []string `json:"certChain"`
	}
	if err := json.Unmarshal(data, &resp); err != nil {
		return nil, s.protocolError("sign", err)
	}
	leaf, err := stepCAParseCert(resp.Crt)
	if err != nil {
		return nil, s.protocolError("sign", err)
	}
	var issuers []*x509.Certificate
	switch {
	case len(resp.CertChain) > 1:
		for _, p := range resp.CertChain[1:] {
			c, err := stepCAParseCert(p)
			if err != nil {
				return nil, s.protocolError("sign", err)
			}
			issuers = append(issuers, c)
		}
	case resp.CA != "":
		c, err := stepCAParseCert(resp.CA)
		if err != nil {
			return nil, s.protocolError("sign", err)
		}
		issuers = append(issuers, c)
	}
	if len(issuers) > 0 && issuers[len(issuers)-1].Equal(t.root) {
		issuers = issuers[:len(issuers)-1]
	}

	if pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(csr.PublicKey) {
		return nil, s.fail(KindMisconfigured, "the certificate authority returned a certificate for another key", nil)
	}
	if err := stepCAVerify(leaf, issuers, t.root); err != nil {
		return nil, s.fail(KindMisconfigured, "the certificate the certificate authority returned does not chain to the root with the configured fingerprint", err)
	}
	for _, want := range req.Profile.ExtKeyUsages {
		if !stepCAHasEKU(leaf, want) {
			return nil, s.fail(KindMisconfigured,
				fmt.Sprintf("the certificate authority issued a certificate without the extended key usage %s; the provisioner's template must include it", stepCAEKUName(want)), nil)
		}
	}
	s.rememberSignChain(issuers)

	chain := make([]*x509.Certificate, 0, len(issuers)+1)
	chain = append(chain, issuers...)
	chain = append(chain, t.root)
	return &Result{Status: StatusIssued, Certificate: leaf, Chain: chain}, nil
}

// Poll is not supported: step-ca answers every request at once.
func (s *StepCA) Poll(context.Context, string) (*Result, error) {
	return nil, s.fail(KindUnsupported, "step-ca has no pending requests", nil)
}

// Revoke revokes a certificate at step-ca (passive revocation: the serial is
// recorded and appears in the CA's CRL). req.Serial is hexadecimal. A
// certificate the CA already has revoked counts as revoked.
func (s *StepCA) Revoke(ctx context.Context, req RevokeRequest) error {
	serial, err := stepCASerial(req.Serial)
	if err != nil {
		return s.fail(KindRejected, fmt.Sprintf("%q is not a certificate serial number", stepCAClean(req.Serial, 80)), err)
	}
	t, k, err := s.credentials(ctx)
	if err != nil {
		return err
	}
	ott, err := s.token(k, "/1.0/revoke", serial, nil, "")
	if err != nil {
		return s.fail(KindMisconfigured, "a token could not be signed with the provisioner key", err)
	}
	body := struct {
		Serial     string `json:"serial"`
		OTT        string `json:"ott"`
		ReasonCode int    `json:"reasonCode"`
		Reason     string `json:"reason,omitempty"`
		Passive    bool   `json:"passive"`
	}{Serial: serial, OTT: ott, ReasonCode: req.ReasonCode, Reason: req.Reason, Passive: true}
	status, data, err := s.call(ctx, t.client, http.MethodPost, "/1.0/revoke", body)
	if err != nil {
		return err
	}
	switch {
	case status == http.StatusOK:
		return nil
	case status == http.StatusBadRequest && strings.Contains(stepCAMessageOf(data), "already revoked"):
		return nil
	case status == http.StatusUnauthorized:
		s.key.forget(k)
	case status == http.StatusNotImplemented:
		return s.fail(KindMisconfigured, "the certificate authority cannot revoke certificates (does it have a database?): "+stepCAQuote(data, status),
			fmt.Errorf("POST %s/1.0/revoke: HTTP %d", s.cfg.base, status))
	}
	return s.statusError("revoke", status, data)
}

// Chain returns the CA's intermediates (issuing CA first, from
// /1.0/intermediates, reused for an hour) and the pinned root. If the CA does
// not serve its intermediates, the chain of the last certificate signed is
// used; before any, the root alone. If the CA cannot be reached, the last
// chain known is returned.
func (s *StepCA) Chain(ctx context.Context) ([]*x509.Certificate, error) {
	t, err := s.trust.get(ctx, s.loadTrust)
	if err != nil {
		return nil, s.wrapWait(ctx, err)
	}
	s.chainMu.Lock()
	fresh := s.chainFromAPI && s.now().Sub(s.chainAt) < stepCAChainTTL
	skip := s.noChainAPI
	cached := s.chain
	s.chainMu.Unlock()
	if fresh || skip {
		return stepCAWithRoot(cached, t.root), nil
	}

	status, data, err := s.call(ctx, t.client, http.MethodGet, "/1.0/intermediates", nil)
	if err == nil && (status == http.StatusNotImplemented || status == http.StatusNotFound) {
		s.chainMu.Lock()
		s.noChainAPI = true
		cached = s.chain
		s.chainMu.Unlock()
		return stepCAWithRoot(cached, t.root), nil
	}
	if err == nil && status != http.StatusOK && status != http.StatusCreated {
		err = s.statusError("intermediates", status, data)
	}
	var intermediates []*x509.Certificate
	if err == nil {
		intermediates, err = s.parseIntermediates(data, t.root)
	}
	if err != nil {
		if ce := AsError(err); ce != nil && ce.Kind == KindUnavailable && cached != nil {
			return stepCAWithRoot(cached, t.root), nil
		}
		return nil, err
	}
	s.chainMu.Lock()
	s.chain, s.chainAt, s.chainFromAPI = intermediates, s.now(), true
	s.chainMu.Unlock()
	return stepCAWithRoot(intermediates, t.root), nil
}

func (s *StepCA) parseIntermediates(data []byte, root *x509.Certificate) ([]*x509.Certificate, error) {
	var resp struct {
		Crts []string `json:"crts"`
	}
	if err := json.Unmarshal(data, &resp); err != nil {
		return nil, s.protocolError("intermediates", err)
	}
	var out []*x509.Certificate
	for _, p := range resp.Crts {
		c, err := stepCAParseCert(p)
		if err != nil {
			return nil, s.protocolError("intermediates", err)
		}
		if !c.Equal(root) {
			out = append(out, c)
		}
	}
	if len(out) > 0 {
		if err := stepCAVerify(out[0], out[1:], root); err != nil {
			return nil, s.fail(KindMisconfigured, "the certificate authority's intermediate certificate does not chain to the root with the configured fingerprint", err)
		}
	}
	return out, nil
}

// rememberSignChain keeps the issuers of a signed certificate for Chain when
// the CA does not serve /intermediates, or when they differ from what it
// served (a new intermediate: Chain then asks again).
func (s *StepCA) rememberSignChain(issuers []*x509.Certificate) {
	if len(issuers) == 0 {
		return
	}
	s.chainMu.Lock()
	defer s.chainMu.Unlock()
	if len(s.chain) > 0 && s.chain[0].Equal(issuers[0]) {
		return
	}
	s.chain, s.chainAt, s.chainFromAPI = issuers, s.now(), false
}

func stepCAWithRoot(intermediates []*x509.Certificate, root *x509.Certificate) []*x509.Certificate {
	out := make([]*x509.Certificate, 0, len(intermediates)+1)
	out = append(out, intermediates...)
	return append(out, root)
}
