package connector_test

import (
	"crypto"
	"crypto/x509"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ocsp"

	"github.com/clientcerts/mattermost-plugin-certs/server/clocktest"
	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

// ocspRequestFor is a relying party's request about serial of issuer.
func ocspRequestFor(t *testing.T, issuer *x509.Certificate, serial int64, hash crypto.Hash) *ocsp.Request {
	t.Helper()
	der, err := ocsp.CreateRequest(&x509.Certificate{SerialNumber: big.NewInt(serial)}, issuer, &ocsp.RequestOptions{Hash: hash})
	require.NoError(t, err)
	req, err := ocsp.ParseRequest(der)
	require.NoError(t, err)
	return req
}

// signOCSP has b answer status about serial, and checks the answer as a
// relying party does (x/crypto/ocsp against the issuing CA), and that its
// responder certificate is valid at every time the answer holds.
func signOCSP(t *testing.T, b *connector.Builtin, issuer *x509.Certificate, serial int64, answer pki.OCSPAnswer) (*pki.SignedOCSP, *ocsp.Response) {
	t.Helper()
	answer.Serial = big.NewInt(serial)
	signed, err := b.SignOCSP(answer, ocspRequestFor(t, issuer, serial, crypto.SHA1))
	require.NoError(t, err)
	resp := checkOCSP(t, signed, issuer)
	require.Equal(t, answer.Status, resp.Status)
	require.Zero(t, answer.Serial.Cmp(resp.SerialNumber))
	return signed, resp
}

func checkOCSP(t *testing.T, signed *pki.SignedOCSP, issuer *x509.Certificate) *ocsp.Response {
	t.Helper()
	resp, err := ocsp.ParseResponse(signed.DER, issuer)
	require.NoError(t, err, "the answer verifies against the issuing CA")
	responder := resp.Certificate
	require.NotNil(t, responder, "delegated: the responder certificate is in the answer")
	require.Contains(t, responder.ExtKeyUsage, x509.ExtKeyUsageOCSPSigning)
	require.True(t, resp.ThisUpdate.Equal(signed.ThisUpdate) && resp.NextUpdate.Equal(signed.NextUpdate), "the times it says it holds")
	require.True(t, resp.NextUpdate.After(resp.ThisUpdate))
	// producedAt follows the server's own clock (x/crypto/ocsp stamps it),
	// not the test's: thisUpdate is the time the answer holds.
	require.False(t, resp.ThisUpdate.Before(responder.NotBefore), "responder %s not yet valid at thisUpdate %s", responder.SerialNumber, resp.ThisUpdate)
	require.True(t, resp.ThisUpdate.Before(responder.NotAfter), "responder %s expired at thisUpdate %s", responder.SerialNumber, resp.ThisUpdate)
	require.False(t, resp.NextUpdate.After(responder.NotAfter), "a cached answer must not outlive its responder")
	return resp
}

// Defect 8: within a week of the CA's end, the responder certificate
// (capped at the CA's NotAfter) always had less than the renewal margin
// left, so every answer made a new key and certificate.
func TestOCSPNearCAExpiryMakesOneResponder(t *testing.T) {
	h := hierarchy(t)
	c := clocktest.New(h.Issuing.NotAfter.Add(-3 * 24 * time.Hour))
	b := connector.NewBuiltin("internal", h.CA(), c.Now)
	responders := map[string]bool{}
	statuses := []pki.OCSPAnswer{
		{Status: pki.OCSPGood},
		{Status: pki.OCSPRevoked, RevokedAt: c.Now().Add(-time.Hour), ReasonCode: ocsp.KeyCompromise},
		{Status: pki.OCSPUnknown},
	}
	for i := range 300 {
		c.Advance(13 * time.Minute) // about 2.7 days in all, up to the CA's last hours
		_, resp := signOCSP(t, b, h.Issuing, int64(i), statuses[i%len(statuses)])
		responders[resp.Certificate.SerialNumber.String()] = true
		require.False(t, resp.NextUpdate.After(h.Issuing.NotAfter))
	}
	assert.Len(t, responders, 1, "one responder certificate for every answer")
}

// Answers signed just before and just after the responder is renewed both
// verify, each by a responder valid when it was signed and until it may be
// cached; over months, a responder is made once per renewal period.
func TestOCSPAnswersAcrossResponderRenewals(t *testing.T) {
	h := hierarchy(t)
	c := clocktest.New(testNow)
	b := connector.NewBuiltin("internal", h.CA(), c.Now)
	good := pki.OCSPAnswer{Status: pki.OCSPGood}

	_, first := signOCSP(t, b, h.Issuing, 1, good)
	renewAt := first.Certificate.NotAfter.Add(-connector.ResponderRenewal)
	c.Set(renewAt.Add(-time.Second))
	_, before := signOCSP(t, b, h.Issuing, 2, good)
	assert.Equal(t, first.Certificate.SerialNumber, before.Certificate.SerialNumber, "not renewed yet")
	c.Set(renewAt.Add(time.Second))
	_, after := signOCSP(t, b, h.Issuing, 3, good)
	assert.NotEqual(t, first.Certificate.SerialNumber, after.Certificate.SerialNumber, "renewed")
	// The answer signed before still verifies, as a cache holds it.
	_, err := ocsp.ParseResponse(mustSign(t, b, h.Issuing, 2, good).DER, h.Issuing)
	require.NoError(t, err)

	// Most of a year of answers, half an hour to two days apart.
	responders := map[string]bool{}
	start := c.Now()
	for i := range 300 {
		c.Advance(time.Duration(i%97+1) * 30 * time.Minute)
		_, resp := signOCSP(t, b, h.Issuing, int64(i%10), good)
		responders[resp.Certificate.SerialNumber.String()] = true
	}
	period := connector.ResponderValidity - connector.ResponderRenewal
	assert.LessOrEqual(t, len(responders), int(c.Now().Sub(start)/period)+1, "one responder a period, over %s", c.Now().Sub(start))
}

func mustSign(t *testing.T, b *connector.Builtin, issuer *x509.Certificate, serial int64, answer pki.OCSPAnswer) *pki.SignedOCSP {
	t.Helper()
	answer.Serial = big.NewInt(serial)
	signed, err := b.SignOCSP(answer, ocspRequestFor(t, issuer, serial, crypto.SHA1))
	require.NoError(t, err)
	return signed
}

// Requests that sign while the clock crosses renewals never get an answer
// from a responder that was not valid at its thisUpdate.
func TestOCSPConcurrentAnswersDuringRenewal(t *testing.T) {
	h := hierarchy(t)
	c := clocktest.New(testNow)
	b := connector.NewBuiltin("internal", h.CA(), c.Now)
	reqs := []*ocsp.Request{ocspRequestFor(t, h.Issuing, 1, crypto.SHA1), ocspRequestFor(t, h.Issuing, 1, crypto.SHA256)}
	var answers sync.Map
	var wg sync.WaitGroup
	done := make(chan struct{})
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				signed, err := b.SignOCSP(pki.OCSPAnswer{Serial: big.NewInt(1), Status: pki.OCSPGood}, reqs[(w+i)%len(reqs)])
				if !assert.NoError(t, err) {
					return
				}
				answers.Store(string(signed.DER), signed)
			}
		}()
	}
	for range 100 {
		c.Advance(12 * time.Hour) // 50 days: two renewals
		time.Sleep(time.Millisecond)
	}
	close(done)
	wg.Wait()
	n := 0
	answers.Range(func(_, v any) bool {
		checkOCSP(t, v.(*pki.SignedOCSP), h.Issuing)
		n++
		return true
	})
	assert.Greater(t, n, 10)
}

