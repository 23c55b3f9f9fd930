package enroll_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// startRenewal starts the renewal of serial as r, as every door does.
func (b *bed) startRenewal(r *enroll.Requester, serial string) (*enroll.Start, error) {
	return b.core.StartEnrollment(r, enroll.StartRequest{Renews: serial})
}

// newLink starts an enrollment of profileName with a key the server makes.
func (b *bed) newLink(r *enroll.Requester, profileName string) (*enroll.Start, error) {
	return b.core.StartEnrollment(r, enroll.StartRequest{Profile: profileName, Key: enroll.KeyFromServer})
}

// renew redeems the renewal of serial as r and returns the renewal.
func (b *bed) renew(t *testing.T, r *enroll.Requester, serial string) *records.Certificate {
	t.Helper()
	renewal, err := b.startRenewal(r, serial)
	require.NoError(t, err)
	require.NotNil(t, renewal.Link)
	assert.Equal(t, serial, renewal.Link.Renews)
	grant, err := b.core.CheckLink(renewal.Link.Token, linktoken.PurposeIssue, "")
	require.NoError(t, err)
	outcome, err := b.core.RedeemLink(context.Background(), grant, enroll.Options{})
	require.NoError(t, err)
	require.NotNil(t, outcome.Issued)
	return outcome.Issued.Record
}

func (b *bed) enroll(t *testing.T, r *enroll.Requester, profileName string) *records.Certificate {
	t.Helper()
	outcome, err := b.core.Enroll(context.Background(), r, profileName, enroll.Options{})
	require.NoError(t, err)
	require.NotNil(t, outcome.Issued)
	return outcome.Issued.Record
}

func TestARenewalTakesThePlaceOfTheCertificateItReplaces(t *testing.T) {
	b := newBed(t, `{"profiles": [{"name": "vpn", "limits": {"active": 1}}]}`)
	alice := requester("alice")
	first := b.enroll(t, alice, "vpn")
	_, err := b.newLink(alice, "vpn")
	require.Equal(t, enroll.CodeForbidden, enroll.AsError(err).Code, "the one place is taken")
	assert.Contains(t, err.Error(), "the most it allows")

	second := b.renew(t, alice, first.Serial)
	assert.Equal(t, first.Serial, second.Renews)
	old, err := b.store.GetCertificate(first.Serial)
	require.NoError(t, err)
	assert.Equal(t, records.CertIssued, old.State, "the profile does not revoke what a renewal replaces")

	// The two hold one place now: neither a new certificate nor a second
	// renewal of the first fits, nor a renewal of the renewal while the
	// first is valid beside it (chained, four renewals made five valid
	// certificates of one place).
	_, err = b.newLink(alice, "vpn")
	assert.Equal(t, enroll.CodeForbidden, enroll.AsError(err).Code)
	assert.Equal(t, enroll.NextFreeASlot, enroll.AsError(err).Next)
	_, err = b.startRenewal(alice, first.Serial)
	assert.Equal(t, enroll.CodeForbidden, enroll.AsError(err).Code)
	_, err = b.startRenewal(alice, second.Serial)
	assert.Equal(t, enroll.CodeForbidden, enroll.AsError(err).Code)

	// The overlap ends: the job revokes the first, and tells alice; the
	// renewal can be renewed.
	b.core.EndRenewalOverlaps(context.Background())
	old, err = b.store.GetCertificate(first.Serial)
	require.NoError(t, err)
	assert.Equal(t, records.CertIssued, old.State, "still in its overlap")
	b.advance(8 * 24 * time.Hour)
	b.core.EndRenewalOverlaps(context.Background())
	old, err = b.store.GetCertificate(first.Serial)
	require.NoError(t, err)
	assert.Equal(t, records.CertRevoked, old.State)
	assert.Equal(t, records.ReasonSuperseded, old.RevocationReason)
	assert.Contains(t, b.notify.kinds(), "overlap-ended:alice")
	third := b.renew(t, alice, second.Serial)
	assert.Equal(t, second.Serial, third.Renews)
}

// Without a limit on valid certificates, a renewal's overlap ends with
// nothing revoked: the owner may keep both.
func TestAnOverlapEndsWithoutARevocationWhereNothingIsLimited(t *testing.T) {
	b := newBed(t, `{"profiles": [{"name": "vpn"}]}`)
	alice := requester("alice")
	first := b.enroll(t, alice, "vpn")
	b.renew(t, alice, first.Serial)
	b.advance(30 * 24 * time.Hour)
	b.core.EndRenewalOverlaps(context.Background())
	old, err := b.store.GetCertificate(first.Serial)
	require.NoError(t, err)
	assert.Equal(t, records.CertIssued, old.State)
}

