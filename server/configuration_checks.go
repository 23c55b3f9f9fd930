package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/config"
	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/openid"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
)

// stepCACheckTimeout bounds the question a settings save asks each step-ca.
const stepCACheckTimeout = 5 * time.Second

// checkStepCAConnectors asks the CA of each step-ca connector of next (its
// catalog) whether its settings are right. A setting a CA shows to be wrong is the
// error, for the save to refuse; a CA that cannot be asked is logged and
// told to the system admins, and the save goes on. Sealed passwords are
// opened with the secret they are sealed under today.
func (p *Plugin) checkStepCAConnectors(current, next *config.Configuration, catalog *profile.Catalog) error {
	secret := current.EncryptionSecret
	if secret == "" {
		secret = next.EncryptionSecret
	}
	unchecked, err := catalog.CheckStepCA(context.Background(), stepCACheckTimeout, func(stored string) (string, error) {
		return p.secrets.OpenIfSealed(secret, stored)
	})
	if err != nil {
		return err
	}
	p.noticeUncheckedConnectors(unchecked)
	return nil
}

// noticeUncheckedConnectors warns in the log and tells the system admins
// that the settings of these connectors were saved without being checked.
func (p *Plugin) noticeUncheckedConnectors(unchecked []profile.Unchecked) {
	if len(unchecked) == 0 {
		return
	}
	lines := make([]string, 0, len(unchecked))
	for _, u := range unchecked {
		p.API.LogWarn("Saved the settings of a step-ca connector that could not be checked", "connector", u.Connector, "error", u.Err.Error())
		lines = append(lines, fmt.Sprintf("- `%s`: %s", u.Connector, connectorReason(u.Err)))
	}
	p.notices.Send("**Client Certificates:** the settings were saved, but these certificate authorities could not be asked whether " +
		"their connector settings are right:\n\n" + strings.Join(lines, "\n") +
		"\n\nWhile they cannot be reached, users cannot get certificates from them. Save the settings again once they answer to have them checked.")
}

// connectorReason is a connector failure in the words it shows users.
func connectorReason(err error) string {
	if ce := connector.AsError(err); ce != nil {
		return ce.Message
	}
	return err.Error()
}

// oidcCheckTimeout bounds the question a settings save asks the identity
// provider.
const oidcCheckTimeout = 5 * time.Second

// checkOIDCProvider asks the identity provider next names whether the
// portal's settings can work (its discovery document, PKCE, the fields),
// when they changed; the error names the setting at fault.
func (p *Plugin) checkOIDCProvider(current, next *config.Configuration) error {
	if !next.OIDCEnabled() || (next.OIDCIssuer == current.OIDCIssuer && next.OIDCClientID == current.OIDCClientID &&
		next.OIDCScopes == current.OIDCScopes && next.OIDCAllowedDomains == current.OIDCAllowedDomains) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), oidcCheckTimeout)
	defer cancel()
	err := openid.Check(ctx, &http.Client{Timeout: oidcCheckTimeout}, oidcSettingsOf(next, p.current.Site(), ""))
	var bad *openid.SettingsError
	if errors.As(err, &bad) {
		return fmt.Errorf("Portal: OpenID Connect %s: %s", oidcSettingNames[bad.Field], bad.Message)
	}
	return err
}

// oidcSettingNames name the fields of openid.Settings as the System
// Console does.
var oidcSettingNames = map[string]string{"Issuer": "issuer URL", "ClientID": "client id", "RedirectURL": "redirect URI (from the Site URL)",
	"Scopes": "extra scopes", "AllowedDomains": "allowed email domains"}
