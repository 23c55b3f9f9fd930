package enroll_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/attest"
	"github.com/clientcerts/mattermost-plugin-certs/server/attest/attesttest"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// A CSR's names are never trusted: the certificate names the account, for
// the CSR's key, chained to the CA; its link works once, and the key is
// held by the certificate from then on.
func TestACSRIsCertifiedWithTheAccountsNames(t *testing.T) {
	b := newBed(t, "")
	alice := requester("alice")
	grant := csrLink(t, b.core, alice, "")
	key := newKey(t)
	csr := csrWith(t, key, x509.CertificateRequest{Subject: pkix.Name{CommonName: "root"}, EmailAddresses: []string{"boss@example.com"}})
	outcome, err := b.core.SubmitCSR(context.Background(), grant, enroll.Upload{CSR: csr})
	require.NoError(t, err)
	require.NotNil(t, outcome.Signed)
	record, cert := outcome.Signed.Record, outcome.Signed.Certificate
	assert.Equal(t, records.OriginCSR, record.Origin)
	assert.Equal(t, alice.Principal, record.Owner)
	assert.Equal(t, "alice", record.CommonName)
	assert.Equal(t, []string{"alice@example.com"}, record.Emails)
	assert.Equal(t, "alice", cert.Subject.CommonName)
	assert.Equal(t, []string{"alice@example.com"}, cert.EmailAddresses)
	assert.True(t, sameKey(cert, key), "the certificate is for the CSR's key")
	chain := outcome.Signed.Chain
	require.NotEmpty(t, chain)
	roots, intermediates := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(chain[len(chain)-1])
	for _, c := range chain[:len(chain)-1] {
		intermediates.AddCert(c)
	}
	_, err = cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: intermediates, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	require.NoError(t, err)
	assert.Equal(t, []string{"issued:alice"}, b.notify.kinds())
	holder, err := b.store.KeyHolderOf(record.KeyFingerprint)
	require.NoError(t, err)
	assert.Equal(t, records.KeyHolder{Kind: records.KeyHeldByCertificate, ID: record.Serial}, holder)

	_, err = b.core.SubmitCSR(context.Background(), grant, enroll.Upload{CSR: csrFor(t, newKey(t), "alice")})
	assert.Equal(t, enroll.CodeConflict, codeOf(err), "the link works once")
}

// A CSR may come as DER, and with an RSA 2048 key.
func TestCSRsInDERAndWithRSAKeysAreAccepted(t *testing.T) {
	b := newBed(t, "")
	alice := requester("alice")
	ec := newKey(t)
	outcome, err := b.core.SignCSR(context.Background(), alice, "", enroll.Upload{CSR: csrDER(t, ec)})
	require.NoError(t, err)
	assert.True(t, sameKey(outcome.Signed.Certificate, ec))
	rsa := rsaKey(t, 2048)
	outcome, err = b.core.SignCSR(context.Background(), alice, "", enroll.Upload{CSR: csrFor(t, rsa, "")})
	require.NoError(t, err)
	assert.True(t, sameKey(outcome.Signed.Certificate, rsa))
	assert.Equal(t, string(pki.KeyRSA2048), outcome.Signed.Record.KeyType)
}

// An upload that cannot be read, or breaks the profile, is refused and
// leaves its link usable: the requester fixes it and sends it again.
func TestARefusedCSRKeepsItsLink(t *testing.T) {
	b := newBed(t, "")
	alice := requester("alice")
	grant := csrLink(t, b.core, alice, "")
	good := newKey(t)
	tampered := csrDER(t, good)
	tampered[len(tampered)-5] ^= 0xff
	for name, csr := range map[string][]byte{
		"empty":          nil,
		"garbage":        []byte("hello"),
		"wrong PEM type": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not a CSR")}),
		"two requests":   append(csrFor(t, good, ""), csrFor(t, good, "")...),
		"bad signature":  tampered,
		"RSA 1024":       csrFor(t, rsaKey(t, 1024), ""),
		"P-224":          csrFor(t, p224Key(t), ""),
		"too large":      []byte(strings.Repeat("A", pki.MaxCSRBytes+1)),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := b.core.SubmitCSR(context.Background(), grant, enroll.Upload{CSR: csr})
			assert.Equal(t, enroll.CodeRefused, codeOf(err), "%v", err)
			assert.NoError(t, b.core.CheckUnused(grant))
		})
	}
	outcome, err := b.core.SubmitCSR(context.Background(), grant, enroll.Upload{CSR: csrFor(t, good, "")})
	require.NoError(t, err)
	assert.True(t, sameKey(outcome.Signed.Certificate, good))
}