func TestARenewalIsOnlyOfOnesOwnCertificate(t *testing.T) {
	b := newBed(t, "")
	alice, bob := requester("alice"), requester("bob")
	cert := b.enroll(t, alice, "")
	_, err := b.startRenewal(bob, cert.Serial)
	assert.Equal(t, enroll.ErrNotOwner, err)

	// A link minted for bob that names alice's certificate (a forged
	// claim would not verify; this one is signed) is refused.
	token, _, err := b.core.Minter.MintRenewal(bob.Principal, linktoken.PurposeIssue, "default", cert.Serial, time.Minute)
	require.NoError(t, err)
	_, err = b.core.CheckLink(token, linktoken.PurposeIssue, "")
	assert.Equal(t, enroll.CodeInvalid, enroll.AsError(err).Code)
}

func TestARenewalRevokesWhatItReplacesWhenTheProfileSaysSo(t *testing.T) {
	b := newBed(t, `{"profiles": [{"name": "vpn", "renewal": {"revoke_replaced": true}}]}`)
	alice := requester("alice")
	first := b.enroll(t, alice, "vpn")
	second := b.renew(t, alice, first.Serial)
	old, err := b.store.GetCertificate(first.Serial)
	require.NoError(t, err)
	assert.Equal(t, records.CertRevoked, old.State)
	assert.Equal(t, records.ReasonSuperseded, old.RevocationReason)
	assert.Equal(t, "mm:alice", old.RevokedBy, "its owner revoked it, by renewing it")
	current, err := b.store.GetCertificate(second.Serial)
	require.NoError(t, err)
	assert.Equal(t, records.CertIssued, current.State)
	crl, err := b.core.CRL("builtin", 0)
	require.NoError(t, err)
	list, err := x509.ParseRevocationList(crl.DER)
	require.NoError(t, err)
	require.Len(t, list.RevokedCertificateEntries, 1, "the replaced certificate is on the CRL")
}

func TestARenewalSkipsTheApproversOnlyWhereTheProfileSaysSo(t *testing.T) {
	b := newBed(t, `{"profiles": [{"name": "vpn"},
		{"name": "again", "requires_approval": true, "approvers": ["carol"]},
		{"name": "once", "requires_approval": true, "approvers": ["carol"], "renewal": {"skip_approval": true}}]}`)
	b.dir.approvers["again"] = mm("carol")
	b.dir.approvers["once"] = mm("carol")
	alice, carol := requester("alice"), requester("carol")
	approved := func(profileName string, renews string) *records.Certificate {
		t.Helper()
		var req *records.Request
		if renews == "" {
			req = requestApproval(t, b.core, alice, profileName)
		} else {
			renewal, err := b.startRenewal(alice, renews)
			require.NoError(t, err)
			require.NotNil(t, renewal.Request, "a renewal on %s asks the approvers again", profileName)
			req = renewal.Request
			assert.Equal(t, renews, req.Renews)
		}
		_, err := b.core.Approve(req.ID, carol)
		require.NoError(t, err)
		token := b.notify.notices[len(b.notify.notices)-1].detail
		grant, err := b.core.CheckLink(token, linktoken.PurposeIssue, "")
		require.NoError(t, err)
		outcome, err := b.core.RedeemLink(context.Background(), grant, enroll.Options{})
		require.NoError(t, err)
		return outcome.Issued.Record
	}

	first := approved("again", "")
	second := approved("again", first.Serial)
	assert.Equal(t, first.Serial, second.Renews, "the pickup of a renewal request records what it replaces")

	kept := approved("once", "")
	renewed := b.renew(t, alice, kept.Serial)
	assert.Equal(t, kept.Serial, renewed.Renews)

	// A renewal of a revoked certificate is a new request: nothing vouches
	// for it any more.
	_, err := b.core.Revoke(context.Background(), alice, renewed.Serial, "")
	require.NoError(t, err)
	renewal, err := b.startRenewal(alice, renewed.Serial)
	require.NoError(t, err)
	assert.NotNil(t, renewal.Request)
	assert.Nil(t, renewal.Link)
}

// csrFor makes a CSR for key, named for the account.
func csrFor(t *testing.T, key crypto.Signer, cn string) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func newKey(t *testing.T) crypto.Signer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return key
}

