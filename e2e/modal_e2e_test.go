//go:build e2e

package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// The enroll modal, in the host page that runs the plugin's bundle as the
// Mattermost web app does, against the real server: the three ways to a
// certificate, the files checked with OpenSSL and NSS, a key made in the
// browser that never reaches the server, My certificates, and axe-core on
// every step.

// modalButton clicks the button of the open modal whose text is text.
func (b *browserTab) modalButton(text string) {
	b.t.Helper()
	b.waitFor("the button "+text, fmt.Sprintf(`[...document.querySelectorAll('[role="dialog"] button')].some(e => e.textContent.trim() === %q && !e.disabled)`, text))
	evalIn[bool](b, fmt.Sprintf(`(() => { [...document.querySelectorAll('[role="dialog"] button')].find(e => e.textContent.trim() === %q).click(); return true })()`, text))
}

// chooseWay picks one of the modal's three ways.
func (b *browserTab) chooseWay(way string) {
	b.t.Helper()
	b.do("choosing "+way, chromedp.Click(chromedp.CSS(fmt.Sprintf(`[role="dialog"] input[name="way"][value=%q]`, way))))
}

// fillTextarea types text into a React text area at once, as a paste does.
func (b *browserTab) fillTextarea(selector, text string) {
	b.t.Helper()
	evalIn[bool](b, fmt.Sprintf(`(() => {
		const el = document.querySelector(%q);
		Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, "value").set.call(el, %q);
		el.dispatchEvent(new Event("input", {bubbles: true}));
		return true;
	})()`, selector, text))
}

// requireImports checks a PKCS#12 file the modal gave: OpenSSL 3 opens it
// (key and certificate that belong together, the chain inside) and NSS
// imports it.
func requireImports(t *testing.T, p12Path, passphrase, username string) *x509.Certificate {
	t.Helper()
	dir := filepath.Dir(p12Path)
	base := strings.TrimSuffix(filepath.Base(p12Path), ".p12")
	dump := runTool(t, dir, "openssl", "pkcs12", "-in", p12Path, "-passin", "pass:"+passphrase, "-nodes")
	require.Contains(t, dump, "PRIVATE KEY-----")
	certs := pemCertificates(t, dump)
	require.GreaterOrEqual(t, len(certs), 2, "the leaf and its chain are in the file")
	var leaf *x509.Certificate
	for _, c := range certs {
		if !c.IsCA {
			leaf = c
		}
	}
	require.NotNil(t, leaf)
	require.Equal(t, username, leaf.Subject.CommonName)
	keyPublic := runTool(t, dir, "sh", "-c", fmt.Sprintf("openssl pkcs12 -in %q -passin pass:%q -nodes -nocerts | openssl pkey -pubout", p12Path, passphrase))
	leafPublic := runTool(t, dir, "sh", "-c", fmt.Sprintf("openssl pkcs12 -in %q -passin pass:%q -nodes -nokeys -clcerts | openssl x509 -noout -pubkey", p12Path, passphrase))
	require.Equal(t, leafPublic, keyPublic, "the key in the file is the certificate's")

	nssDB, err := os.MkdirTemp(dir, base+"-nssdb-")
	require.NoError(t, err)
	runTool(t, dir, "certutil", "-N", "--empty-password", "-d", "sql:"+nssDB)
	require.Contains(t, runTool(t, dir, "pk12util", "-i", p12Path, "-d", "sql:"+nssDB, "-W", passphrase), "PKCS12 IMPORT SUCCESSFUL")
	return leaf
}

// certificatesOf lists a user's certificates through the API.
func certificatesOf(t *testing.T, user *testUser) map[string]map[string]any {
	t.Helper()
	reply := pluginRequest(t, http.MethodGet, "/api/v1/certificates", nil, user.Token(), "application/json")
	require.Equal(t, http.StatusOK, reply.status, reply.String())
	var list []map[string]any
	require.NoError(t, json.Unmarshal([]byte(reply.body), &list))
	out := map[string]map[string]any{}
	for _, c := range list {
		out[c["serial"].(string)] = c
	}
	return out
}