// A profile accepts the key types it lists, no others.
func TestCSRKeyTypesFollowTheProfile(t *testing.T) {
	b := newBed(t, `{"profiles": [{"name": "ec", "key_types": ["ecdsa-p384", "ecdsa-p256"]}]}`)
	alice := requester("alice")
	_, err := b.core.SignCSR(context.Background(), alice, "ec", enroll.Upload{CSR: csrFor(t, rsaKey(t, 2048), "")})
	assert.Equal(t, enroll.CodeRefused, codeOf(err))
	_, err = b.core.SignCSR(context.Background(), alice, "ec", enroll.Upload{CSR: csrFor(t, newKey(t), "")})
	require.NoError(t, err)
}

// Where a profile says the names must match, a CSR may ask for the
// account's own names (emails in any letter case) or none, nothing else.
func TestCSRNamesMustMatchWhenTheProfileSaysSo(t *testing.T) {
	b := newBed(t, `{"profiles": [{"name": "strict", "csr_names": "match"}]}`)
	alice := requester("alice")
	for name, template := range map[string]x509.CertificateRequest{
		"another common name": {Subject: pkix.Name{CommonName: "bob"}},
		"a host name":         {Subject: pkix.Name{CommonName: "alice"}, DNSNames: []string{"alice.example.com"}},
		"an IP address":       {IPAddresses: []net.IP{net.IPv4(10, 0, 0, 1)}},
		"someone's email":     {Subject: pkix.Name{CommonName: "alice"}, EmailAddresses: []string{"bob@example.com"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := b.core.SignCSR(context.Background(), alice, "strict", enroll.Upload{CSR: csrWith(t, newKey(t), template)})
			assert.Equal(t, enroll.CodeRefused, codeOf(err))
		})
	}
	for _, template := range []x509.CertificateRequest{
		{Subject: pkix.Name{CommonName: "alice"}, EmailAddresses: []string{"Alice@Example.com"}},
		{},
	} {
		outcome, err := b.core.SignCSR(context.Background(), alice, "strict", enroll.Upload{CSR: csrWith(t, newKey(t), template)})
		require.NoError(t, err)
		assert.Equal(t, "alice", outcome.Signed.Certificate.Subject.CommonName)
	}
}

// A key is certified once: a second upload of it is refused, whoever sends
// it, and a refused upload on a link leaves the link usable.
func TestAKeyIsCertifiedOnce(t *testing.T) {
	b := newBed(t, "")
	alice, bob := requester("alice"), requester("bob")
	key := newKey(t)
	_, err := b.core.SignCSR(context.Background(), alice, "", enroll.Upload{CSR: csrFor(t, key, "alice")})
	require.NoError(t, err)
	_, err = b.core.SignCSR(context.Background(), alice, "", enroll.Upload{CSR: csrFor(t, key, "alice")})
	assert.Equal(t, enroll.CodeConflict, codeOf(err))

	grant := csrLink(t, b.core, bob, "")
	_, err = b.core.SubmitCSR(context.Background(), grant, enroll.Upload{CSR: csrFor(t, key, "other")})
	assert.Equal(t, enroll.CodeConflict, codeOf(err))
	assert.NoError(t, b.core.CheckUnused(grant))
	fresh := newKey(t)
	outcome, err := b.core.SubmitCSR(context.Background(), grant, enroll.Upload{CSR: csrFor(t, fresh, "")})
	require.NoError(t, err)
	assert.True(t, sameKey(outcome.Signed.Certificate, fresh))
}

