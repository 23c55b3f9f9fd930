package connector

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.step.sm/crypto/jose"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

// credentials returns the pinned trust and the provisioner key, bootstrapping
// them on first use.
func (s *StepCA) credentials(ctx context.Context) (*stepCATrust, *stepCAKey, error) {
	t, err := s.trust.get(ctx, s.loadTrust)
	if err != nil {
		return nil, nil, s.wrapWait(ctx, err)
	}
	k, err := s.key.get(ctx, func(ctx context.Context) (*stepCAKey, error) { return s.loadKey(ctx, t) })
	if err != nil {
		return nil, nil, s.wrapWait(ctx, err)
	}
	return t, k, nil
}

// wrapWait turns the caller's context ending while it waited for a bootstrap
// into a connector error.
func (s *StepCA) wrapWait(ctx context.Context, err error) error {
	if AsError(err) != nil {
		return err
	}
	return s.ctxError(ctx, err)
}

// loadTrust fetches the root named by the fingerprint over TLS without
// verification (its hash is the check), then pins it.
func (s *StepCA) loadTrust(ctx context.Context) (*stepCATrust, error) {
	insecure := s.httpClient(&tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, //nolint:gosec // only for GET /root/<fp>, whose answer must hash to the configured fingerprint
	})
	defer insecure.CloseIdleConnections()
	status, data, err := s.call(ctx, insecure, http.MethodGet, "/root/"+s.cfg.fpHex, nil)
	if err != nil {
		return nil, err
	}
	switch {
	case status == http.StatusNotFound && stepCAMessageOf(data) != "":
		// step-ca's own answer (a JSON message); a server that is no
		// step-ca answers 404 too, and statusError says so.
		return nil, s.failField("RootFingerprint", "the certificate authority has no root certificate with the configured fingerprint",
			fmt.Errorf("GET %s/root/%s: HTTP 404: %s", s.cfg.base, s.cfg.fpHex, stepCAQuote(data, status)))
	case status != http.StatusOK:
		return nil, s.statusError("root", status, data)
	}
	var resp struct {
		CA string `json:"ca"`
	}
	if err := json.Unmarshal(data, &resp); err != nil {
		return nil, s.protocolError("root", err)
	}
	root, err := stepCAParseCert(resp.CA)
	if err != nil {
		return nil, s.protocolError("root", err)
	}
	if sum := sha256.Sum256(root.Raw); !bytes.Equal(sum[:], s.cfg.fingerprint) {
		return nil, s.failField("RootFingerprint", "the certificate authority's root certificate does not match the configured fingerprint",
			fmt.Errorf("got root %q with fingerprint %x, want %s", root.Subject, sum, s.cfg.fpHex))
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	return &stepCATrust{root: root, client: s.httpClient(&tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool})}, nil
}

// stepCAProvisioner is the part of a provisioner in GET /1.0/provisioners
// the connector reads.
type stepCAProvisioner struct {
	Type         string          `json:"type"`
	Name         string          `json:"name"`
	Key          json.RawMessage `json:"key"`
	EncryptedKey string          `json:"encryptedKey"`
}

