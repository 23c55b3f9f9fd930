package main

import (
	"embed"
	"html/template"

	"github.com/clientcerts/mattermost-plugin-certs/server/config"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

//go:embed templates/*.html
var templateFiles embed.FS

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
