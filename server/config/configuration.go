package config

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pkg/errors"

	"github.com/clientcerts/mattermost-plugin-certs/server/attest"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
)

// Bounds of the numeric settings.
const (
	minLinkLifetimeMinutes = 1
	maxLinkLifetimeMinutes = 60
	minValidityDays        = 1
	maxValidityDays        = 3650
	minSecretLength        = 32
	maxPerUserPerDay       = 10000
)

// Configuration is the plugin's settings as the System Console saves them.
// A value is never modified after it is published: changes build a new one.
type Configuration struct {
	LinkLifetimeMinutes     FlexInt `json:"LinkLifetimeMinutes"`
	CertificateValidityDays FlexInt `json:"CertificateValidityDays"`
	KeyType                 string  `json:"KeyType"`
	PKCS12Format            string  `json:"PKCS12Format"`
	CACertificatePEM        string  `json:"CACertificatePEM"`
	CAPrivateKeyPEM         string  `json:"CAPrivateKeyPEM"`
	LinkSigningSecret       string  `json:"LinkSigningSecret"`
	EncryptionSecret        string  `json:"EncryptionSecret"`
	// ConnectorsAndProfiles is the JSON catalog of CA connectors and
	// certificate profiles; empty means the built-in CA and one profile.
	ConnectorsAndProfiles string `json:"ConnectorsAndProfiles"`
	// EmailNotifications also mails users about their requests.
	EmailNotifications bool `json:"EmailNotifications"`
	// ReminderDays are the days before expiry owners are reminded, e.g.
	// "30,7,1"; empty sends none.
	ReminderDays *string `json:"ReminderDays"`
	// RevocationBaseURL is where certificates say their CRL and OCSP
	// responder are, instead of the Site URL (an http:// one, for clients
	// that fetch them only over plain HTTP).
	RevocationBaseURL string `json:"RevocationBaseURL"`
	// CertificatesPerUserPerDay bounds what one person is issued in 24
	// hours across every profile; 0 is no bound.
	CertificatesPerUserPerDay FlexInt `json:"CertificatesPerUserPerDay"`
	// OnDeactivation is what happens to a deactivated user's
	// certificates: "revoke", "notify" (the admins) or "off".
	OnDeactivation string `json:"OnDeactivation"`
	// AttestationRoots are the PEM roots hardware key attestations must
	// chain to (e.g. the Yubico PIV attestation CA).
	AttestationRoots string `json:"AttestationRoots"`
	// EmailDelivery: "off", "allowed" (users may ask for the PKCS#12 by
	// email) or "default" (asked for unless the user unticks it).
	EmailDelivery string `json:"EmailDelivery"`
	// SMTP* override the server's SMTP settings for certificate emails;
	// empty SMTPServer means Mattermost's own. SMTPPassword is sealed into
	// the KV store on save.
	SMTPServer             string  `json:"SMTPServer"`
	SMTPPort               FlexInt `json:"SMTPPort"`
	SMTPConnectionSecurity string  `json:"SMTPConnectionSecurity"`
	SMTPUsername           string  `json:"SMTPUsername"`
	SMTPPassword           string  `json:"SMTPPassword"`
	SMTPFrom               string  `json:"SMTPFrom"`

	// PortalLocalAccounts lets local accounts sign in to the portal.
	PortalLocalAccounts bool `json:"PortalLocalAccounts"`
	// PortalSecondFactor is off, optional or required, for local accounts.
	PortalSecondFactor string `json:"PortalSecondFactor"`

	// OpenID Connect sign-in to the portal; an empty issuer turns it off.
	// OIDCClientSecret is sealed into the KV store on save, like
	// SMTPPassword. Scopes are space-separated, domains comma-separated.
	OIDCIssuer         string `json:"OIDCIssuer"`
	OIDCClientID       string `json:"OIDCClientID"`
	OIDCClientSecret   string `json:"OIDCClientSecret"`
	OIDCScopes         string `json:"OIDCScopes"`
	OIDCUsernameClaim  string `json:"OIDCUsernameClaim"`
	OIDCEmailClaim     string `json:"OIDCEmailClaim"`
	OIDCAllowedDomains string `json:"OIDCAllowedDomains"`
	OIDCGroupsClaim    string `json:"OIDCGroupsClaim"`
	OIDCRequiredGroup  string `json:"OIDCRequiredGroup"`
	OIDCButtonLabel    string `json:"OIDCButtonLabel"`
}

