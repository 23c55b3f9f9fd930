package pki_test

import (
	"crypto"
	"crypto/x509"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ocsp"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

// The responses SignOCSP makes read as relying parties read them: the
// three statuses, the CertID of the request's hash, the times of the
// caller's clock to the second, signed by the delegated responder whose
// certificate the CA signed.
func TestSignOCSPAsRelyingPartiesReadIt(t *testing.T) {
	h := testHierarchy(t)
	ca := h.CA()
	responder, err := ca.NewOCSPResponder(testNow, 30*24*time.Hour)
	require.NoError(t, err)
	leaf, err := ca.Sign(p256Key(t).Public(), pki.LeafSpec{CommonName: "alice", NotBefore: testNow, NotAfter: testNow.Add(time.Hour)})
	require.NoError(t, err)
	thisUpdate := testNow.Add(90*time.Second + 300*time.Millisecond)
	revokedAt := testNow.Add(time.Minute)
	answers := map[string]pki.OCSPAnswer{
		"good":    {Status: pki.OCSPGood},
		"revoked": {Status: pki.OCSPRevoked, RevokedAt: revokedAt, ReasonCode: ocsp.KeyCompromise},
		"unknown": {Status: pki.OCSPUnknown},
	}
	for name, answer := range answers {
		for _, hash := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
			t.Run(name+"/"+hash.String(), func(t *testing.T) {
				answer.Serial = leaf.SerialNumber
				signed, err := responder.SignOCSP(ca, answer, hash, thisUpdate, thisUpdate.Add(time.Hour))
				require.NoError(t, err)
				resp, err := ocsp.ParseResponseForCert(signed.DER, leaf, h.Issuing)
				require.NoError(t, err)
				assert.Equal(t, answer.Status, resp.Status)
				assert.Equal(t, hash, resp.IssuerHash)
				assert.Zero(t, leaf.SerialNumber.Cmp(resp.SerialNumber))
				assert.Equal(t, responder.Certificate.Raw, resp.Certificate.Raw)
				assert.Equal(t, responder.Certificate.RawSubject, resp.RawResponderName)
				second := thisUpdate.Truncate(time.Second)
				assert.Equal(t, second, resp.ThisUpdate)
				assert.Equal(t, second.Add(time.Hour), resp.NextUpdate)
				assert.Equal(t, second, signed.ThisUpdate, "the times as the answer holds them")
				assert.Equal(t, second.Add(time.Hour), signed.NextUpdate)
				if answer.Status == pki.OCSPRevoked {
					assert.Equal(t, revokedAt, resp.RevokedAt)
					assert.Equal(t, ocsp.KeyCompromise, resp.RevocationReason)
				}
				// The request a client makes with that hash is the one answered.
				reqDER, err := ocsp.CreateRequest(leaf, h.Issuing, &ocsp.RequestOptions{Hash: hash})
				require.NoError(t, err)
				req, err := ocsp.ParseRequest(reqDER)
				require.NoError(t, err)
				assert.True(t, pki.IssuedBy(req, ca))
			})
		}
	}
	_, err = responder.SignOCSP(ca, pki.OCSPAnswer{Serial: big.NewInt(1)}, crypto.MD5, thisUpdate, thisUpdate.Add(time.Hour))
	assert.Error(t, err, "no CertID hash but those of RFC 6960 and RFC 5019")
}

func TestOCSPResponderCertificate(t *testing.T) {
	h := testHierarchy(t)
	responder, err := h.CA().NewOCSPResponder(testNow, 30*24*time.Hour)
	require.NoError(t, err)
	cert := responder.Certificate
	require.NoError(t, cert.CheckSignatureFrom(h.Issuing))
	assert.Equal(t, []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}, cert.ExtKeyUsage)
	assert.True(t, cert.NotBefore.Before(testNow), "backdated for clocks a little behind")
	assert.Equal(t, testNow.Add(30*24*time.Hour), cert.NotAfter)

	nearEnd, err := h.CA().NewOCSPResponder(h.Issuing.NotAfter.Add(-time.Hour), 30*24*time.Hour)
	require.NoError(t, err)
	assert.Equal(t, h.Issuing.NotAfter, nearEnd.Certificate.NotAfter, "never outlives its CA")
}
