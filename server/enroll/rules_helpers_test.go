package enroll_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// The rules of the core (limits, approvals, CSRs, profiles) are tested
// here on the bed's in-memory ports: by the codes and states the core
// answers with, never by its words, which the doors own.

// codeOf is the code of a refusal of the core; -1 for an error that is
// not one (or none).
func codeOf(err error) enroll.Code {
	if e := enroll.AsError(err); e != nil {
		return e.Code
	}
	return -1
}

// withCatalog is the bed's core under another catalog, over the same
// ports: the admin saved other profiles.
func (b *bed) withCatalog(t *testing.T, catalogJSON string) *enroll.Core {
	t.Helper()
	catalog, err := profile.Parse(catalogJSON, profile.Defaults{ValidityDays: 365, KeyType: pki.KeyECDSAP256})
	require.NoError(t, err)
	settings := b.settings
	settings.Catalog = catalog
	return enroll.New(settings, b.ports)
}

// last is the detail of the last notice of kind for owner ("approved",
// "denied"...); "" when there is none.
func (b *bed) last(kind, owner string) string {
	b.notify.mu.Lock()
	defer b.notify.mu.Unlock()
	for i := len(b.notify.notices) - 1; i >= 0; i-- {
		if n := b.notify.notices[i]; n.kind == kind && n.owner == owner {
			return n.detail
		}
	}
	return ""
}

// count is how many notices of kind owner got.
func (b *bed) count(kind, owner string) int {
	return countOf(b.notify.kinds(), kind+":"+owner)
}

// linkGrant checks a link of core's as the page does before redeeming it.
func linkGrant(t *testing.T, core *enroll.Core, token string, purpose linktoken.Purpose) *enroll.Grant {
	t.Helper()
	grant, err := core.CheckLink(token, purpose, "")
	require.NoError(t, err)
	return grant
}

// csrLink mints a CSR link of profileName for r and checks it.
func csrLink(t *testing.T, core *enroll.Core, r *enroll.Requester, profileName string) *enroll.Grant {
	t.Helper()
	start, err := core.StartEnrollment(r, enroll.StartRequest{Profile: profileName, Key: enroll.KeyFromCSR})
	require.NoError(t, err)
	require.NotNil(t, start.Link)
	return linkGrant(t, core, start.Link.Token, linktoken.PurposeCSR)
}

// request asks for a certificate of an approval profile as r.
func (b *bed) request(t *testing.T, r *enroll.Requester, profileName string) *records.Request {
	t.Helper()
	outcome, err := b.core.Enroll(context.Background(), r, profileName, enroll.Options{})
	require.NoError(t, err)
	require.NotNil(t, outcome.Request, "profile %s asks an approver", profileName)
	return outcome.Request
}

// collect redeems the pickup link the owner was sent last.
func (b *bed) collect(t *testing.T, owner *enroll.Requester) (*enroll.Outcome, error) {
	t.Helper()
	token := b.last("approved", owner.Principal.ID())
	require.NotEmpty(t, token, "%s got no pickup link", owner.Principal.ID())
	grant, err := b.core.CheckLink(token, linktoken.PurposeIssue, "")
	if err != nil {
		return nil, err
	}
	return b.core.RedeemLink(context.Background(), grant, enroll.Options{})
}

// csrWith makes a CSR for key asking for what template names, PEM.
func csrWith(t *testing.T, key crypto.Signer, template x509.CertificateRequest) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &template, key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// csrDER is a CSR for key, DER.
func csrDER(t *testing.T, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "x"}}, key)
	require.NoError(t, err)
	return der
}

// rsaKey is one RSA key of each size for the package's tests: they are
// slow to make.
var rsaKeys sync.Map

func rsaKey(t *testing.T, bits int) crypto.Signer {
	t.Helper()
	if key, ok := rsaKeys.Load(bits); ok {
		return key.(crypto.Signer)
	}
	key, err := rsa.GenerateKey(rand.Reader, bits)
	require.NoError(t, err)
	actual, _ := rsaKeys.LoadOrStore(bits, key)
	return actual.(crypto.Signer)
}

func p224Key(t *testing.T) crypto.Signer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	require.NoError(t, err)
	return key
}

// sameKey reports whether cert certifies key.
func sameKey(cert *x509.Certificate, key crypto.Signer) bool {
	return cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(key.Public())
}