// Email delivery settings.
const (
	EmailDeliveryOff     = "off"
	EmailDeliveryAllowed = "allowed"
	EmailDeliveryDefault = "default"
)

// Clone returns a copy that can be changed without touching the original.
func (c *Configuration) Clone() *Configuration {
	clone := *c
	return &clone
}

// SetDefaults fills settings left empty, as the System Console may leave
// them when the plugin is installed without its settings page being saved.
func (c *Configuration) SetDefaults() {
	if c.LinkLifetimeMinutes == 0 {
		c.LinkLifetimeMinutes = 5
	}
	if c.CertificateValidityDays == 0 {
		c.CertificateValidityDays = 365
	}
	if c.KeyType == "" {
		c.KeyType = string(pki.KeyECDSAP256)
	}
	if c.PKCS12Format == "" {
		c.PKCS12Format = string(pki.PKCS12Compatible)
	}
	if c.EmailDelivery == "" {
		c.EmailDelivery = EmailDeliveryAllowed
	}
	if c.OnDeactivation == "" {
		c.OnDeactivation = OnDeactivationRevoke
	}
	if c.PortalSecondFactor == "" {
		c.PortalSecondFactor = SecondFactorOptional
	}
	if c.OIDCButtonLabel == "" {
		c.OIDCButtonLabel = "Sign in with single sign-on"
	}
	if c.ReminderDays == nil {
		defaults := "30,7,1"
		c.ReminderDays = &defaults
	}
}

// What happens to a deactivated user's certificates.
const (
	OnDeactivationRevoke = "revoke"
	OnDeactivationNotify = "notify"
	OnDeactivationOff    = "off"
)

// Whether local accounts of the portal use a second factor.
const (
	SecondFactorOff      = "off"
	SecondFactorOptional = "optional"
	SecondFactorRequired = "required"
)

// IsValid checks every setting and names the first one that is wrong, in
// words an admin can act on.
func (c *Configuration) IsValid() error {
	if c.LinkLifetimeMinutes < minLinkLifetimeMinutes || c.LinkLifetimeMinutes > maxLinkLifetimeMinutes {
		return fmt.Errorf("Link lifetime must be between %d and %d minutes (got %d)", minLinkLifetimeMinutes, maxLinkLifetimeMinutes, c.LinkLifetimeMinutes)
	}
	if c.CertificateValidityDays < minValidityDays || c.CertificateValidityDays > maxValidityDays {
		return fmt.Errorf("Certificate validity must be between %d and %d days (got %d)", minValidityDays, maxValidityDays, c.CertificateValidityDays)
	}
	if _, err := pki.ParseKeyType(c.KeyType); err != nil {
		return fmt.Errorf("Key type: %w", err)
	}
	if _, err := pki.ParsePKCS12Format(c.PKCS12Format); err != nil {
		return fmt.Errorf("PKCS#12 format: %w", err)
	}
	if c.LinkSigningSecret != "" && len(c.LinkSigningSecret) < minSecretLength {
		return fmt.Errorf("Link signing secret must be at least %d characters; use Regenerate", minSecretLength)
	}
	if c.EncryptionSecret != "" && len(c.EncryptionSecret) < minSecretLength {
		return fmt.Errorf("Encryption secret must be at least %d characters; use Regenerate", minSecretLength)
	}
	if err := c.checkCustomCA(time.Now()); err != nil {
		return err
	}
	if err := c.checkEmailDelivery(); err != nil {
		return err
	}
	if _, err := c.ReminderDayList(); err != nil {
		return err
	}
	if err := c.checkRevocationBaseURL(); err != nil {
		return err
	}
	if c.CertificatesPerUserPerDay < 0 || c.CertificatesPerUserPerDay > maxPerUserPerDay {
		return fmt.Errorf("Certificates per user per day must be between 0 (no limit) and %d (got %d)", maxPerUserPerDay, c.CertificatesPerUserPerDay)
	}
	switch c.OnDeactivation {
	case OnDeactivationRevoke, OnDeactivationNotify, OnDeactivationOff:
	default:
		return fmt.Errorf(`When a user is deactivated must be "revoke", "notify" or "off" (got %q)`, c.OnDeactivation)
	}
	switch c.PortalSecondFactor {
	case SecondFactorOff, SecondFactorOptional, SecondFactorRequired:
	default:
		return fmt.Errorf(`Portal: second factor must be "off", "optional" or "required" (got %q)`, c.PortalSecondFactor)
	}
	if c.OIDCEnabled() && c.OIDCClientID == "" {
		return errors.New("Portal: OpenID Connect client id is needed with an issuer URL")
	}
	if _, err := c.ParseAttestationRoots(); err != nil {
		return err
	}
	if _, err := c.CheckCatalog(); err != nil {
		return err
	}
	return nil
}

