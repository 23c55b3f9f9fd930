package main

import (
	"crypto"
	"crypto/x509"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ocsp"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/builtinca"
	"github.com/clientcerts/mattermost-plugin-certs/server/config/configtest"
	"github.com/clientcerts/mattermost-plugin-certs/server/mattermost"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/web/admin"
)

// issuingCA is the issuing CA that signs now.
func (env *testEnv) issuingCA(t *testing.T) *x509.Certificate {
	t.Helper()
	chain, err := mustServices(t, env).Core.Connectors["builtin"].Chain(t.Context())
	require.NoError(t, err)
	return chain[0]
}

// crlAt fetches a CRL and checks it is signed by issuer.
func (env *testEnv) crlAt(t *testing.T, path string, issuer *x509.Certificate) *x509.RevocationList {
	t.Helper()
	w := env.request(http.MethodGet, path, "", "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	crl, err := x509.ParseRevocationList(w.Body.Bytes())
	require.NoError(t, err)
	require.NoError(t, crl.CheckSignatureFrom(issuer), "%s is signed by %s", path, issuer.Subject)
	return crl
}

// ocspStatus asks the responder about leaf as a certificate of issuer and
// checks the answer is signed by a responder that issuer delegated.
func (env *testEnv) ocspStatus(t *testing.T, leaf, issuer *x509.Certificate) int {
	t.Helper()
	der, err := ocsp.CreateRequest(leaf, issuer, &ocsp.RequestOptions{Hash: crypto.SHA256})
	require.NoError(t, err)
	w := env.request(http.MethodPost, "/ocsp", string(der), "", "Content-Type", "application/ocsp-request")
	require.Equal(t, http.StatusOK, w.Code)
	resp, err := ocsp.ParseResponseForCert(w.Body.Bytes(), leaf, issuer)
	require.NoError(t, err)
	require.NotNil(t, resp.Certificate)
	require.NoError(t, resp.Certificate.CheckSignatureFrom(issuer), "the responder is delegated by the certificate's own issuer")
	return resp.Status
}

// verifies checks that leaf chains to root through the intermediates of
// the served ca.pem.
func verifies(t *testing.T, leaf *x509.Certificate, served []*x509.Certificate) error {
	t.Helper()
	roots, intermediates := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(served[len(served)-1])
	for _, c := range served[:len(served)-1] {
		intermediates.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: intermediates, CurrentTime: leaf.NotBefore.Add(time.Hour),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	return err
}

func TestBuiltinIssuingCARenewsItselfUnderTheSameRoot(t *testing.T) {
	env := newTestEnv(t)
	first := env.issuingCA(t)
	env.p.runRequestJob()
	assert.Zero(t, env.noticesTo("carol", "renewed"), "years ahead: nothing")

	// The default profile gives 365 days: renewal comes 30 days before the
	// issuing CA could no longer give that.
	threshold := builtinca.RenewalThreshold(mustServices(t, env).Catalog)
	assert.Equal(t, 395*24*time.Hour, threshold)
	env.advance(first.NotAfter.Sub(env.now()) - threshold - time.Hour)
	env.p.runRequestJob()
	assert.Zero(t, env.noticesTo("carol", "renewed"), "not yet")
	// Certificates of the first CA, still valid for a year.
	oldRevoked := leafOf(t, env.issueJSON(env.token("alice")))
	oldKept := leafOf(t, env.issueJSON(env.token("alice")))
	assert.True(t, env.now().Add(365*24*time.Hour).Truncate(time.Second).Equal(oldKept.NotAfter), "not cut short before the renewal either")
	assert.Contains(t, env.run("alice", "/cert revoke "+pki.FormatSerial(oldRevoked.SerialNumber)+" keyCompromise"), "is now revoked")
	before := env.crlAt(t, "/crl/builtin.crl", first)
	_, listed := serialIn(before, pki.FormatSerial(oldRevoked.SerialNumber))
	require.True(t, listed)
	env.advance(2 * time.Hour)
	env.p.runRequestJob()
	env.p.runRequestJob()
	assert.Equal(t, 1, env.noticesTo("carol", "the built-in issuing CA was renewed"), "told once")

	second := env.issuingCA(t)
	require.False(t, second.Equal(first))
	assert.Equal(t, "Client Certificates Issuing CA G2", second.Subject.CommonName)
	assert.Equal(t, first.Subject.Organization, second.Subject.Organization)
	assert.NotEqual(t, pki.SubjectID(first), pki.SubjectID(second), "each generation its own issuer name")
	assert.Equal(t, first.RawIssuer, second.RawIssuer, "under the same root")
	assert.True(t, second.NotAfter.After(first.NotAfter))
	stored, err := env.p.store.GetCA(builtinca.StoredBuiltin)
	require.NoError(t, err)
	assert.Equal(t, 2, stored.Generation)
	require.Len(t, stored.Previous, 1, "one renewal, however often the job ran")
	assert.Equal(t, first.Raw, stored.Previous[0].Certificate)
	assert.NotEmpty(t, stored.Previous[0].Keys, "the previous key stays, sealed, to sign its CRL")

	// ca.pem: the current issuing CA first, then the previous, the root last.
	w := env.request(http.MethodGet, "/ca.pem", "", "")
	require.Equal(t, http.StatusOK, w.Code)
	served, err := pki.ParseCertificatesPEM(w.Body.Bytes())
	require.NoError(t, err)
	require.Len(t, served, 3)
	assert.True(t, served[0].Equal(second))
	assert.True(t, served[1].Equal(first))
	assert.Equal(t, served[2].Raw, rootOf(t, mustServices(t, env)))

	// New certificates: signed by the new CA, with its own CRL, and their
	// full validity.
	issued := env.issueJSON(env.token("alice"))
	fresh := leafOf(t, issued)
	require.NoError(t, fresh.CheckSignatureFrom(second))
	assert.True(t, env.now().Add(365*24*time.Hour).Truncate(time.Second).Equal(fresh.NotAfter), "not cut short")
	assert.Equal(t, []string{testSiteURL + "/plugins/certs/crl/builtin/2.crl"}, fresh.CRLDistributionPoints)
	require.NoError(t, verifies(t, fresh, served))
	require.NoError(t, verifies(t, oldKept, served), "the old certificates still verify")
	chain, err := pki.ParseCertificatesPEM([]byte(issued.CertificatePEM))
	require.NoError(t, err)
	assert.True(t, chain[1].Equal(second), "the download carries the new chain")

	// Each CA's list names its own revocations, signed with its own key;
	// the old list keeps its address and its numbering.
	assert.Contains(t, env.run("alice", "/cert revoke "+pki.FormatSerial(fresh.SerialNumber)), "is now revoked")
	assert.Contains(t, env.run("alice", "/cert revoke "+pki.FormatSerial(oldKept.SerialNumber)), "is now revoked")
	oldList := env.crlAt(t, "/crl/builtin.crl", first)
	assert.Greater(t, oldList.Number.Int64(), before.Number.Int64())
	_, listed = serialIn(oldList, pki.FormatSerial(oldRevoked.SerialNumber))
	assert.True(t, listed)
	_, listed = serialIn(oldList, pki.FormatSerial(oldKept.SerialNumber))
	assert.True(t, listed, "revoked after the renewal, on its own CA's list")
	_, listed = serialIn(oldList, pki.FormatSerial(fresh.SerialNumber))
	assert.False(t, listed)
	newList := env.crlAt(t, "/crl/builtin/2.crl", second)
	assert.Equal(t, int64(2), newList.Number.Int64(), "numbers of its own: the job's first list, then the revocation's")
	require.Len(t, newList.RevokedCertificateEntries, 1)
	_, listed = serialIn(newList, pki.FormatSerial(fresh.SerialNumber))
	assert.True(t, listed)
	assert.Equal(t, http.StatusOK, env.request(http.MethodGet, "/crl/builtin/2.pem", "", "").Code)
	assert.Equal(t, http.StatusNotFound, env.request(http.MethodGet, "/crl/builtin/3.crl", "", "").Code)
	assert.Equal(t, http.StatusNotFound, env.request(http.MethodGet, "/crl/builtin/1.crl", "", "").Code, "the first list has one address")

	// OCSP answers for both CAs, each with a responder of its own.
	assert.Equal(t, ocsp.Revoked, env.ocspStatus(t, oldRevoked, first))
	assert.Equal(t, ocsp.Revoked, env.ocspStatus(t, fresh, second))
	another := leafOf(t, env.issueJSON(env.token("bob")))
	assert.Equal(t, ocsp.Good, env.ocspStatus(t, another, second))
	assert.Equal(t, ocsp.Unknown, env.ocspStatus(t, another, first), "a serial is good only under its own issuer")

	// The lists stay fresh on a quiet week, both of them.
	env.advance(4 * 24 * time.Hour)
	env.p.runRequestJob()
	assert.Greater(t, env.crlAt(t, "/crl/builtin.crl", first).Number.Int64(), oldList.Number.Int64())
	assert.Greater(t, env.crlAt(t, "/crl/builtin/2.crl", second).Number.Int64(), newList.Number.Int64())
	assert.Empty(t, env.loggedErrors())
}

// A node that did not renew learns of the new CA: at its next job run,
// or when asked for the new CA's list.
func TestANodeLoadsTheCAAnotherNodeRenewed(t *testing.T) {
	env := newTestEnv(t)
	stale := mustServices(t, env)
	c := env.p.getConfiguration()
	_, err := env.p.caKeeper.Renew(c, builtinca.RenewalThreshold(stale.Catalog), true)
	require.NoError(t, err)
	renewed := mustServices(t, env)
	// Play the other node: it still has the services from before.
	env.p.current.Store(stale)
	w := env.request(http.MethodGet, "/crl/builtin/2.crl", "", "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, 2, mustServices(t, env).BuiltinCA.Generation())

	env.p.current.Store(stale)
	env.p.runRequestJob()
	assert.Equal(t, 2, mustServices(t, env).BuiltinCA.Generation())
	assert.True(t, env.issuingCA(t).Equal(issuingOf(t, renewed)))
}

func issuingOf(t *testing.T, s *app.Snapshot) *x509.Certificate {
	t.Helper()
	chain, err := s.Core.Connectors["builtin"].Chain(t.Context())
	require.NoError(t, err)
	return chain[0]
}

// Near the end of the root, the issuing CA renews as long as the root
// leaves it enough life; then it stops, and the admins are told of the
// expiry instead of a new root being made behind their backs.
func TestCARenewalStopsWhereTheRootEnds(t *testing.T) {
	env := newTestEnv(t)
	first := env.issuingCA(t)
	root, err := x509.ParseCertificate(rootOf(t, mustServices(t, env)))
	require.NoError(t, err)
	threshold := builtinca.RenewalThreshold(mustServices(t, env).Catalog)

	env.advance(first.NotAfter.Sub(env.now()) - threshold + time.Hour)
	env.p.runRequestJob()
	second := env.issuingCA(t)
	require.Equal(t, "Client Certificates Issuing CA G2", second.Subject.CommonName)

	env.advance(second.NotAfter.Sub(env.now()) - threshold + time.Hour)
	env.p.runRequestJob()
	third := env.issuingCA(t)
	require.Equal(t, "Client Certificates Issuing CA G3", third.Subject.CommonName)
	assert.Equal(t, root.NotAfter, third.NotAfter, "never past the root")
	stored, err := env.p.store.GetCA(builtinca.StoredBuiltin)
	require.NoError(t, err)
	require.Len(t, stored.Previous, 1, "the first expired: dropped")
	assert.Equal(t, 2, stored.Previous[0].Generation)
	assert.Equal(t, http.StatusNotFound, env.request(http.MethodGet, "/crl/builtin.crl", "", "").Code, "nothing left to list")

	env.advance(root.NotAfter.Sub(env.now()) - 80*24*time.Hour)
	env.p.runRequestJob()
	assert.True(t, env.issuingCA(t).Equal(third), "no new CA the root would cut short")
	assert.Equal(t, 2, env.noticesTo("carol", "renewed"))
	assert.Equal(t, 1, env.noticesTo("carol", "`"+mattermost.MarkdownCell(root.Subject.String())+"` of connector `builtin` expires on"), "the root's expiry is the admins' to handle")
	_, err = env.p.caKeeper.Renew(env.p.getConfiguration(), threshold, true)
	var impossible *builtinca.ErrRenewalNotPossible
	require.ErrorAs(t, err, &impossible)
	assert.Contains(t, impossible.Reason, "a new root is needed")
}

func TestAdminForcesACARenewal(t *testing.T) {
	env := newTestEnv(t)
	first := env.issuingCA(t)
	assert.Equal(t, http.StatusForbidden, env.request(http.MethodPost, "/api/v1/admin/ca/rollover", "", "alice").Code)
	assert.Equal(t, http.StatusUnauthorized, env.request(http.MethodPost, "/api/v1/admin/ca/rollover", "", "").Code)
	assert.Equal(t, http.StatusMethodNotAllowed, env.request(http.MethodGet, "/api/v1/admin/ca/rollover", "", "carol").Code)
	assert.True(t, env.issuingCA(t).Equal(first))

	w := env.request(http.MethodPost, "/api/v1/admin/ca/rollover", "", "carol")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	view := decodeJSON[admin.CARenewal](t, w.Body.Bytes())
	assert.Equal(t, 2, view.Generation)
	assert.Equal(t, first.Subject.String(), view.Previous)
	assert.Equal(t, view.IssuingCA, env.issuingCA(t).Subject.String())
	assert.Equal(t, 1, env.noticesTo("carol", "renewed"))

	w = env.request(http.MethodPost, "/api/v1/admin/ca/rollover", "", "carol")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, 3, decodeJSON[admin.CARenewal](t, w.Body.Bytes()).Generation)
	served, err := pki.ParseCertificatesPEM(env.request(http.MethodGet, "/ca.pem", "", "").Body.Bytes())
	require.NoError(t, err)
	assert.Len(t, served, 4, "three issuing CAs, newest first, and the root")
	assert.True(t, served[2].Equal(first))

	// The admin's own CA: not the plugin's to renew.
	chainPEM, keyPEM, _ := configtest.CustomCAPEM(t, time.Now())
	c := env.p.getConfiguration().Clone()
	c.CACertificatePEM, c.CAPrivateKeyPEM = chainPEM, keyPEM
	env.configure(c)
	w = env.request(http.MethodPost, "/api/v1/admin/ca/rollover", "", "carol")
	assert.Equal(t, http.StatusConflict, w.Code)
	assert.Contains(t, w.Body.String(), "administrator's own")
}
