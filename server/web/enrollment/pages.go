package enrollment

import (
	"embed"
	"html/template"

	"github.com/clientcerts/mattermost-plugin-certs/server/config"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

// templateFiles are the door's pages, which the kit's layout frames.
//
//go:embed templates/*.html
var templateFiles embed.FS

// pageNext words, on the door's pages, the steps refusals leave; a step
// with no words here is told in the core's (its Hint). The pages are
// opened from Mattermost, so they point back there.
var pageNext = map[enroll.Next]string{
	enroll.NextNewLink:     "Run /cert download (or /cert csr) in Mattermost to get a new link.",
	enroll.NextUseCSR:      "Run /cert csr in Mattermost to upload a request for your device's key.",
	enroll.NextAskApproval: "Run /cert download in Mattermost to ask for one.",
	enroll.NextSeeRequests: "Run /cert list in Mattermost to see your requests.",
	enroll.NextFreeASlot:   "Revoke one you no longer use (/cert revoke <serial> superseded in Mattermost), then ask again.",
	enroll.NextTryAgain:    "Your link still works: try again in a minute, and contact your administrator if it keeps failing.",
}

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