// CheckCatalog parses the connectors and profiles and checks them against
// the other settings, as a save does: a profile that verifies hardware
// attestations needs trusted attestation roots. Its error is the first
// mistake; profile.ProblemsOf lists them all, each with its field's path
// in the JSON.
func (c *Configuration) CheckCatalog() (*profile.Catalog, error) {
	catalog, err := c.Catalog()
	if err != nil {
		return nil, err
	}
	roots, err := c.ParseAttestationRoots()
	if err != nil {
		return nil, err
	}
	if roots.Len() > 0 {
		return catalog, nil
	}
	var problems profile.Problems
	for _, i := range catalog.ProfilesVerifyingAttestations() {
		problems = append(problems, &profile.FieldError{Path: fmt.Sprintf("profiles[%d].attestation", i),
			Err: fmt.Errorf("Trusted attestation roots: profile %q verifies hardware attestations, so paste at least one attestation root certificate (e.g. the Yubico PIV attestation CA)", catalog.Profiles[i].Name)})
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return catalog, nil
}

// ParseAttestationRoots parses the trusted attestation roots.
func (c *Configuration) ParseAttestationRoots() (*attest.Roots, error) {
	roots, err := attest.ParseRoots(c.AttestationRoots)
	if err != nil {
		return nil, fmt.Errorf("Trusted attestation roots: %w", err)
	}
	return roots, nil
}

// Catalog parses the connectors and profiles; the simple settings supply the
// defaults.
func (c *Configuration) Catalog() (*profile.Catalog, error) {
	keyType, err := pki.ParseKeyType(c.KeyType)
	if err != nil {
		return nil, fmt.Errorf("Key type: %w", err)
	}
	return profile.Parse(c.ConnectorsAndProfiles, profile.Defaults{ValidityDays: int(c.CertificateValidityDays), KeyType: keyType})
}

// SealedKeyPrefix marks a CA private key that the plugin moved out of the
// server configuration into the KV store, encrypted. What follows it is the
// fingerprint of the CA certificate the key belongs to.
const SealedKeyPrefix = "sealed:"

// UsesCustomCA reports whether the admin supplied a CA instead of the
// built-in one.
func (c *Configuration) UsesCustomCA() bool {
	return strings.TrimSpace(c.CACertificatePEM) != "" || strings.TrimSpace(c.CAPrivateKeyPEM) != ""
}

// CustomKeyIsSealed reports whether the custom CA key lives sealed in the KV
// store rather than in the settings.
func (c *Configuration) CustomKeyIsSealed() bool {
	return strings.HasPrefix(c.CAPrivateKeyPEM, SealedKeyPrefix)
}

// CustomCAChain parses the configured CA chain and checks it against the
// key setting as far as the configuration alone allows.
func (c *Configuration) CustomCAChain() ([]*x509.Certificate, error) {
	if strings.TrimSpace(c.CACertificatePEM) == "" {
		return nil, errors.New("CA certificate chain: paste the CA certificate that belongs to the private key")
	}
	if strings.TrimSpace(c.CAPrivateKeyPEM) == "" {
		return nil, errors.New("CA private key: paste the private key of the CA certificate")
	}
	chain, err := pki.ParseCertificatesPEM([]byte(c.CACertificatePEM))
	if err != nil {
		return nil, fmt.Errorf("CA certificate chain: %w", err)
	}
	if c.CustomKeyIsSealed() && strings.TrimPrefix(c.CAPrivateKeyPEM, SealedKeyPrefix) != pki.Fingerprint(chain[0]) {
		return nil, errors.New("CA private key: the stored key belongs to another CA certificate; paste the key of this certificate")
	}
	return chain, nil
}

// CustomCA parses the configured CA when its key is in the settings in
// clear, or returns nil when no custom CA is configured.
func (c *Configuration) CustomCA(now time.Time) (*pki.CA, error) {
	if !c.UsesCustomCA() {
		return nil, nil
	}
	chain, err := c.CustomCAChain()
	if err != nil {
		return nil, err
	}
	if c.CustomKeyIsSealed() {
		return nil, errors.New("CA private key: the key is sealed in the KV store")
	}
	key, err := pki.ParsePrivateKeyPEM([]byte(c.CAPrivateKeyPEM))
	if err != nil {
		return nil, fmt.Errorf("CA private key: %w", err)
	}
	ca, err := pki.NewCA(chain, key, now)
	if err != nil {
		return nil, fmt.Errorf("CA certificate and key: %w", err)
	}
	return ca, nil
}

// checkCustomCA validates the custom CA settings; a sealed key is checked
// when it is loaded.
func (c *Configuration) checkCustomCA(now time.Time) error {
	if !c.UsesCustomCA() {
		return nil
	}
	if c.CustomKeyIsSealed() {
		_, err := c.CustomCAChain()
		return err
	}
	_, err := c.CustomCA(now)
	return err
}

func (c *Configuration) LinkLifetime() time.Duration {
	return time.Duration(c.LinkLifetimeMinutes) * time.Minute
}

// FromMap decodes the plugin's section of the server config the
// way the server's LoadPluginConfiguration does (keys are matched without
// regard to case), then fills defaults.
func FromMap(settings map[string]any) (*Configuration, error) {
	raw, err := json.Marshal(settings)
	if err != nil {
		return nil, err
	}
	c := &Configuration{}
	if err := json.Unmarshal(raw, c); err != nil {
		return nil, fmt.Errorf("settings cannot be read: %w", err)
	}
	c.SetDefaults()
	return c, nil
}

// WithSecretsFrom returns c with secret settings that the System Console sent
// back masked (model.FakeSetting) replaced by their current values.
func (c *Configuration) WithSecretsFrom(current *Configuration) *Configuration {
	out := c.Clone()
	unmask := func(v *string, cur string) {
		if *v == model.FakeSetting {
			*v = cur
		}
	}
	unmask(&out.CAPrivateKeyPEM, current.CAPrivateKeyPEM)
	unmask(&out.LinkSigningSecret, current.LinkSigningSecret)
	unmask(&out.EncryptionSecret, current.EncryptionSecret)
	unmask(&out.SMTPPassword, current.SMTPPassword)
	unmask(&out.OIDCClientSecret, current.OIDCClientSecret)
	return out
}

// FlexInt reads a number setting whether the server stored it as a JSON
// number or as a string (older System Console versions save strings).
type FlexInt int

func (f *FlexInt) UnmarshalJSON(data []byte) error {
	s := strings.Trim(strings.TrimSpace(string(data)), `"`)
	if s == "" || s == "null" {
		*f = 0
		return nil
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n != float64(int(n)) {
		return fmt.Errorf("%s is not a whole number", string(data))
	}
	*f = FlexInt(n)
	return nil
}

// ReminderDayList are the days before expiry owners are reminded, largest
// first.
func (c *Configuration) ReminderDayList() ([]int, error) {
	if c.ReminderDays == nil {
		return nil, nil
	}
	var days []int
	for _, field := range strings.Split(*c.ReminderDays, ",") {
		field = strings.TrimSpace(field)
		if field == "" {
			continue
		}
		d, err := strconv.Atoi(field)
		if err != nil || d < 1 || d > 365 {
			return nil, fmt.Errorf("Expiry reminders: %q is not a number of days from 1 to 365", field)
		}
		if !slices.Contains(days, d) {
			days = append(days, d)
		}
	}
	slices.Sort(days)
	slices.Reverse(days)
	return days, nil
}

// checkRevocationBaseURL refuses a base that relying parties could not
// fetch from: it must be an absolute http(s) URL with nothing after the
// path.
func (c *Configuration) checkRevocationBaseURL() error {
	base := strings.TrimSpace(c.RevocationBaseURL)
	if base == "" {
		return nil
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("Revocation URL base must be an http:// or https:// URL with a host and no query, such as http://pki.example.com (got %q)", c.RevocationBaseURL)
	}
	return nil
}

// RevocationBase is the base of the URLs certificates carry for their CRL
// and OCSP responder: the admin's, else the Site URL; "" writes none.
func (c *Configuration) RevocationBase(siteURL string) string {
	if base := strings.TrimSpace(c.RevocationBaseURL); base != "" {
		return strings.TrimRight(base, "/")
	}
	return siteURL
}