func TestEnrollModalInTheWebApp(t *testing.T) {
	requireHostPage(t)
	requireBot(t)
	requireNSSTools(t)
	chromium := startBrowser(t)
	user := newTestUser(t, "modal")
	tab := openHostPage(t, chromium, user)
	downloads := tab.collectDownloads(filepath.Join(t.TempDir(), "downloads"))
	shots := t.TempDir()

	// `/cert enroll` typed in the web app opens the modal; nothing is sent.
	tab.do("typing /cert enroll", chromedp.SendKeys(chromedp.CSS("#command"), "/cert enroll\r"))
	tab.waitFor("the enroll modal", `!!document.querySelector('[role="dialog"] input[name="way"][value="server"]')`)
	require.Empty(t, tab.sentRequests(bed.mm.URL+"/api/v4/commands/execute"), "the hook consumed the command")
	require.Equal(t, "Client certificates", accessibleName(t, tab, `[role="dialog"]`))
	runAxe(t, tab, `[role="dialog"]`)
	tab.screenshot(shots, "modal-1-choose.png")

	// Create it for me: the server makes the key.
	started := time.Now()
	tab.modalButton("Create")
	tab.waitFor("the passphrase", `!!document.querySelector('[data-testid="passphrase"]')`)
	runAxe(t, tab, `[role="dialog"]`)
	tab.screenshot(shots, "modal-2-issued.png")
	passphrase := tab.text(`[data-testid="passphrase"]`)
	tab.do("downloading the file", chromedp.Click(chromedp.CSS(`[role="dialog"] .certs-download-p12`)))
	serverFile := downloads.next()
	serverKeyTime := time.Since(started)
	serverLeaf := requireImports(t, serverFile, passphrase, user.name())
	tab.do("downloading the .mobileconfig", chromedp.Click(chromedp.CSS(`[role="dialog"] .certs-download-mobileconfig`)))
	profile, err := os.ReadFile(downloads.next())
	require.NoError(t, err)
	require.Contains(t, string(profile), "<string>com.apple.security.pkcs12</string>")
	p12, err := os.ReadFile(serverFile)
	require.NoError(t, err)
	require.Contains(t, strings.Join(strings.Fields(string(profile)), ""), base64.StdEncoding.EncodeToString(p12), "the profile holds the file")
	require.NotContains(t, string(profile), passphrase, "the passphrase is not in the profile")
	tab.modalButton("Get another")

	// Use my own key: a CSR pasted, its certificate given back as PEM.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tab.chooseWay("csr")
	tab.fillTextarea("#certs-enroll-csr", csrFor(t, key))
	tab.modalButton("Create")
	tab.waitFor("the certificate as PEM", `!!document.querySelector('#certs-result-pem')`)
	csrCerts := pemCertificates(t, evalIn[string](tab, `document.querySelector('#certs-result-pem').value`))
	require.GreaterOrEqual(t, len(csrCerts), 2, "the certificate and its chain")
	require.True(t, key.PublicKey.Equal(csrCerts[0].PublicKey), "the certificate is for the CSR's key")
	runAxe(t, tab, `[role="dialog"]`)
	tab.modalButton("Get another")

	// Make the key in my browser: only a CSR goes to the server.
	tab.chooseWay("browser")
	started = time.Now()
	tab.modalButton("Create")
	tab.waitFor("the browser's passphrase", `!!document.querySelector('[data-testid="passphrase"]')`)
	browserPassphrase := tab.text(`[data-testid="passphrase"]`)
	tab.do("downloading the browser's file", chromedp.Click(chromedp.CSS(`[role="dialog"] .certs-download-p12`)))
	browserFile := downloads.next()
	browserKeyTime := time.Since(started)
	browserLeaf := requireImports(t, browserFile, browserPassphrase, user.name())
	browserP12, err := os.ReadFile(browserFile)
	require.NoError(t, err)

	var bodies [][]byte
	for _, req := range tab.sentRequests(bed.mm.URL) {
		bodies = append(bodies, req.body)
	}
	enrollments := tab.sentRequests(bed.mm.URL + "/plugins/" + pluginID + "/api/v1/enrollments")
	require.Len(t, enrollments, 3, "one enrollment for each way")
	require.Contains(t, string(enrollments[2].body), "CERTIFICATE REQUEST", "the browser sent its CSR")
	for _, body := range bodies {
		require.NotContains(t, string(body), "PRIVATE KEY", "no key in any encoding the page sent")
		require.NotContains(t, string(body), browserPassphrase, "the passphrase stays in the page")
		require.False(t, bytes.Contains(body, browserP12), "the PKCS#12 file stays in the page")
		require.NotContains(t, string(body), base64.StdEncoding.EncodeToString(browserP12))
	}
	records := certificatesOf(t, user)
	require.Equal(t, "csr", records[strings.ToLower(fmt.Sprintf("%x", browserLeaf.SerialNumber))]["origin"], "the record says the key came from a CSR")
	runAxe(t, tab, `[role="dialog"]`)

	// My certificates: three, each with its serial, state and expiry; one revoked
	// as compromised after a confirmation.
	tab.modalButton("My certificates")
	tab.waitFor("the certificates", `document.querySelectorAll('[role="dialog"] tbody tr').length === 3`)
	runAxe(t, tab, `[role="dialog"]`)
	tab.screenshot(shots, "modal-3-certificates.png")
	serial := strings.ToLower(fmt.Sprintf("%x", serverLeaf.SerialNumber))
	short := serial[len(serial)-12:]
	tab.do("opening Revoke", chromedp.Click(chromedp.CSS(fmt.Sprintf(`[role="dialog"] button[aria-label="Revoke certificate …%s"]`, short))))
	tab.do("choosing the reason", chromedp.SetValue(chromedp.CSS(`[role="dialog"] select[id^="certs-revoke-reason-"]`), "keyCompromise"))
	runAxe(t, tab, `[role="dialog"]`)
	tab.modalButton("Revoke certificate")
	tab.waitFor("the revocation", fmt.Sprintf(`[...document.querySelectorAll('[role="dialog"] tbody tr')].some(r => r.textContent.includes(%q) && r.textContent.includes("revoked"))`, short))
	records = certificatesOf(t, user)
	require.Equal(t, "revoked", records[serial]["state"])
	require.Equal(t, "keyCompromise", records[serial]["revocation_reason"])
	tab.requireNoProblems("the enroll modal", 0)

	// A record of how long each way took on this machine, for the README's
	// report (never asserted: a loaded machine is slower).
	t.Logf("from pressing Create to the downloaded file: key made by the server %v, key made in the browser %v (%.2f×)",
		serverKeyTime.Round(time.Millisecond), browserKeyTime.Round(time.Millisecond), float64(browserKeyTime)/float64(serverKeyTime))
}