// The same CSR uploaded many times at once: one certificate.
func TestConcurrentUploadsOfOneKeyCertifyItOnce(t *testing.T) {
	b := newBed(t, "")
	alice := requester("alice")
	csr := csrFor(t, newKey(t), "alice")
	var (
		wg                  sync.WaitGroup
		mu                  sync.Mutex
		signed, conflicting int
	)
	for range 10 {
		wg.Go(func() {
			outcome, err := b.core.SignCSR(context.Background(), alice, "", enroll.Upload{CSR: csr})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && outcome.Signed != nil:
				signed++
			case codeOf(err) == enroll.CodeConflict:
				conflicting++
			default:
				t.Errorf("unexpected answer: %v", err)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 1, signed)
	assert.Equal(t, 9, conflicting)
	list, err := b.store.ListCertificates(alice.Principal)
	require.NoError(t, err)
	assert.Len(t, list, 1)
}

// A CSR for a profile that needs an approver becomes a request that holds
// the CSR (no key is kept) and the key's claim; once approved, its pickup
// signs that key, and the certificate holds it.
func TestACSRForAnApprovalProfileWaitsAndIsCollectedWithoutAKey(t *testing.T) {
	b := newApprovalBed(t)
	alice, carol := requester("alice"), requester("carol")
	key := newKey(t)
	csr := csrFor(t, key, "")
	outcome, err := b.core.SignCSR(context.Background(), alice, "secure", enroll.Upload{CSR: csr})
	require.NoError(t, err)
	req := outcome.Request
	require.NotNil(t, req)
	assert.Nil(t, outcome.Signed)
	assert.Equal(t, records.RequestPending, req.State)
	assert.Equal(t, string(csr), req.CSRPEM)
	assert.Equal(t, string(pki.KeyECDSAP256), req.KeyType)
	assert.Nil(t, req.PendingKey, "no key is kept for a CSR")
	fingerprint, err := pki.PublicKeyFingerprint(key.Public())
	require.NoError(t, err)
	holder, err := b.store.KeyHolderOf(fingerprint)
	require.NoError(t, err)
	assert.Equal(t, records.KeyHolder{Kind: records.KeyHeldByRequest, ID: req.ID}, holder)
	_, err = b.core.SignCSR(context.Background(), alice, "secure", enroll.Upload{CSR: csr})
	assert.Equal(t, enroll.CodeConflict, codeOf(err), "the request holds the key")

	_, err = b.core.Approve(req.ID, carol)
	require.NoError(t, err)
	collected, err := b.collect(t, alice)
	require.NoError(t, err)
	require.NotNil(t, collected.Signed)
	assert.Nil(t, collected.Issued, "no key is made")
	assert.True(t, sameKey(collected.Signed.Certificate, key))
	assert.Equal(t, "alice", collected.Signed.Certificate.Subject.CommonName)
	got, err := b.store.GetRequest(req.ID)
	require.NoError(t, err)
	assert.Equal(t, records.RequestIssued, got.State)
	assert.Equal(t, collected.Signed.Record.Serial, got.Serial)
	holder, err = b.store.KeyHolderOf(fingerprint)
	require.NoError(t, err)
	assert.Equal(t, records.KeyHolder{Kind: records.KeyHeldByCertificate, ID: got.Serial}, holder)
}

// The key of a request that came to nothing (withdrawn, denied, expired)
// may be sent again.
func TestTheKeyOfARequestThatCameToNothingMayBeSentAgain(t *testing.T) {
	b := newApprovalBed(t)
	alice, carol := requester("alice"), requester("carol")
	csr := csrFor(t, newKey(t), "")
	submit := func() *records.Request {
		t.Helper()
		outcome, err := b.core.SignCSR(context.Background(), alice, "secure", enroll.Upload{CSR: csr})
		require.NoError(t, err)
		require.NotNil(t, outcome.Request)
		return outcome.Request
	}
	req := submit()
	_, err := b.core.Cancel(alice, req.ID)
	require.NoError(t, err)
	req = submit()
	_, err = b.core.Deny(req.ID, carol, "no")
	require.NoError(t, err)
	req = submit()
	b.advance(enroll.RequestLifetime + 1)
	open, err := b.store.ListOpenRequests()
	require.NoError(t, err)
	b.core.ExpireRequests(open)
	got, err := b.store.GetRequest(req.ID)
	require.NoError(t, err)
	require.Equal(t, records.RequestExpired, got.State)
	submit()
}

// A profile that requires a hardware attestation certifies only keys a
// trusted device attests, and makes no keys itself; one that verifies it
// when present refuses a forged one; one that ignores it keeps none.
func TestHardwareAttestation(t *testing.T) {
	yubico, err := attesttest.New("Test Yubico", 12345678)
	require.NoError(t, err)
	untrusted, err := attesttest.New("Untrusted", 99)
	require.NoError(t, err)
	b := newBed(t, `{"profiles": [{"name": "plain"}, {"name": "hardware", "attestation": "require"}, {"name": "either", "attestation": "verify_if_present"}]}`)
	roots, err := attest.ParseRoots(yubico.RootPEM())
	require.NoError(t, err)
	settings := b.settings
	settings.AttestationRoots = roots
	b.core = enroll.New(settings, b.ports)
	alice := requester("alice")
	upload := func(profileName string, attestedBy *attesttest.Hierarchy, attestedKey, key crypto.Signer) (*enroll.Outcome, error) {
		t.Helper()
		u := enroll.Upload{CSR: csrFor(t, key, "")}
		if attestedBy != nil {
			evidence, err := attestedBy.Attest(attestedKey.Public())
			require.NoError(t, err)
			u.Attestation = []byte(evidence)
		}
		return b.core.SignCSR(context.Background(), alice, profileName, u)
	}

	t.Run("good", func(t *testing.T) {
		key := newKey(t)
		outcome, err := upload("hardware", yubico, key, key)
		require.NoError(t, err)
		a := outcome.Signed.Record.Attestation
		require.NotNil(t, a)
		assert.Equal(t, "yubico-piv", a.Format)
		assert.Equal(t, "12345678", a.DeviceSerial)
		assert.Equal(t, "5.4.3", a.FirmwareVersion)
		assert.Equal(t, yubico.Root.Subject.String(), a.Root)
	})
	for name, tc := range map[string]struct {
		profile    string
		attestedBy *attesttest.Hierarchy
		otherKey   bool
	}{
		"another key":            {"hardware", yubico, true},
		"an untrusted device":    {"hardware", untrusted, false},
		"none where required":    {"hardware", nil, false},
		"a forged one, optional": {"either", untrusted, false},
	} {
		t.Run(name, func(t *testing.T) {
			key, attested := newKey(t), newKey(t)
			if !tc.otherKey {
				attested = key
			}
			_, err := upload(tc.profile, tc.attestedBy, attested, key)
			assert.Equal(t, enroll.CodeRefused, codeOf(err))
		})
	}
	t.Run("none where optional", func(t *testing.T) {
		key := newKey(t)
		outcome, err := upload("either", nil, key, key)
		require.NoError(t, err)
		assert.Nil(t, outcome.Signed.Record.Attestation)
	})
	t.Run("one where ignored", func(t *testing.T) {
		key := newKey(t)
		outcome, err := upload("plain", untrusted, key, key)
		require.NoError(t, err)
		assert.Nil(t, outcome.Signed.Record.Attestation)
	})
	t.Run("no server keys where required", func(t *testing.T) {
		_, err := b.core.Enroll(context.Background(), alice, "hardware", enroll.Options{})
		assert.Equal(t, enroll.CodeForbidden, codeOf(err))
		_, err = b.core.StartEnrollment(alice, enroll.StartRequest{Profile: "hardware", Key: enroll.KeyFromServer})
		assert.Equal(t, enroll.CodeForbidden, codeOf(err))
		assert.Equal(t, enroll.NextUseCSR, enroll.AsError(err).Next)
	})
}

// A link is for one purpose: a CSR link makes no key, an issuance link
// takes no CSR.
func TestCSRLinksAreNotIssueLinks(t *testing.T) {
	b := newBed(t, "")
	alice := requester("alice")
	csrStart, err := b.core.StartEnrollment(alice, enroll.StartRequest{Key: enroll.KeyFromCSR})
	require.NoError(t, err)
	_, err = b.core.CheckLink(csrStart.Link.Token, linktoken.PurposeIssue, "")
	assert.Equal(t, enroll.CodeInvalid, codeOf(err))
	issueStart, err := b.core.StartEnrollment(alice, enroll.StartRequest{Key: enroll.KeyFromServer})
	require.NoError(t, err)
	_, err = b.core.CheckLink(issueStart.Link.Token, linktoken.PurposeCSR, "")
	assert.Equal(t, enroll.CodeInvalid, codeOf(err))
}
