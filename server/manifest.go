// Code generated from plugin.json by build/manifest. DO NOT EDIT.

package main

import (
	"encoding/json"

	"github.com/mattermost/mattermost/server/public/model"
)

// manifest is plugin.json, with the version the build used.
var manifest *model.Manifest

const manifestJSON = `
{
    "id": "certs",
    "name": "Client Certificates",
    "description": "Issues X.509 client certificates (VPN, Wi-Fi/802.1X, mTLS, S/MIME) to your users in seconds, from chat.",
    "homepage_url": "https://github.com/clientcerts/mattermost-plugin-certs",
    "support_url": "https://github.com/clientcerts/mattermost-plugin-certs/issues",
    "icon_path": "assets/icon.svg",
    "version": "0.10.0",
    "min_server_version": "10.10.0",
    "server": {
        "executables": {
            "linux-amd64": "server/dist/plugin-linux-amd64",
            "linux-arm64": "server/dist/plugin-linux-arm64",
            "darwin-amd64": "server/dist/plugin-darwin-amd64",
            "darwin-arm64": "server/dist/plugin-darwin-arm64",
            "windows-amd64": "server/dist/plugin-windows-amd64.exe"
        }
    },
    "webapp": {
        "bundle_path": "webapp/dist/main.js"
    },
    "settings_schema": {
        "header": "Issue X.509 client certificates from chat with \u0060/cert download\u0060. The built-in certificate authority works with no set-up; its chain is served at \u0060/plugins/certs/ca.pem\u0060.",
        "footer": "Secrets are generated on first activation. Changing the encryption secret re-encrypts the stored CA key; changing the link signing secret invalidates links already handed out.",
        "settings": [
            {
                "key": "LinkLifetimeMinutes",
                "display_name": "Link lifetime (minutes):",
                "type": "number",
                "default": 5,
                "help_text": "How long a \u0060/cert download\u0060 link stays valid, from 1 to 60 minutes. Each link works once."
            },
            {
                "key": "CertificateValidityDays",
                "display_name": "Certificate validity (days):",
                "type": "number",
                "default": 365,
                "help_text": "Lifetime of issued certificates, from 1 to 3650 days. A certificate never outlives its CA."
            },
            {
                "key": "KeyType",
                "display_name": "Key type:",
                "type": "dropdown",
                "default": "ecdsa-p256",
                "help_text": "Key generated for users. ECDSA P-256 is fast and widely supported; choose RSA for old VPN or Wi-Fi clients (RSA 4096 takes about a second per certificate).",
                "options": [
                    {
                        "display_name": "ECDSA P-256",
                        "value": "ecdsa-p256"
                    },
                    {
                        "display_name": "ECDSA P-384",
                        "value": "ecdsa-p384"
                    },
                    {
                        "display_name": "RSA 2048",
                        "value": "rsa-2048"
                    },
                    {
                        "display_name": "RSA 3072",
                        "value": "rsa-3072"
                    },
                    {
                        "display_name": "RSA 4096",
                        "value": "rsa-4096"
                    }
                ]
            },
            {
                "key": "PKCS12Format",
                "display_name": "PKCS#12 format:",
                "type": "dropdown",
                "default": "compatible",
                "help_text": "Compatible (3DES) imports everywhere, including macOS, iOS, Android and older Windows. Modern (AES-256) suits OpenSSL 3, Firefox/NSS, Windows 10+ and Java, but some macOS versions refuse it.",
                "options": [
                    {
                        "display_name": "Compatible (3DES)",
                        "value": "compatible"
                    },
                    {
                        "display_name": "Modern (AES-256)",
                        "value": "modern"
                    }
                ]
            },
            {
                "key": "CACertificatePEM",
                "display_name": "CA certificate chain (PEM, optional):",
                "type": "longtext",
                "default": "",
                "help_text": "Leave empty to use the built-in CA, generated on first activation. Otherwise paste the signing CA certificate first, followed by its chain up to the root."
            },
            {
                "key": "CAPrivateKeyPEM",
                "display_name": "CA private key (PEM, optional):",
                "type": "longtext",
                "default": "",
                "secret": true,
                "help_text": "The unencrypted private key of the CA certificate above (PKCS#8, PKCS#1 or SEC 1). It is stored encrypted with the encryption secret."
            },
            {
                "key": "ConnectorsAndProfiles",
                "display_name": "Connectors and profiles (JSON, optional):",
                "type": "custom",
                "default": "",
                "help_text": "Leave empty for one profile on the built-in CA, shaped by the settings above. Otherwise a JSON object with \u0060connectors\u0060 (name; type \u0060builtin\u0060, or \u0060stepca\u0060 with stepca {url, root_fingerprint, provisioner, provisioner_password, timeout_seconds}; the password is encrypted on save) and \u0060profiles\u0060 (name, description, connector, validity_days, key_types, ext_key_usages \u0060clientAuth\u0060/\u0060emailProtection\u0060, subject {common_name \u0060username\u0060/\u0060email\u0060, organization, organizational_unit, email_san}, access {teams, system_admins_only}, requires_approval, approvers (usernames; system admins when empty), csr_names \u0060ignore\u0060/\u0060match\u0060 (what happens to the names in an uploaded CSR; always \u0060match\u0060 on step-ca), attestation \u0060ignore\u0060/\u0060verify_if_present\u0060/\u0060require\u0060 (hardware key attestation of uploaded CSRs; \u0060require\u0060 allows CSR uploads only)) and an optional \u0060default_profile\u0060. key_types lists the accepted keys, the one the server generates first (default: every supported type). Users pick a profile with \u0060/cert download <profile>\u0060 or \u0060/cert csr <profile>\u0060; the first profile is the default. Mistakes are refused on save with the profile and field named."
            },
            {
                "key": "EmailNotifications",
                "display_name": "Email notifications:",
                "type": "bool",
                "default": false,
                "help_text": "Also email users when their certificate request waits for approval, is approved, denied or expires (uses the server's SMTP settings). The bot always sends a direct message."
            },
            {
                "key": "RevocationBaseURL",
                "display_name": "Revocation URL base:",
                "type": "text",
                "default": "",
                "help_text": "Where relying parties reach this server's CRLs and OCSP responder, written into every new certificate of the built-in CA as <base>/plugins/certs/crl/… and <base>/plugins/certs/ocsp. Empty means the Site URL. Many Wi-Fi/RADIUS and Windows clients fetch CRLs and OCSP only over plain HTTP: an http:// base is safe, both answers are signed. Certificates already issued keep the URLs they were issued with."
            },
            {
                "key": "ReminderDays",
                "display_name": "Expiry reminders (days before):",
                "type": "text",
                "default": "30,7,1",
                "help_text": "The owner gets a direct message (and an email when email notifications are on) this many days before a certificate expires, each once, with a Renew button that gives a new link for the same profile. Comma-separated; empty turns reminders off."
            },
            {
                "key": "CertificatesPerUserPerDay",
                "display_name": "Certificates per user per day:",
                "type": "number",
                "default": 0,
                "help_text": "The most certificates one person may be issued in 24 hours, whatever the profiles; beyond it they are told to try again tomorrow. 0 means no limit. A profile's own limits (active, per_day) apply as well."
            },
            {
                "key": "OnDeactivation",
                "display_name": "When a user is deactivated:",
                "type": "dropdown",
                "default": "revoke",
                "options": [
                    {
                        "display_name": "Revoke their certificates (reason: affiliation changed) and tell the system admins",
                        "value": "revoke"
                    },
                    {
                        "display_name": "Only tell the system admins",
                        "value": "notify"
                    },
                    {
                        "display_name": "Do nothing",
                        "value": "off"
                    }
                ],
                "help_text": "A deactivated account's certificates still open the VPN and Wi-Fi until they expire, unless they are revoked. The plugin acts when Mattermost deactivates the user, and a daily job catches deactivations made while the plugin was not running."
            },
            {
                "key": "EmailDelivery",
                "display_name": "Email delivery of certificate files:",
                "type": "dropdown",
                "default": "allowed",
                "options": [
                    {
                        "display_name": "Allowed: users may ask for the PKCS#12 file by email",
                        "value": "allowed"
                    },
                    {
                        "display_name": "Default: the file is emailed unless the user unticks the box",
                        "value": "default"
                    },
                    {
                        "display_name": "Off: download only",
                        "value": "off"
                    }
                ],
                "help_text": "The email carries the PKCS#12 file and never its passphrase, which stays on the page or in the command's reply. \u0060/cert download --email\u0060 creates and emails a certificate from chat. Uses the server's SMTP settings (Environment > SMTP) unless the SMTP settings below are filled in."
            },
            {
                "key": "SMTPServer",
                "display_name": "SMTP server for certificate emails (optional):",
                "type": "text",
                "default": "",
                "help_text": "Leave empty to use the server's SMTP settings. When set, the SMTP settings below are used instead."
            },
            {
                "key": "SMTPPort",
                "display_name": "SMTP port:",
                "type": "number",
                "default": 587,
                "help_text": "Usually 587 (STARTTLS) or 465 (TLS)."
            },
            {
                "key": "SMTPConnectionSecurity",
                "display_name": "SMTP connection security:",
                "type": "dropdown",
                "default": "starttls",
                "options": [
                    {
                        "display_name": "STARTTLS (required)",
                        "value": "starttls"
                    },
                    {
                        "display_name": "TLS",
                        "value": "tls"
                    },
                    {
                        "display_name": "None",
                        "value": "none"
                    }
                ],
                "help_text": "Certificates of the SMTP server are always verified."
            },
            {
                "key": "SMTPUsername",
                "display_name": "SMTP username:",
                "type": "text",
                "default": "",
                "help_text": "Leave empty for a server without authentication."
            },
            {
                "key": "SMTPPassword",
                "display_name": "SMTP password:",
                "type": "text",
                "secret": true,
                "default": "",
                "help_text": "Encrypted on save and kept out of the server configuration."
            },
            {
                "key": "SMTPFrom",
                "display_name": "Sender address (optional):",
                "type": "text",
                "default": "",
                "help_text": "The From address of certificate emails; empty means the server's notification address."
            },
            {
                "key": "PortalLocalAccounts",
                "display_name": "Portal: local accounts:",
                "type": "bool",
                "default": false,
                "help_text": "Let people without a Mattermost account sign in to the certificate portal (<Site URL>/plugins/certs/portal/) with a local account. A system admin adds them with \u0060/cert admin local add <username> <email>\u0060 (or the admin API); each gets a single-use link to set their password. Profiles offer themselves to them only with \u0060access.portal\u0060 or \u0060access.local_accounts\u0060."
            },
            {
                "key": "PortalSecondFactor",
                "display_name": "Portal: second factor for local accounts:",
                "type": "dropdown",
                "default": "optional",
                "options": [
                    {
                        "display_name": "Optional: people may add an authenticator app or a passkey",
                        "value": "optional"
                    },
                    {
                        "display_name": "Required: set one up at the first sign-in",
                        "value": "required"
                    },
                    {
                        "display_name": "Off",
                        "value": "off"
                    }
                ],
                "help_text": "A second factor for local accounts: a code from an authenticator app (TOTP) or a passkey."
            },
            {
                "key": "OIDCIssuer",
                "display_name": "Portal: OpenID Connect issuer URL (optional):",
                "type": "text",
                "default": "",
                "help_text": "Lets people sign in to the portal with your identity provider (Okta, Entra ID, Keycloak, Dex, Google…), exactly as its discovery document names it, e.g. https://login.example.com/realms/staff. Register the portal at the provider as a confidential web client with the redirect URI <Site URL>/plugins/certs/portal/oidc/callback. Sign-in uses the authorization code flow with PKCE (S256). Empty turns it off."
            },
            {
                "key": "OIDCClientID",
                "display_name": "Portal: OpenID Connect client id:",
                "type": "text",
                "default": "",
                "help_text": "The client id the provider gave the portal."
            },
            {
                "key": "OIDCClientSecret",
                "display_name": "Portal: OpenID Connect client secret:",
                "type": "text",
                "secret": true,
                "default": "",
                "help_text": "Encrypted on save and kept out of the server configuration."
            },
            {
                "key": "OIDCScopes",
                "display_name": "Portal: extra scopes:",
                "type": "text",
                "default": "",
                "help_text": "Scopes asked for beyond openid, email and profile, separated by spaces, e.g. groups (Dex and Keycloak send groups only when asked)."
            },
            {
                "key": "OIDCUsernameClaim",
                "display_name": "Portal: username claim:",
                "type": "text",
                "default": "preferred_username",
                "help_text": "The ID token claim that gives the username (the certificate's CN for profiles that name people by username)."
            },
            {
                "key": "OIDCEmailClaim",
                "display_name": "Portal: email claim:",
                "type": "text",
                "default": "email",
                "help_text": "The ID token claim that gives the email. The provider must also send email_verified: true; an unverified email never goes into a certificate, and such a person is refused."
            },
            {
                "key": "OIDCAllowedDomains",
                "display_name": "Portal: allowed email domains:",
                "type": "text",
                "default": "",
                "help_text": "Comma-separated, e.g. example.com, partner.example. Empty allows any domain."
            },
            {
                "key": "OIDCGroupsClaim",
                "display_name": "Portal: groups claim:",
                "type": "text",
                "default": "groups",
                "help_text": "The ID token claim that lists the person's groups, for the required group and for profiles' access.oidc_groups."
            },
            {
                "key": "OIDCRequiredGroup",
                "display_name": "Portal: required group (optional):",
                "type": "text",
                "default": "",
                "help_text": "When set, only members of this group sign in."
            },
            {
                "key": "OIDCButtonLabel",
                "display_name": "Portal: sign-in button label:",
                "type": "text",
                "default": "Sign in with single sign-on",
                "help_text": "The words of the button on the portal's sign-in page."
            },
            {
                "key": "AttestationRoots",
                "display_name": "Trusted attestation roots:",
                "type": "longtext",
                "default": "",
                "help_text": "PEM certificates of the roots that hardware key attestations must chain to, e.g. the Yubico PIV attestation CA (https://developers.yubico.com/PIV/Introduction/piv-attestation-ca.pem). Needed by profiles whose \u0060attestation\u0060 is \u0060verify_if_present\u0060 or \u0060require\u0060: users then upload the attestation certificate and its intermediate with their CSR (\u0060yubico-piv-tool -a attest\u0060 and \u0060-a read-certificate -s f9\u0060)."
            },
            {
                "key": "LinkSigningSecret",
                "display_name": "Link signing secret:",
                "type": "generated",
                "secret": true,
                "help_text": "Signs the one-time enrollment links. Regenerating it invalidates links already handed out."
            },
            {
                "key": "EncryptionSecret",
                "display_name": "Encryption secret:",
                "type": "generated",
                "secret": true,
                "help_text": "Encrypts CA private keys at rest. When it changes, stored keys are re-encrypted."
            }
        ]
    }
}
`

func init() {
	if err := json.Unmarshal([]byte(manifestJSON), &manifest); err != nil {
		panic("decode embedded plugin manifest: " + err.Error())
	}
}
