//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

// What a relying party sees of revocations: every one on the list and in
// OCSP, on every server of a cluster; a compromised key refused for good;
// a certificate of our CA on our list whoever registered it; a limit that
// renewals keep.

// postJSONAt sends body as JSON to /plugins/certs<path> on the server at
// base, as bearer; for goroutines, so it returns its error.
func postJSONAt(base, path, bearer string, body any) (pluginReply, error) {
	data, err := json.Marshal(body)
	if err != nil {
		return pluginReply{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/plugins/"+pluginID+path, bytes.NewReader(data))
	if err != nil {
		return pluginReply{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := pluginClient.Do(req)
	if err != nil {
		return pluginReply{}, err
	}
	defer resp.Body.Close()
	content, err := io.ReadAll(resp.Body)
	return pluginReply{status: resp.StatusCode, header: resp.Header, body: string(content)}, err
}

// revocationFiles writes the built-in CA's chain and issuing CA for
// OpenSSL into dir.
func revocationFiles(t *testing.T, dir string) {
	t.Helper()
	chainPEM := pluginRequest(t, http.MethodGet, "/ca.pem", nil, "", "").body
	block, _ := pem.Decode([]byte(chainPEM))
	require.NotNil(t, block)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "chain.pem"), []byte(chainPEM), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "issuing.pem"), pem.EncodeToMemory(block), 0o600))
}

// crlTextAt fetches a CRL from the server at base and returns OpenSSL's
// reading of it, with serials in upper case.
func crlTextAt(t *testing.T, dir, base, path string) string {
	t.Helper()
	reply, err := doPluginRequestAt(base, http.MethodGet, path, nil, "", "")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, reply.status, reply.String())
	file := filepath.Join(dir, fmt.Sprintf("crl-%d.der", time.Now().UnixNano()))
	require.NoError(t, os.WriteFile(file, []byte(reply.body), 0o600))
	runTool(t, dir, "openssl", "crl", "-inform", "DER", "-in", file, "-CAfile", "chain.pem", "-noout")
	return strings.ToUpper(runTool(t, dir, "openssl", "crl", "-inform", "DER", "-in", file, "-noout", "-text"))
}

// ocspStatuses asks OpenSSL to ask the responder about each serial (one
// certificate a request, as RFC 5019 has clients do) and returns the
// status it read for each, its answer verified against the chain.
func ocspStatuses(t *testing.T, dir, responder string, serials []string) map[string]string {
	t.Helper()
	statuses := map[string]string{}
	for _, serial := range serials {
		out := runTool(t, dir, "openssl", "ocsp", "-issuer", "issuing.pem", "-CAfile", "chain.pem", "-url", responder, "-serial", "0x"+serial)
		require.Contains(t, out, "Response verify OK", out)
		for _, line := range strings.Split(out, "\n") {
			if status, ok := strings.CutPrefix(strings.TrimSpace(line), "0x"+serial+": "); ok {
				statuses[serial] = status
			}
		}
	}
	return statuses
}

// listedIn reports whether OpenSSL's text of a CRL names serial, with
// reason in the line after it when reason is set. OpenSSL writes a serial
// by its bytes: an odd number of hex digits gets a leading zero.
func listedIn(text, serial, reason string) bool {
	if len(serial)%2 == 1 {
		serial = "0" + serial
	}
	i := strings.Index(text, "SERIAL NUMBER: "+strings.ToUpper(serial))
	if i < 0 {
		return false
	}
	if reason == "" {
		return true
	}
	rest := text[i:]
	if next := strings.Index(rest[1:], "SERIAL NUMBER:"); next > 0 {
		rest = rest[:next+1]
	}
	return strings.Contains(rest, strings.ToUpper(reason))
}

