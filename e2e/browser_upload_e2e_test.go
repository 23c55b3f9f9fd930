//go:build e2e

package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// chooseFile puts content into the file input selector as a user choosing
// a file would, and waits until the page has read it into its text field.
func (b *browserTab) chooseFile(selector, field, name string, content []byte) {
	b.t.Helper()
	evalIn[chromedp.Void](b, fmt.Sprintf(`(() => {
		const bytes = Uint8Array.from(atob(%q), c => c.charCodeAt(0));
		const transfer = new DataTransfer();
		transfer.items.add(new File([bytes], %q));
		const input = document.querySelector(%q);
		input.files = transfer.files;
		input.dispatchEvent(new Event("change"));
	})()`, base64.StdEncoding.EncodeToString(content), name, selector))
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if evalIn[string](b, fmt.Sprintf(`document.getElementById(%q).value`, field)) != "" {
			return
		}
		require.True(b.t, time.Now().Before(deadline), "%s: the page did not read the chosen file into #%s", b.name, field)
	}
}

// TestBrowserUploads: in a real browser signed in to Mattermost, the CSR
// page takes a DER file the user chooses and shows the certificate, and the
// import page registers a certificate; both pages run clean under the CSP
// and post Mattermost's CSRF field with the session.
func TestBrowserUploads(t *testing.T) {
	requireChromium(t)
	user := newTestUser(t, "browserup")
	chromium := startBrowser(t)
	tab := openTab(t, chromium.Ctx, "the user's browser", false)
	tab.signIn(user)
	tab.requireNoProblems("signing in", 0)

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "ignored"}}, key)
	require.NoError(t, err)

	link := csrLinkPattern.FindString(user.runCommand(t, "/cert csr").Message)
	require.NotEmpty(t, link)
	require.Equal(t, http.StatusOK, tab.open(link))
	tab.requireNoProblems("CSR page", 0)
	tab.chooseFile("#csr_file", "csr", "request.der", csrDER)
	require.Equal(t, http.StatusOK, tab.load("sending the CSR", chromedp.Click(chromedp.CSS(`form button[type="submit"]`))))
	tab.requireNoProblems("CSR result page", 0)
	require.Equal(t, "Your certificate is ready", tab.text("h1"))
	certs := pemCertificates(t, evalIn[string](tab, `document.getElementById("certificate-pem").textContent`))
	require.NotEmpty(t, certs)
	require.Equal(t, user.name(), certs[0].Subject.CommonName)
	require.True(t, certs[0].PublicKey.(*ecdsa.PublicKey).Equal(&key.PublicKey))

	// A certificate from elsewhere, registered on the import page.
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	require.NoError(t, err)
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: user.name()},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(30 * 24 * time.Hour),
	}, &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Elsewhere CA"}}, key.Public(), key)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, tab.open(bed.mm.URL+"/plugins/"+pluginID+"/import"))
	tab.requireNoProblems("import page", 0)
	evalIn[chromedp.Void](tab, fmt.Sprintf(`document.getElementById("certificate").value = %q`,
		string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))))
	require.Equal(t, http.StatusCreated, tab.load("registering", chromedp.Click(chromedp.CSS(`form button[type="submit"]`))))
	tab.requireNoProblems("import result", http.StatusCreated)
	require.True(t, strings.Contains(tab.text("#registered"), serial.Text(16)), "the page confirms the serial")
}
