package openid

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
)

// Check is the save-time check of a provider's settings: each field well
// formed, the discovery document reachable with client (nil: a client with
// DefaultTimeout) and naming the same issuer, with the endpoints a sign-in
// needs. Its error is a *SettingsError naming the field at fault.
func Check(ctx context.Context, client *http.Client, s Settings) error {
	s = s.withDefaults()
	if err := s.validate(); err != nil {
		return err
	}
	if client == nil {
		client = defaultClient
	}
	timeout := client.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, client), s.Issuer)
	if err != nil {
		return &SettingsError{Field: "Issuer", Message: discoveryProblem(err, s.Issuer)}
	}
	var metadata struct {
		PKCEMethods []string `json:"code_challenge_methods_supported"`
	}
	if err := provider.Claims(&metadata); err != nil {
		return &SettingsError{Field: "Issuer", Message: "the discovery document could not be read: " + err.Error()}
	}
	if endpoint := provider.Endpoint(); endpoint.AuthURL == "" || endpoint.TokenURL == "" {
		return &SettingsError{Field: "Issuer", Message: "the discovery document names no authorization or token endpoint"}
	}
	// A provider that lists its PKCE methods without S256 would refuse
	// every sign-in; one that lists none may still accept it.
	if len(metadata.PKCEMethods) > 0 && !slices.Contains(metadata.PKCEMethods, "S256") {
		return &SettingsError{Field: "Issuer", Message: "the provider does not support PKCE with S256, which sign-in requires"}
	}
	return nil
}

// discoveryProblem says, for an admin, why the issuer's discovery failed.
func discoveryProblem(err error, issuer string) string {
	var mismatch *oidc.IssuerMismatchError
	switch {
	case errors.As(err, &mismatch):
		return "the provider names its issuer " + mismatch.Discovered + "; use exactly that"
	case isTimeout(err):
		return "the provider did not answer in time: " + err.Error()
	case isTransport(err):
		return "the provider could not be reached: " + err.Error()
	}
	return "no discovery document could be read at " + strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration: " + err.Error()
}

// validate checks the settings' form, without the network.
func (s Settings) validate() error {
	if err := checkURL(s.Issuer); err != nil {
		return &SettingsError{Field: "Issuer", Message: err.Error()}
	}
	if strings.TrimSpace(s.ClientID) == "" {
		return &SettingsError{Field: "ClientID", Message: "the client id the provider gave the portal is required"}
	}
	if err := checkURL(s.RedirectURL); err != nil {
		return &SettingsError{Field: "RedirectURL", Message: err.Error()}
	}
	for _, scope := range s.Scopes {
		if strings.ContainsAny(strings.TrimSpace(scope), " \t\"\\") {
			return &SettingsError{Field: "Scopes", Message: "one scope per entry, without spaces or quotes: " + scope}
		}
	}
	for _, domain := range s.AllowedDomains {
		domain = strings.TrimSpace(domain)
		if domain == "" || strings.ContainsAny(domain, "@ /") || !strings.Contains(domain, ".") && domain != "localhost" {
			return &SettingsError{Field: "AllowedDomains", Message: "not an email domain (write example.com, not @example.com or a URL): " + domain}
		}
	}
	return nil
}

// checkURL accepts an absolute https URL without query or fragment, and
// http only to the machine itself (a provider under test).
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || raw == "" || u.Host == "" {
		return errors.New("an absolute URL such as https://idp.example.com is required")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return errors.New("the URL may have no query or fragment")
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	}
	return errors.New("the URL must use https")
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