// submitRenewal renews serial with a CSR as r.
func (b *bed) submitRenewal(t *testing.T, r *enroll.Requester, serial string, csr []byte) (*enroll.Outcome, error) {
	t.Helper()
	renewal, err := b.startRenewal(r, serial)
	require.NoError(t, err)
	require.NotNil(t, renewal.Link)
	require.Equal(t, linktoken.PurposeCSR, renewal.Link.Purpose, "a certificate of the owner's key renews with a CSR")
	grant, err := b.core.CheckLink(renewal.Link.Token, linktoken.PurposeCSR, "")
	require.NoError(t, err)
	return b.core.SubmitCSR(context.Background(), grant, enroll.Upload{CSR: csr})
}

func TestARenewalMayCertifyTheSameKeyUnlessItWasCompromised(t *testing.T) {
	b := newBed(t, `{"profiles": [{"name": "card"}]}`)
	alice, bob := requester("alice"), requester("bob")
	key := newKey(t)
	csr := csrFor(t, key, "alice")
	outcome, err := b.core.SignCSR(context.Background(), alice, "card", enroll.Upload{CSR: csr})
	require.NoError(t, err)
	first := outcome.Signed.Record

	_, err = b.core.SignCSR(context.Background(), alice, "card", enroll.Upload{CSR: csr})
	assert.Equal(t, enroll.CodeConflict, enroll.AsError(err).Code, "outside a renewal a certified key is refused")

	outcome, err = b.submitRenewal(t, alice, first.Serial, csr)
	require.NoError(t, err)
	second := outcome.Signed.Record
	assert.Equal(t, first.KeyFingerprint, second.KeyFingerprint, "the smart card kept its key")
	assert.Equal(t, first.Serial, second.Renews)

	// The claim went to the renewal: renewing the first again with the
	// same key is refused, and so is anyone else's CSR for it.
	_, err = b.submitRenewal(t, alice, first.Serial, csr)
	assert.Equal(t, enroll.CodeConflict, enroll.AsError(err).Code)
	_, err = b.core.SignCSR(context.Background(), bob, "card", enroll.Upload{CSR: csrFor(t, key, "bob")})
	assert.Equal(t, enroll.CodeConflict, enroll.AsError(err).Code)

	// Revoked for key compromise: the key is never certified again, a new
	// one is.
	_, err = b.core.Revoke(context.Background(), alice, second.Serial, records.ReasonKeyCompromise)
	require.NoError(t, err)
	_, err = b.submitRenewal(t, alice, second.Serial, csr)
	assert.Equal(t, enroll.ErrCompromisedKey, err)
	outcome, err = b.submitRenewal(t, alice, second.Serial, csrFor(t, newKey(t), "alice"))
	require.NoError(t, err)
	assert.Equal(t, second.Serial, outcome.Signed.Record.Renews)
}

// A refused renewal upload gives the key back to the certificate it came
// from, so that it is still refused to others and can be renewed again.
func TestAFailedRenewalGivesTheKeyBack(t *testing.T) {
	b := newBed(t, `{"profiles": [{"name": "card", "requires_approval": true, "approvers": ["carol"]}]}`)
	b.dir.approvers["card"] = mm("carol")
	alice, carol := requester("alice"), requester("carol")
	key := newKey(t)
	csr := csrFor(t, key, "alice")
	outcome, err := b.core.SignCSR(context.Background(), alice, "card", enroll.Upload{CSR: csr})
	require.NoError(t, err)
	req := outcome.Request
	_, err = b.core.Approve(req.ID, carol)
	require.NoError(t, err)
	token := b.notify.notices[len(b.notify.notices)-1].detail
	grant, err := b.core.CheckLink(token, linktoken.PurposeIssue, "")
	require.NoError(t, err)
	collected, err := b.core.RedeemLink(context.Background(), grant, enroll.Options{})
	require.NoError(t, err)
	first := collected.Signed.Record

	outcome, err = b.submitRenewal(t, alice, first.Serial, csr)
	require.NoError(t, err)
	require.NotNil(t, outcome.Request, "renewals of this profile are approved again")
	_, err = b.core.Deny(outcome.Request.ID, carol, "not now")
	require.NoError(t, err)
	holder, err := b.store.KeyHolderOf(first.KeyFingerprint)
	require.NoError(t, err)
	assert.Equal(t, records.KeyHolder{Kind: records.KeyHeldByCertificate, ID: first.Serial}, holder)
	outcome, err = b.submitRenewal(t, alice, first.Serial, csr)
	require.NoError(t, err)
	assert.NotNil(t, outcome.Request)
}

// staleCounts is an inventory whose counts lag behind, as they do for two
// enrollments racing: the early check passes, and the store's own check
// with the record decides.
type staleCounts struct{ *bedStore }

func (staleCounts) CountOwned(records.Principal, records.Quota, time.Time) (records.OwnerCounts, error) {
	return records.OwnerCounts{}, nil
}

