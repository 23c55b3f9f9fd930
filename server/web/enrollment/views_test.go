package enrollment_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/web/enrollment"
)

// selfSigned is a certificate to put in a record.
func selfSigned(t *testing.T) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	template := &x509.Certificate{SerialNumber: big.NewInt(42), Subject: pkix.Name{CommonName: "alice"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, template, template, key.Public(), key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return cert
}

// asJSON is v as a client reads it: the names of its fields, and the
// fields.
func asJSON(t *testing.T, v any) (map[string]bool, map[string]any) {
	t.Helper()
	w := httptest.NewRecorder()
	require.NoError(t, json.NewEncoder(w).Encode(v))
	var fields map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &fields))
	names := map[string]bool{}
	for k := range fields {
		names[k] = true
	}
	return names, fields
}

func recordOf(cert *x509.Certificate) *records.Certificate {
	return &records.Certificate{Serial: "2a", Subject: "CN=alice", NotAfter: cert.NotAfter, DER: cert.Raw}
}

// A key the server made and a CSR signed are one shape: the certificate's
// fields always, the file's for a server key, the attestation's for a CSR.
func TestEveryIssuanceIsOneShape(t *testing.T) {
	cert := selfSigned(t)
	common := []string{"serial", "subject", "not_after", "certificate_pem", "certificate_der"}

	issued := &enroll.Outcome{Issued: &enroll.Issued{Record: recordOf(cert), PKCS12: []byte{1, 2, 3}, Passphrase: "correct horse",
		Filename: "alice.p12", CertificatePEM: []byte("PEM")}}
	names, fields := asJSON(t, enrollment.IssuanceOf(issued))
	assert.Equal(t, set(append(common, "filename", "passphrase", "pkcs12")...), names)
	assert.Equal(t, base64.StdEncoding.EncodeToString(cert.Raw), fields["certificate_der"], "DER in base64, as both routes wrote it")
	assert.Equal(t, base64.StdEncoding.EncodeToString([]byte{1, 2, 3}), fields["pkcs12"])
	assert.Equal(t, "CN=alice", fields["subject"])

	issued.Issued.KeyPEM = []byte("KEY")
	issued.EmailedTo = "alice@example.com"
	names, _ = asJSON(t, enrollment.IssuanceOf(issued))
	assert.Equal(t, set(append(common, "filename", "passphrase", "pkcs12", "key_pem", "emailed_to")...), names)
	issued.EmailedTo, issued.EmailError = "", "the mail server is down"
	names, _ = asJSON(t, enrollment.IssuanceOf(issued))
	assert.True(t, names["email_error"])
	assert.False(t, names["emailed_to"])

	signed := &enroll.Outcome{Signed: &enroll.Signed{Record: recordOf(cert), Certificate: cert}}
	names, fields = asJSON(t, enrollment.IssuanceOf(signed))
	assert.Equal(t, set(append(common, "attested")...), names, "a CSR's answer says it was not attested")
	assert.Equal(t, false, fields["attested"])
	assert.Equal(t, base64.StdEncoding.EncodeToString(cert.Raw), fields["certificate_der"])
	assert.Contains(t, fields["certificate_pem"], "-----BEGIN CERTIFICATE-----")

	signed.Signed.Record.Attestation = &records.Attestation{DeviceSerial: "12345678"}
	names, fields = asJSON(t, enrollment.IssuanceOf(signed))
	assert.Equal(t, set(append(common, "attested", "device_serial")...), names)
	assert.Equal(t, true, fields["attested"])
	assert.Equal(t, "12345678", fields["device_serial"])

	// A client written for the CSR route's old answer, whose DER was a
	// string, reads the new one.
	var old struct {
		CertificateDER string `json:"certificate_der"`
		Attested       bool   `json:"attested"`
	}
	body, err := json.Marshal(enrollment.IssuanceOf(signed))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(body, &old))
	der, err := base64.StdEncoding.DecodeString(old.CertificateDER)
	require.NoError(t, err)
	assert.Equal(t, cert.Raw, der)
	assert.True(t, old.Attested)
}

func TestAWaitingRequestIsOneShape(t *testing.T) {
	names, fields := asJSON(t, enrollment.WaitingOf(&records.Request{ID: "r1", State: records.RequestPending, Profile: "vpn", Reason: "not shown"}))
	assert.Equal(t, set("request_id", "state", "profile"), names)
	assert.Equal(t, "r1", fields["request_id"])
	assert.Equal(t, string(records.RequestPending), fields["state"])
	assert.Equal(t, "vpn", fields["profile"])
}

func TestALinkIsOneShape(t *testing.T) {
	expires := time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)
	names, fields := asJSON(t, enrollment.LinkOf(&enroll.Link{Purpose: linktoken.PurposeIssue, Profile: "vpn", ExpiresAt: expires}, "https://x/issue?token=t"))
	assert.Equal(t, set("url", "kind", "expires_at", "profile"), names)
	assert.Equal(t, "download", fields["kind"])
	assert.Equal(t, "2031-03-04T05:06:07Z", fields["expires_at"])

	names, fields = asJSON(t, enrollment.LinkOf(&enroll.Link{Purpose: linktoken.PurposeCSR, Profile: "vpn", Renews: "2a", ExpiresAt: expires}, "https://x/csr?token=t"))
	assert.Equal(t, set("url", "kind", "expires_at", "profile", "renews"), names)
	assert.Equal(t, "csr", fields["kind"])
	assert.Equal(t, "2a", fields["renews"])
}

func TestARequestIsListedWithItsOutcome(t *testing.T) {
	created := time.Date(2031, 3, 4, 5, 6, 7, 891, time.FixedZone("CET", 3600))
	names, fields := asJSON(t, enrollment.RequestOf(&records.Request{ID: "r1", Profile: "vpn", State: records.RequestDenied, CreatedAt: created, Reason: "no"}))
	assert.Equal(t, set("id", "profile", "state", "created_at", "reason"), names)
	assert.Equal(t, "2031-03-04T04:06:07Z", fields["created_at"], "UTC, to the second")
}