// loadKey finds the JWK provisioner by name and decrypts its key.
func (s *StepCA) loadKey(ctx context.Context, t *stepCATrust) (*stepCAKey, error) {
	var candidates []stepCAProvisioner
	otherType := ""
	cursor := ""
	seen := map[string]bool{}
	for page := 0; ; page++ {
		if page == stepCAMaxPages {
			return nil, s.protocolError("provisioners", fmt.Errorf("more than %d pages of provisioners", stepCAMaxPages))
		}
		path := "/1.0/provisioners?limit=" + strconv.Itoa(stepCAPageLimit)
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		status, data, err := s.call(ctx, t.client, http.MethodGet, path, nil)
		if err != nil {
			return nil, err
		}
		if status != http.StatusOK {
			return nil, s.statusError("provisioners", status, data)
		}
		var resp struct {
			Provisioners []stepCAProvisioner `json:"provisioners"`
			NextCursor   string              `json:"nextCursor"`
		}
		if err := json.Unmarshal(data, &resp); err != nil {
			return nil, s.protocolError("provisioners", err)
		}
		for _, p := range resp.Provisioners {
			if p.Name != s.cfg.provisioner {
				continue
			}
			if strings.EqualFold(p.Type, "JWK") {
				candidates = append(candidates, p)
			} else {
				otherType = p.Type
			}
		}
		if resp.NextCursor == "" || seen[resp.NextCursor] || len(resp.Provisioners) == 0 {
			break
		}
		seen[resp.NextCursor] = true
		cursor = resp.NextCursor
	}
	if len(candidates) == 0 {
		if otherType != "" {
			return nil, s.failField("Provisioner", fmt.Sprintf("the certificate authority's provisioner %q is of type %s; the connector needs a JWK provisioner",
				s.cfg.provisioner, stepCAClean(otherType, 40)), nil)
		}
		return nil, s.failField("Provisioner", fmt.Sprintf("the certificate authority has no JWK provisioner named %q", s.cfg.provisioner), nil)
	}

	var lastErr error
	for _, p := range candidates {
		k, err := s.decryptKey(p)
		if err == nil {
			return k, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func (s *StepCA) decryptKey(p stepCAProvisioner) (*stepCAKey, error) {
	var pub jose.JSONWebKey
	if err := json.Unmarshal(p.Key, &pub); err != nil {
		return nil, s.protocolError("provisioners", fmt.Errorf("provisioner %q public key: %w", p.Name, err))
	}
	if p.EncryptedKey == "" {
		return nil, s.failField("Provisioner", fmt.Sprintf("the certificate authority's provisioner %q has no encrypted key to sign tokens with", p.Name), nil)
	}
	enc, err := jose.ParseEncrypted(p.EncryptedKey)
	if err != nil {
		return nil, s.fail(KindMisconfigured, fmt.Sprintf("the encrypted key of provisioner %q cannot be read", p.Name), err)
	}
	s.decryptions.Add(1)
	plain, err := enc.Decrypt(s.password)
	if err != nil {
		// go-jose does not tell a wrong password from a damaged key.
		return nil, s.failField("ProvisionerPassword", fmt.Sprintf("the provisioner password does not decrypt the key of provisioner %q", p.Name),
			errors.New("JWE decryption failed (wrong password?)"))
	}
	var priv jose.JSONWebKey
	err = json.Unmarshal(plain, &priv)
	clear(plain)
	if err != nil || priv.IsPublic() || !priv.Valid() {
		return nil, s.fail(KindMisconfigured, fmt.Sprintf("the decrypted key of provisioner %q is not a private key", p.Name), nil)
	}
	if pk, ok := priv.Public().Key.(interface{ Equal(crypto.PublicKey) bool }); !ok || !pk.Equal(pub.Key) {
		return nil, s.fail(KindMisconfigured, fmt.Sprintf("the decrypted key of provisioner %q does not match its public key", p.Name), nil)
	}
	k := &stepCAKey{kid: pub.KeyID, alg: jose.SignatureAlgorithm(priv.Algorithm), key: priv.Key}
	if k.kid == "" {
		k.kid = priv.KeyID
	}
	if k.alg == "" {
		k.alg = jose.SignatureAlgorithm(pub.Algorithm)
	}
	if k.alg == "" {
		k.alg = stepCAAlgorithm(priv.Key)
	}
	if k.kid == "" || k.alg == "" {
		return nil, s.fail(KindMisconfigured, fmt.Sprintf("the key of provisioner %q has no key id or no usable algorithm", p.Name), nil)
	}
	return k, nil
}

func stepCAAlgorithm(key crypto.PrivateKey) jose.SignatureAlgorithm {
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		switch k.Curve.Params().BitSize {
		case 256:
			return jose.ES256
		case 384:
			return jose.ES384
		case 521:
			return jose.ES512
		}
	case *rsa.PrivateKey:
		return jose.RS256
	case ed25519.PrivateKey:
		return jose.EdDSA
	}
	return ""
}

// token mints a one-time token for path (/1.0/sign or /1.0/revoke) as the
// step CLI does. csrFingerprint, if set, binds the token to one CSR.
func (s *StepCA) token(k *stepCAKey, path, subject string, sans []string, csrFingerprint string) (string, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.key},
		new(jose.SignerOptions).WithType("JWT").WithHeader("kid", k.kid))
	if err != nil {
		return "", err
	}
	id := make([]byte, 32)
	if _, err := rand.Read(id); err != nil {
		return "", err
	}
	now := s.now()
	claims := jose.Claims{
		Issuer:  s.cfg.provisioner,
		Subject: subject,
		// step-ca compares the audience with https://<dns name>/1.0/sign,
		// ignoring the port.
		Audience:  jose.Audience{s.cfg.base + path},
		IssuedAt:  jose.NewNumericDate(now),
		NotBefore: jose.NewNumericDate(now),
		Expiry:    jose.NewNumericDate(now.Add(stepCATokenLifetime)),
		ID:        hex.EncodeToString(id),
	}
	type confirmation struct {
		Fingerprint string `json:"x5rt#S256"`
	}
	extra := struct {
		SANs []string      `json:"sans,omitempty"`
		SHA  string        `json:"sha"`
		CNF  *confirmation `json:"cnf,omitempty"`
	}{SANs: sans, SHA: s.cfg.fpHex}
	if csrFingerprint != "" {
		extra.CNF = &confirmation{Fingerprint: csrFingerprint}
	}
	return jose.Signed(signer).Claims(claims).Claims(extra).CompactSerialize()
}