// TestRevocationsAtOnceOnTwoServersAreAllListed: users and an admin revoke
// forty certificates at once, through two servers on one database. Every
// revocation is on the newest list either server serves, with its reason,
// once the calls have returned, and OCSP answers revoked for every one.
// On a list read before its number was claimed, racing revocations fell
// off.
func TestRevocationsAtOnceOnTwoServersAreAllListed(t *testing.T) {
	requireBed(t)
	require.NoError(t, withPluginSettings(t, func(s map[string]any) { s["connectorsandprofiles"] = "" }))
	second := startSecondServer(t)
	servers := []string{bed.mm.URL, second.URL}
	users := []*testUser{newTestUser(t, "rva"), newTestUser(t, "rvb"), newTestUser(t, "rvc"), newTestUser(t, "rvd")}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	townSquare, _, err := bed.admin.Client.GetChannelByName(ctx, model.DefaultChannelName, bed.team.Id, "")
	require.NoError(t, err)
	admins := []*model.Client4{model.NewAPIv4Client(bed.mm.URL), model.NewAPIv4Client(second.URL)}
	for _, c := range admins {
		c.SetToken(bed.admin.Client.AuthToken)
	}

	const n = 40
	reasons := []string{"keyCompromise", "affiliationChanged", "superseded", "cessationOfOperation"}
	serials := make([]string, n)
	var leaf *x509.Certificate
	for i := range n {
		var file issuedFile
		file, leaf = users[i%len(users)].issueJSON(t)
		serials[i] = file.serial
	}

	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			server, reason := i%2, reasons[i%len(reasons)]
			if i%5 == 4 {
				// An admin's revocation, by command.
				_, _, err := admins[server].ExecuteCommand(context.Background(), townSquare.Id, "/cert admin revoke "+serials[i]+" "+reason)
				errs[i] = err
				return
			}
			reply, err := postJSONAt(servers[server], "/api/v1/certificates/"+serials[i]+"/revoke", users[i%len(users)].Token(), map[string]string{"reason": reason})
			if err == nil && reply.status != http.StatusOK {
				err = fmt.Errorf("revoke %s: %s", serials[i], reply)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}

	dir := t.TempDir()
	revocationFiles(t, dir)
	crlPath := crlPathOf(t, leaf)
	for _, base := range servers {
		text := crlTextAt(t, dir, base, crlPath)
		for i, serial := range serials {
			assert.True(t, listedIn(text, serial, map[string]string{
				"keyCompromise": "Key Compromise", "affiliationChanged": "Affiliation Changed",
				"superseded": "Superseded", "cessationOfOperation": "Cessation Of Operation",
			}[reasons[i%len(reasons)]]), "%s (%s) on the list %s serves", serial, reasons[i%len(reasons)], base)
		}
	}
	require.Len(t, leaf.OCSPServer, 1)
	statuses := ocspStatuses(t, dir, leaf.OCSPServer[0], serials)
	for _, serial := range serials {
		assert.Equal(t, "revoked", statuses[serial], serial)
	}
}

// TestACompromisedKeyThroughTheServer: a key with two certificates (a
// renewal kept it) is revoked as compromised: both go, both are listed as
// Key Compromise and revoked in OCSP, the owner and the admin are told,
// and the key is refused from then on, by the API and by the upload page.
func TestACompromisedKeyThroughTheServer(t *testing.T) {
	requireBed(t)
	catalog := `{"profiles": [{"name": "default"}, {"name": "card"}]}`
	require.NoError(t, withPluginSettings(t, func(s map[string]any) { s["connectorsandprofiles"] = catalog }))
	u := newTestUser(t, "lost")
	waitForProfiles(t, u, "default", "card")
	dir := t.TempDir()
	csrPEM := opensslCSR(t, dir, u.name())

	reply := pluginJSON(t, "/api/v1/csr", u.Token(), map[string]string{"csr": string(csrPEM), "profile": "card"})
	require.Equal(t, http.StatusCreated, reply.status, reply.String())
	var first signedAnswer
	require.NoError(t, json.Unmarshal([]byte(reply.body), &first))
	renewal := u.runCommand(t, "/cert renew "+first.Serial)
	link := csrLinkPattern.FindString(renewal.Message)
	require.NotEmpty(t, link, renewal.Message)
	parsed, err := url.Parse(link)
	require.NoError(t, err)
	reply = pluginMultipart(t, "/csr", u.Token(), map[string]string{"token": parsed.Query().Get("token"), "csr": string(csrPEM)}, nil)
	require.Equal(t, http.StatusCreated, reply.status, reply.String())
	var second signedAnswer
	require.NoError(t, json.Unmarshal([]byte(reply.body), &second))

	revoked := u.runCommand(t, "/cert revoke "+second.Serial+" keyCompromise")
	assert.Contains(t, revoked.Message, "is now revoked (keyCompromise)")
	assert.Contains(t, revoked.Message, "the other valid certificates with it are revoked too: `"+first.Serial+"`")
	assert.Contains(t, revoked.Message, "never certified again")

	revocationFiles(t, dir)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "first.pem"), []byte(first.CertificatePEM), 0o600))
	leaf := pemCertificates(t, first.CertificatePEM)[0]
	text := crlTextAt(t, dir, bed.mm.URL, crlPathOf(t, leaf))
	assert.True(t, listedIn(text, first.Serial, "Key Compromise"), "the sibling is listed")
	assert.True(t, listedIn(text, second.Serial, "Key Compromise"))
	statuses := ocspStatuses(t, dir, leaf.OCSPServer[0], []string{first.Serial, second.Serial})
	assert.Equal(t, "revoked", statuses[first.Serial])
	assert.Equal(t, "revoked", statuses[second.Serial])

	botDM(t, u.Session, func(p *model.Post) bool {
		return strings.Contains(p.Message, "reported compromised") && strings.Contains(p.Message, first.Serial)
	})
	botDM(t, bed.admin, func(p *model.Post) bool {
		return strings.Contains(p.Message, "because its key was compromised") && strings.Contains(p.Message, second.Serial)
	})

	again := pluginJSON(t, "/api/v1/csr", u.Token(), map[string]string{"csr": string(csrPEM), "profile": "card"})
	assert.Equal(t, http.StatusUnprocessableEntity, again.status, again.String())
	assert.Contains(t, again.body, "compromised")
	upload := u.runCommand(t, "/cert csr card")
	link = csrLinkPattern.FindString(upload.Message)
	require.NotEmpty(t, link, upload.Message)
	parsed, err = url.Parse(link)
	require.NoError(t, err)
	page := pluginMultipart(t, "/csr", u.Token(), map[string]string{"token": parsed.Query().Get("token"), "csr": string(csrPEM)}, nil)
	assert.Equal(t, http.StatusUnprocessableEntity, page.status, page.String())
	assert.Contains(t, page.body, "compromised")
}

