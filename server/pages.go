package main

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"html/template"
	"net/http"

	"github.com/clientcerts/mattermost-plugin-certs/server/config"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

//go:embed templates/*.html
var templateFiles embed.FS

// pageTemplates are parsed once; html/template escapes every value.
var pageTemplates = template.Must(template.ParseFS(templateFiles, "templates/*.html"))

type confirmPage struct {
	// OwnKey: the certificate is for the user's uploaded CSR, not a key
	// the server makes.
	OwnKey      bool
	Username    string
	Profile     string
	Description string
	CommonName  string
	Emails      []string
	KeyType     string
	Validity    int
	Formats     []p12Choice
	Email       emailOption
	Token       string
	ExpiresAt   string
	SubmitLabel string
}

type issuedPage struct {
	Username   string
	Serial     string
	Subject    string
	NotAfter   string
	Passphrase string
	Filename   string
	DataURL    template.URL
	CAURL      string
	// Other formats of the same certificate and key.
	Base       string
	CertPEMURL template.URL
	KeyPEMURL  template.URL
	CertDERURL template.URL
	// EmailedTo is where the file was emailed; EmailError why it was not.
	EmailedTo  string
	EmailError string
}

// emailOption is the "email me the file" box on the confirm page.
type emailOption struct {
	Offered bool
	Checked bool
	Address string
}

// emailChoice offers email delivery when the admin allows it and the user
// has an address; "default" ticks the box.
func emailChoice(c *config.Configuration, user *enroll.Requester) emailOption {
	if c.EmailDelivery == config.EmailDeliveryOff || user.Email == "" {
		return emailOption{}
	}
	return emailOption{Offered: true, Checked: c.EmailDelivery == config.EmailDeliveryDefault, Address: user.Email}
}

type errorPage struct {
	Status  int
	Title   string
	Message string
	Hint    string
}

// pageData is what the layout sees: the page's own data, and the nonce that
// lets exactly our inline style and script run under the CSP.
type pageData struct {
	Nonce string
	Page  any
}

// renderPage writes a full HTML page. It renders to a buffer first so a
// template error never leaves half a page.
func (p *Plugin) renderPage(w http.ResponseWriter, status int, name string, page any) error {
	nonce, err := newNonce()
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := pageTemplates.ExecuteTemplate(&buf, name, pageData{Nonce: nonce, Page: page}); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+nonce+"'; script-src 'nonce-"+nonce+"'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	writeStatus(w, status)
	_, err = w.Write(buf.Bytes())
	return err
}

// renderError writes an error page; if even that fails, plain text.
func (p *Plugin) renderError(w http.ResponseWriter, status int, message, hint string) {
	err := p.renderPage(w, status, "error", errorPage{Status: status, Title: errorTitle(status), Message: message, Hint: hint})
	if err != nil {
		p.API.LogError("Could not render the error page", "error", err.Error())
		http.Error(w, message, status)
	}
}

// errorTitle heads an error page in words, not an HTTP status name.
func errorTitle(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "This link cannot be used"
	case http.StatusForbidden:
		return "Not for this account"
	case http.StatusNotFound:
		return "Not found"
	case http.StatusConflict:
		return "Link already used"
	case http.StatusGone:
		return "Link expired"
	case http.StatusUnprocessableEntity:
		return "The certificate was not created"
	case http.StatusServiceUnavailable:
		return "Please try again shortly"
	}
	if status >= http.StatusInternalServerError {
		return "Something went wrong"
	}
	return http.StatusText(status)
}

func newNonce() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawStdEncoding.EncodeToString(b), nil
}

// p12Choice is one PKCS#12 format offered on the confirm page.
type p12Choice struct {
	Value   string
	Label   string
	Checked bool
}

// p12Choices offers both formats, the admin's default first and selected.
func p12Choices(def pki.PKCS12Format) []p12Choice {
	choices := []p12Choice{
		{Value: string(pki.PKCS12Compatible), Label: "Compatible (3DES): Windows, macOS, iOS, Android, everything"},
		{Value: string(pki.PKCS12Modern), Label: "Modern (AES-256): OpenSSL 3, Firefox, Windows 10+, Java; not every macOS"},
	}
	if def == pki.PKCS12Modern {
		choices[0], choices[1] = choices[1], choices[0]
	}
	choices[0].Checked = true
	return choices
}