func TestTheLimitIsDecidedAgainWithTheRecord(t *testing.T) {
	b := newBed(t, `{"profiles": [{"name": "vpn", "limits": {"active": 1}}]}`)
	alice := requester("alice")
	b.enroll(t, alice, "vpn")
	core := b.withInventory(staleCounts{b.store})
	_, grant := issueLink(t, core, alice, "vpn") // the stale count lets the link out
	_, err := core.RedeemLink(context.Background(), grant, enroll.Options{})
	require.Equal(t, enroll.CodeForbidden, enroll.AsError(err).Code)
	assert.Contains(t, err.Error(), "the most it allows")
	list, err := b.store.ListCertificates(alice.Principal)
	require.NoError(t, err)
	assert.Len(t, list, 1, "the certificate that lost the race is not recorded")
	require.NoError(t, core.CheckUnused(grant), "nor is the link used up")
}

// Concurrent renewals of one CSR certificate with its own key: one takes
// the key over.
func TestConcurrentRenewalsWithTheSameKeyCertifyItOnce(t *testing.T) {
	b := newBed(t, `{"profiles": [{"name": "card"}]}`)
	alice := requester("alice")
	csr := csrFor(t, newKey(t), "alice")
	outcome, err := b.core.SignCSR(context.Background(), alice, "card", enroll.Upload{CSR: csr})
	require.NoError(t, err)
	first := outcome.Signed.Record
	var grants []*enroll.Grant
	for range 5 {
		renewal, err := b.startRenewal(alice, first.Serial)
		require.NoError(t, err)
		grant, err := b.core.CheckLink(renewal.Link.Token, linktoken.PurposeCSR, "")
		require.NoError(t, err)
		grants = append(grants, grant)
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		signed int
	)
	for _, g := range grants {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out, err := b.core.SubmitCSR(context.Background(), g, enroll.Upload{CSR: csr}); err == nil && out.Signed != nil {
				mu.Lock()
				signed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 1, signed)
}

// Requests do not hold places while they wait: two approved requests of a
// profile with one place cannot both be collected.
func TestApprovedRequestsMeetTheLimitAtPickup(t *testing.T) {
	b := newBed(t, `{"profiles": [{"name": "vpn"}, {"name": "one", "requires_approval": true, "approvers": ["carol"], "limits": {"active": 1}}]}`)
	b.dir.approvers["one"] = mm("carol")
	alice, carol := requester("alice"), requester("carol")
	var grants []*enroll.Grant
	for range 2 {
		req := requestApproval(t, b.core, alice, "one")
		_, err := b.core.Approve(req.ID, carol)
		require.NoError(t, err)
		grant, err := b.core.CheckLink(b.notify.notices[len(b.notify.notices)-1].detail, linktoken.PurposeIssue, "")
		require.NoError(t, err)
		grants = append(grants, grant)
	}
	first, err := b.core.RedeemLink(context.Background(), grants[0], enroll.Options{})
	require.NoError(t, err)
	_, err = b.core.RedeemLink(context.Background(), grants[1], enroll.Options{})
	require.Equal(t, enroll.CodeForbidden, enroll.AsError(err).Code)
	assert.Contains(t, err.Error(), "the most it allows")

	_, err = b.core.Revoke(context.Background(), alice, first.Issued.Record.Serial, records.ReasonSuperseded)
	require.NoError(t, err)
	second, err := b.core.RedeemLink(context.Background(), grants[1], enroll.Options{})
	require.NoError(t, err, "the pickup link was not used up")
	assert.NotNil(t, second.Issued)
}

// The server's bound on one person's certificates a day spans profiles.
func TestTheDailyBoundOfAPersonSpansProfiles(t *testing.T) {
	b := newBed(t, `{"profiles": [{"name": "vpn"}, {"name": "wifi"}]}`)
	settings := b.settings
	settings.PerRequesterPerDay = 2
	b.core = enroll.New(settings, b.ports)
	alice, bob := requester("alice"), requester("bob")
	b.enroll(t, alice, "vpn")
	b.enroll(t, alice, "wifi")
	_, err := b.core.Enroll(context.Background(), alice, "vpn", enroll.Options{})
	require.Equal(t, enroll.CodeForbidden, enroll.AsError(err).Code)
	assert.Contains(t, err.Error(), "the most this server allows one person")
	_, err = b.newLink(alice, "wifi")
	assert.Equal(t, enroll.CodeForbidden, enroll.AsError(err).Code, "refused before a link is handed out")
	assert.Equal(t, enroll.NextTryLater, enroll.AsError(err).Next)
	b.enroll(t, bob, "vpn")
}