// TestASelfRegisteredCertificateOfOurCAIsListedWhenRevoked: a certificate
// an admin's own CA signed outside the plugin, registered by its holder:
// OCSP does not vouch for it (unknown, as before it was registered); once
// its holder revokes it, the CA's list names it and OCSP answers revoked.
// Before, it was revoked in the records only, and registering it made
// OCSP say good.
func TestASelfRegisteredCertificateOfOurCAIsListedWhenRevoked(t *testing.T) {
	requireBed(t)
	h := useCustomCA(t, "E2E Registered Corp", func(s map[string]any) { s["connectorsandprofiles"] = "" })
	u := newTestUser(t, "holder")
	_, issued := u.issueJSON(t) // names the CA's list and responder

	key, err := pki.GenerateKey(pki.KeyECDSAP256)
	require.NoError(t, err)
	elsewhere, err := h.CA().Sign(key.Public(), pki.LeafSpec{CommonName: u.name(), NotBefore: time.Now(), NotAfter: time.Now().Add(24 * time.Hour),
		ExtKeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	require.NoError(t, err)
	serial := pki.FormatSerial(elsewhere.SerialNumber)
	dir := t.TempDir()
	revocationFiles(t, dir)
	responder := issued.OCSPServer[0]
	assert.Equal(t, "unknown", ocspStatuses(t, dir, responder, []string{serial})[serial], "never recorded")

	reply := pluginJSON(t, "/api/v1/certificates/import", u.Token(), map[string]string{"certificate": string(pki.EncodeCertificatesPEM([]*x509.Certificate{elsewhere}))})
	require.Equal(t, http.StatusCreated, reply.status, reply.String())
	assert.Equal(t, "unknown", ocspStatuses(t, dir, responder, []string{serial})[serial], "registered by its holder: nobody vouches for it")

	revoked := u.runCommand(t, "/cert revoke "+serial+" keyCompromise")
	assert.Contains(t, revoked.Message, "is now revoked")
	assert.NotContains(t, revoked.Message, "only this plugin's record changed")
	text := crlTextAt(t, dir, bed.mm.URL, crlPathOf(t, issued))
	assert.True(t, listedIn(text, serial, "Key Compromise"), "our CA signed it: our list names it")
	assert.Equal(t, "revoked", ocspStatuses(t, dir, responder, []string{serial})[serial])
}

// TestChainedRenewalsKeepToOnePlace: under limits.active 1, a renewal and
// the certificate it replaces share the place, and the renewal cannot be
// renewed while both are valid. Before, four renewals left five valid
// certificates.
func TestChainedRenewalsKeepToOnePlace(t *testing.T) {
	requireBed(t)
	catalog := `{"profiles": [{"name": "default"}, {"name": "one", "limits": {"active": 1}}]}`
	require.NoError(t, withPluginSettings(t, func(s map[string]any) { s["connectorsandprofiles"] = catalog }))
	u := newTestUser(t, "chain")
	waitForProfiles(t, u, "default", "one")
	links := pluginJSON(t, "/api/v1/links", u.Token(), map[string]string{"profile": "one"})
	require.Equal(t, http.StatusCreated, links.status, links.String())
	var link struct{ URL string }
	require.NoError(t, json.Unmarshal([]byte(links.body), &link))
	first, _ := u.redeemJSON(t, tokenOf(t, link.URL))

	renew := func(serial string) pluginReply {
		return pluginJSON(t, "/api/v1/certificates/"+serial+"/renew", u.Token(), map[string]string{})
	}
	reply := renew(first.serial)
	require.Equal(t, http.StatusCreated, reply.status, reply.String())
	require.NoError(t, json.Unmarshal([]byte(reply.body), &link))
	second, _ := u.redeemJSON(t, tokenOf(t, link.URL))

	for i := range 4 {
		reply = renew(second.serial)
		assert.Equal(t, http.StatusForbidden, reply.status, "renewal %d of the renewal: %s", i+1, reply)
		assert.Contains(t, reply.body, "the most it allows")
	}
	list := pluginRequest(t, http.MethodGet, "/api/v1/certificates", nil, u.Token(), "application/json")
	var views []struct {
		Serial string `json:"serial"`
		State  string `json:"state"`
	}
	require.NoError(t, json.Unmarshal([]byte(list.body), &views))
	valid := 0
	for _, v := range views {
		if v.State == "issued" {
			valid++
		}
	}
	assert.Equal(t, 2, valid, "the first and its renewal, on one place")
}