// While a certificate's status stays the same, its answer is signed once
// and served again (the same bytes, so the same ETag) for a quarter of its
// validity; a revocation is answered at once.
func TestOCSPAnswersAreReusedUntilTheStatusChanges(t *testing.T) {
	h := hierarchy(t)
	c := clocktest.New(testNow)
	b := connector.NewBuiltin("internal", h.CA(), c.Now)
	good := pki.OCSPAnswer{Status: pki.OCSPGood}

	first := mustSign(t, b, h.Issuing, 1, good)
	c.Advance(connector.OCSPRefresh - time.Second)
	again := mustSign(t, b, h.Issuing, 1, good)
	assert.Equal(t, first.DER, again.DER, "the same answer, signed once")

	other, err := b.SignOCSP(pki.OCSPAnswer{Serial: big.NewInt(1), Status: pki.OCSPGood}, ocspRequestFor(t, h.Issuing, 1, crypto.SHA256))
	require.NoError(t, err)
	assert.NotEqual(t, first.DER, other.DER, "a request by SHA-256 gets its CertID back")
	checkOCSP(t, other, h.Issuing)

	revoked := pki.OCSPAnswer{Status: pki.OCSPRevoked, RevokedAt: c.Now(), ReasonCode: ocsp.Superseded}
	signed, resp := signOCSP(t, b, h.Issuing, 1, revoked)
	assert.NotEqual(t, first.DER, signed.DER)
	assert.Equal(t, ocsp.Superseded, resp.RevocationReason)
	assert.True(t, resp.ThisUpdate.Equal(c.Now().Truncate(time.Second)), "signed now, not taken from before")

	c.Advance(connector.OCSPRefresh)
	later := mustSign(t, b, h.Issuing, 1, revoked)
	assert.NotEqual(t, signed.DER, later.DER, "signed again once a quarter of its validity has passed")
	assert.Equal(t, connector.OCSPValidity, later.NextUpdate.Sub(later.ThisUpdate))

	unknown := pki.OCSPAnswer{Status: pki.OCSPUnknown}
	assert.NotEqual(t, mustSign(t, b, h.Issuing, 99, unknown).DER, mustSign(t, b, h.Issuing, 99, unknown).DER,
		"answers about serials nobody issued are not kept")
}

// Connectors rebuilt for a new configuration sign with the responder the
// node already has for the same CA.
func TestOCSPRespondersOutliveTheConnector(t *testing.T) {
	h := hierarchy(t)
	c := clocktest.New(testNow)
	responders := connector.NewOCSPResponders()
	good := pki.OCSPAnswer{Status: pki.OCSPGood}
	_, a := signOCSP(t, connector.NewBuiltin("internal", h.CA(), c.Now).WithOCSPResponders(responders), h.Issuing, 1, good)
	_, b := signOCSP(t, connector.NewBuiltin("internal", h.CA(), c.Now).WithOCSPResponders(responders), h.Issuing, 2, good)
	assert.Equal(t, a.Certificate.SerialNumber, b.Certificate.SerialNumber)
	_, own := signOCSP(t, connector.NewBuiltin("internal", h.CA(), c.Now), h.Issuing, 3, good)
	assert.NotEqual(t, a.Certificate.SerialNumber, own.Certificate.SerialNumber, "without the set, a connector has its own")
}