// stepCASANs are the token SANs for subject: its emails, plus the common
// name if the CSR carries it as a SAN.
func stepCASANs(subject Subject, csr *x509.CertificateRequest) []string {
	sans := make([]string, 0, len(subject.Emails)+1)
	seen := map[string]bool{}
	add := func(v string) {
		if v != "" && !seen[v] {
			seen[v] = true
			sans = append(sans, v)
		}
	}
	for _, e := range subject.Emails {
		add(e)
	}
	for _, u := range subject.URIs {
		add(u.String())
	}
	cn := subject.CommonName
	carries := false
	for _, v := range csr.DNSNames {
		carries = carries || v == cn
	}
	for _, v := range csr.EmailAddresses {
		carries = carries || v == cn
	}
	for _, v := range csr.IPAddresses {
		carries = carries || v.String() == cn
	}
	for _, v := range csr.URIs {
		carries = carries || v.String() == cn
	}
	if carries {
		add(cn)
	}
	return sans
}

// stepCADuration writes a validity as a Go duration step-ca parses, in whole
// hours when it is whole hours ("8760h"); 0 means the provisioner's default.
func stepCADuration(d time.Duration) string {
	switch {
	case d <= 0:
		return ""
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	default:
		return d.String()
	}
}

// stepCASerial turns the plugin's hexadecimal serial into the decimal form
// step-ca records (and wants as the revoke token's subject).
func stepCASerial(serial string) (string, error) {
	h := pki.NormalizeSerial(serial)
	if h == "" {
		return "", errors.New("want 1 to 64 hexadecimal digits, not zero")
	}
	n, ok := new(big.Int).SetString(h, 16)
	if !ok {
		return "", errors.New("not hexadecimal")
	}
	return n.String(), nil
}

func stepCAParseCert(p string) (*x509.Certificate, error) {
	block, _ := pem.Decode([]byte(p))
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

// stepCAVerify checks that cert chains through intermediates to root.
func stepCAVerify(cert *x509.Certificate, intermediates []*x509.Certificate, root *x509.Certificate) error {
	roots := x509.NewCertPool()
	roots.AddCert(root)
	inter := x509.NewCertPool()
	for _, c := range intermediates {
		inter.AddCert(c)
	}
	_, err := cert.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   cert.NotBefore.Add(time.Minute),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	return err
}

func stepCAHasEKU(c *x509.Certificate, want x509.ExtKeyUsage) bool {
	for _, u := range c.ExtKeyUsage {
		if u == want || u == x509.ExtKeyUsageAny {
			return true
		}
	}
	return false
}

func stepCAEKUName(u x509.ExtKeyUsage) string {
	switch u {
	case x509.ExtKeyUsageClientAuth:
		return "clientAuth"
	case x509.ExtKeyUsageServerAuth:
		return "serverAuth"
	case x509.ExtKeyUsageEmailProtection:
		return "emailProtection"
	case x509.ExtKeyUsageCodeSigning:
		return "codeSigning"
	default:
		return fmt.Sprintf("#%d", int(u))
	}
}
