//go:build e2e

package e2e

import (
	"encoding/json"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"crypto/x509"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRenewalKeepsASmartCardsKeyThroughTheServer: a certificate of the
// user's own key (OpenSSL here, a smart card in life) is renewed with a
// CSR for the same key through `/cert renew`; the renewal takes the old
// certificate's place in the profile's limit of one, and the old one is
// revoked as superseded and put on the CRL.
func TestRenewalKeepsASmartCardsKeyThroughTheServer(t *testing.T) {
	requireBed(t)
	catalog := `{"profiles": [{"name": "default"},
		{"name": "card", "limits": {"active": 1}, "renewal": {"revoke_replaced": true}}]}`
	require.NoError(t, withPluginSettings(t, func(s map[string]any) { s["connectorsandprofiles"] = catalog }))
	u := newTestUser(t, "renew")
	waitForProfiles(t, u, "default", "card")

	dir := t.TempDir()
	csrPEM := opensslCSR(t, dir, u.name())

	first := pluginJSON(t, "/api/v1/csr", u.Token(), map[string]string{"csr": string(csrPEM), "profile": "card"})
	require.Equal(t, http.StatusCreated, first.status, first.String())
	var old signedAnswer
	require.NoError(t, json.Unmarshal([]byte(first.body), &old))

	full := u.runCommand(t, "/cert csr card")
	assert.Contains(t, full.Message, "the most it allows", "the one place is taken")

	reply := u.runCommand(t, "/cert renew "+old.Serial)
	assert.Contains(t, reply.Message, "which is revoked as soon as the new one is issued")
	link := csrLinkPattern.FindString(reply.Message)
	require.NotEmpty(t, link, reply.Message)
	parsed, err := url.Parse(link)
	require.NoError(t, err)
	signed := pluginMultipart(t, "/csr", u.Token(), map[string]string{"token": parsed.Query().Get("token"), "csr": string(csrPEM)}, nil)
	require.Equal(t, http.StatusCreated, signed.status, signed.String())
	var renewed signedAnswer
	require.NoError(t, json.Unmarshal([]byte(signed.body), &renewed))
	require.NotEqual(t, old.Serial, renewed.Serial)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "renewed.pem"), []byte(renewed.CertificatePEM), 0o600))
	keyPub := runTool(t, dir, "openssl", "pkey", "-in", "key.pem", "-pubout")
	certPub := runTool(t, dir, "openssl", "x509", "-in", "renewed.pem", "-noout", "-pubkey")
	assert.Equal(t, keyPub, certPub, "the renewal certifies the same key")

	list := pluginRequest(t, http.MethodGet, "/api/v1/certificates", nil, u.Token(), "application/json")
	require.Equal(t, http.StatusOK, list.status, list.String())
	var views []struct {
		Serial           string `json:"serial"`
		State            string `json:"state"`
		RevocationReason string `json:"revocation_reason"`
		Renews           string `json:"renews"`
	}
	require.NoError(t, json.Unmarshal([]byte(list.body), &views))
	states := map[string]string{}
	for _, v := range views {
		states[v.Serial] = v.State + " " + v.RevocationReason + " " + v.Renews
	}
	assert.Equal(t, "revoked superseded ", states[old.Serial])
	assert.Equal(t, "issued  "+old.Serial, states[renewed.Serial])

	crlReply := pluginRequest(t, http.MethodGet, "/crl/builtin.crl", nil, "", "")
	require.Equal(t, http.StatusOK, crlReply.status)
	crl, err := x509.ParseRevocationList([]byte(crlReply.body))
	require.NoError(t, err)
	want, ok := new(big.Int).SetString(old.Serial, 16)
	require.True(t, ok)
	listed := false
	for _, e := range crl.RevokedCertificateEntries {
		listed = listed || e.SerialNumber.Cmp(want) == 0
	}
	assert.True(t, listed, "the replaced certificate is on the CRL")

	again := u.runCommand(t, "/cert renew "+old.Serial)
	assert.True(t, strings.Contains(again.Message, "the most it allows"), "the renewal holds the place now: %s", again.Message)
}
