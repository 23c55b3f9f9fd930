// Package profile parses and checks the admin's catalog of CA connectors and
// certificate profiles: which CAs the plugin talks to, and what each kind of
// certificate looks like and who may have it. It knows nothing of Mattermost;
// the plugin evaluates access rules against its own users and teams.
package profile

import (
	"crypto/x509"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

// Connector types the catalog accepts.
const (
	TypeBuiltin = "builtin"
	TypeStepCA  = "stepca"
)

// Limits of a profile.
const (
	MinValidityDays = 1
	MaxValidityDays = 3650
)

// Catalog is the parsed, validated set of connectors and profiles. It is
// immutable once returned by Parse.
type Catalog struct {
	Connectors     []Connector `json:"connectors"`
	Profiles       []Profile   `json:"profiles"`
	DefaultProfile string      `json:"default_profile"`
}

// Connector is one configured CA.
type Connector struct {
	Name   string  `json:"name"`
	Type   string  `json:"type"`
	StepCA *StepCA `json:"stepca,omitempty"`
}

// StepCA holds the settings of a smallstep step-ca connector. The password
// is a secret: the plugin keeps it out of the server configuration.
type StepCA struct {
	URL                 string `json:"url"`
	RootFingerprint     string `json:"root_fingerprint"`
	Provisioner         string `json:"provisioner"`
	ProvisionerPassword string `json:"provisioner_password,omitempty"`
	TimeoutSeconds      int    `json:"timeout_seconds,omitempty"`
}

// Profile describes one kind of certificate.
type Profile struct {
	Name         string `json:"name"`
	Description  string `json:"description,omitempty"`
	Connector    string `json:"connector"`
	ValidityDays int    `json:"validity_days"`
	// KeyTypes the profile accepts, for generated keys and uploaded CSRs;
	// the first is the one the server generates. Empty means the plugin's
	// key type first, then every other supported type.
	KeyTypes []string `json:"key_types"`
	// ExtKeyUsages by name: clientAuth (default), emailProtection.
	ExtKeyUsages     []string `json:"ext_key_usages,omitempty"`
	Subject          Subject  `json:"subject"`
	Access           Access   `json:"access"`
	RequiresApproval bool     `json:"requires_approval,omitempty"`
	// Approvers are the usernames who may approve requests; empty means
	// the system admins.
	Approvers []string `json:"approvers,omitempty"`
	// ApprovalsRequired is how many different approvers must approve a
	// request; default 1.
	ApprovalsRequired int `json:"approvals_required,omitempty"`
	// CSRNames says what happens to the names in an uploaded CSR: "ignore"
	// them (the certificate's names always come from the account) or
	// require that they "match" the account. step-ca signs the CSR's own
	// names, so its profiles always match.
	CSRNames string `json:"csr_names,omitempty"`
	// Attestation is the hardware key attestation policy for uploaded
	// CSRs: "ignore", "verify_if_present" or "require". A profile that
	// requires it issues no server-generated keys.
	Attestation string `json:"attestation,omitempty"`
	// Limits bound what one owner may get of this profile.
	Limits Limits `json:"limits"`
	// Renewal says how a certificate of this profile is renewed.
	Renewal Renewal `json:"renewal"`
}

// Renewal shapes the renewal of a profile's certificates. A renewal is a
// new certificate for the same profile that replaces a valid one: for
// OverlapDays after it is made, the two take one place in Limits.Active;
// then, where the profile has that limit, the replaced one is revoked.
type Renewal struct {
	// OverlapDays is how long a renewal and the certificate it replaces
	// are both valid on one place (time to install the new one); 7 when
	// unset.
	OverlapDays *int `json:"overlap_days,omitempty"`
	// SkipApproval issues a renewal without asking the approvers again,
	// while the certificate it replaces is valid; an approver decided on
	// that one already.
	SkipApproval bool `json:"skip_approval,omitempty"`
	// RevokeReplaced revokes the replaced certificate (reason superseded)
	// as soon as its renewal is issued, so one owner never holds both.
	RevokeReplaced bool `json:"revoke_replaced,omitempty"`
}

// DefaultOverlapDays is a renewal's overlap when a profile sets none.
const DefaultOverlapDays = 7

// MaxOverlapDays bounds a renewal's overlap.
const MaxOverlapDays = 90

// Overlap is how long a renewal and the certificate it replaces share one
// place.
func (r Renewal) Overlap() time.Duration {
	days := DefaultOverlapDays
	if r.OverlapDays != nil {
		days = *r.OverlapDays
	}
	return time.Duration(days) * 24 * time.Hour
}

// Limits bound what one owner may get of a profile; zero means no limit.
type Limits struct {
	// Active is the most valid certificates an owner may hold at once.
	Active int `json:"active,omitempty"`
	// PerDay is the most certificates an owner may be issued in 24 hours.
	PerDay int `json:"per_day,omitempty"`
}

// What a profile does with the names of an uploaded CSR.
const (
	CSRNamesIgnore = "ignore"
	CSRNamesMatch  = "match"
)

// Attestation policies, as the attest package names them.
const (
	AttestationIgnore          = "ignore"
	AttestationVerifyIfPresent = "verify_if_present"
	AttestationRequire         = "require"
)

// ServerKeysAllowed reports whether the server may generate keys for this
// profile: not when the key must be proven to live in hardware.
func (p *Profile) ServerKeysAllowed() bool { return p.Attestation != AttestationRequire }

// AcceptedKeyTypes are the key types a CSR for this profile may carry.
func (p *Profile) AcceptedKeyTypes() []pki.KeyType {
	out := make([]pki.KeyType, 0, len(p.KeyTypes))
	for _, kt := range p.KeyTypes {
		out = append(out, pki.KeyType(kt))
	}
	return out
}

// Subject says how a certificate's names derive from the account.
type Subject struct {
	// CommonName is "username" (default) or "email".
	CommonName         string   `json:"common_name,omitempty"`
	Organization       []string `json:"organization,omitempty"`
	OrganizationalUnit []string `json:"organizational_unit,omitempty"`
	// EmailSAN puts the account's email in the certificate; default true.
	EmailSAN *bool `json:"email_san,omitempty"`
}

// Access says who may use a profile. For Mattermost users, no team and
// not for admins only means every user; people who sign in on the portal
// may use only a profile that names them too (Portal, OIDCGroups,
// LocalAccounts).
type Access struct {
	// Teams by name (URL name); a member of any of them may use it.
	Teams []string `json:"teams,omitempty"`
	// SystemAdmins may always use it; with no teams, only they may.
	SystemAdminsOnly bool `json:"system_admins_only,omitempty"`
	// Guests (guest accounts) may use it too; default false.
	Guests bool `json:"guests,omitempty"`
	// Portal offers it to everyone who signs in on the portal without a
	// Mattermost account: OpenID Connect people and local accounts.
	Portal bool `json:"portal,omitempty"`
	// OIDCGroups offers it to OpenID Connect people in any of these
	// groups (the provider's groups claim), even without Portal.
	OIDCGroups []string `json:"oidc_groups,omitempty"`
	// LocalAccounts offers it to the portal's local accounts, even without
	// Portal.
	LocalAccounts bool `json:"local_accounts,omitempty"`
}

// Everyone reports whether any Mattermost user may use the profile. What
// it says of the portal's people adds them, and changes nothing for
// Mattermost users.
func (a Access) Everyone() bool { return len(a.Teams) == 0 && !a.SystemAdminsOnly }

// AdmitsLocalAccounts reports whether the portal's local accounts may use
// the profile.
func (a Access) AdmitsLocalAccounts() bool { return a.Portal || a.LocalAccounts }

// AdmitsOIDC reports whether an OpenID Connect person in groups may use
// the profile.
func (a Access) AdmitsOIDC(groups []string) bool {
	if a.Portal {
		return true
	}
	for _, g := range a.OIDCGroups {
		if slices.Contains(groups, g) {
			return true
		}
	}
	return false
}

// IncludesEmail reports whether certificates carry the account's email.
func (s Subject) IncludesEmail() bool { return s.EmailSAN == nil || *s.EmailSAN }

// Validity is the profile's certificate lifetime.
func (p *Profile) Validity() time.Duration {
	return time.Duration(p.ValidityDays) * 24 * time.Hour
}

// GeneratedKeyType is the key the server makes for this profile.
func (p *Profile) GeneratedKeyType() pki.KeyType {
	return pki.KeyType(p.KeyTypes[0])
}

// ExtKeyUsageValues returns the profile's EKUs for a certificate template.
func (p *Profile) ExtKeyUsageValues() []x509.ExtKeyUsage {
	out := make([]x509.ExtKeyUsage, 0, len(p.ExtKeyUsages))
	for _, name := range p.ExtKeyUsages {
		out = append(out, extKeyUsages[name])
	}
	return out
}

var extKeyUsages = map[string]x509.ExtKeyUsage{
	"clientAuth":      x509.ExtKeyUsageClientAuth,
	"emailProtection": x509.ExtKeyUsageEmailProtection,
}

// Profile returns the profile called name, or the default when name is "".
func (c *Catalog) Profile(name string) (*Profile, bool) {
	if name == "" {
		name = c.DefaultProfile
	}
	for i := range c.Profiles {
		if strings.EqualFold(c.Profiles[i].Name, name) {
			return &c.Profiles[i], true
		}
	}
	return nil, false
}

// Connector returns the connector called name.
func (c *Catalog) Connector(name string) (*Connector, bool) {
	for i := range c.Connectors {
		if c.Connectors[i].Name == name {
			return &c.Connectors[i], true
		}
	}
	return nil, false
}

// Defaults are what an empty catalog setting means: the built-in CA and one
// profile shaped by the plugin's simple settings.
type Defaults struct {
	ValidityDays int
	KeyType      pki.KeyType
}

// Default returns the catalog used when the admin has configured none.
func Default(d Defaults) *Catalog {
	return &Catalog{
		Connectors: []Connector{{Name: TypeBuiltin, Type: TypeBuiltin}},
		Profiles: []Profile{{
			Name:         "default",
			Description:  "Client certificate for VPN, Wi-Fi and mTLS",
			Connector:    TypeBuiltin,
			ValidityDays: d.ValidityDays,
			KeyTypes:     defaultKeyTypes(d.KeyType),
			ExtKeyUsages: []string{"clientAuth"},
			Subject:      Subject{CommonName: "username"},
			CSRNames:     CSRNamesIgnore,
			Attestation:  AttestationIgnore,
		}},
		DefaultProfile: "default",
	}
}

// Parse reads a catalog from the admin's JSON (unknown fields are refused,
// so a typo is reported rather than silently ignored, with the connector or
// profile and the field named), fills defaults and checks it. Blank input gives the default catalog.
func Parse(data string, d Defaults) (*Catalog, error) {
	if strings.TrimSpace(data) == "" {
		return Default(d), nil
	}
	// Both steps return Problems: each mistake with its path in the JSON
	// (ProblemsOf), the first one the error's words.
	c, err := decodeCatalog([]byte(data))
	if err != nil {
		return nil, fmt.Errorf("connectors and profiles: %w", err)
	}
	c.fillDefaults(d)
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("connectors and profiles: %w", err)
	}
	return c, nil
}

func (c *Catalog) fillDefaults(d Defaults) {
	if len(c.Connectors) == 0 {
		c.Connectors = []Connector{{Name: TypeBuiltin, Type: TypeBuiltin}}
	}
	for i := range c.Profiles {
		p := &c.Profiles[i]
		if p.Connector == "" && len(c.Connectors) == 1 {
			p.Connector = c.Connectors[0].Name
		}
		if p.ValidityDays == 0 {
			p.ValidityDays = d.ValidityDays
		}
		if len(p.KeyTypes) == 0 {
			p.KeyTypes = defaultKeyTypes(d.KeyType)
		}
		if p.CSRNames == "" {
			p.CSRNames = CSRNamesIgnore
			if conn, ok := c.Connector(p.Connector); ok && conn.Type == TypeStepCA {
				p.CSRNames = CSRNamesMatch
			}
		}
		if p.Attestation == "" {
			p.Attestation = AttestationIgnore
		}
		if len(p.ExtKeyUsages) == 0 {
			p.ExtKeyUsages = []string{"clientAuth"}
		}
		if p.Subject.CommonName == "" {
			p.Subject.CommonName = "username"
		}
	}
	if c.DefaultProfile == "" && len(c.Profiles) > 0 {
		c.DefaultProfile = c.Profiles[0].Name
	}
}

// defaultKeyTypes is generated first, then every other supported type, so
// a profile that names none accepts any strong key in a CSR.
func defaultKeyTypes(generated pki.KeyType) []string {
	out := []string{string(generated)}
	for _, kt := range pki.KeyTypes {
		if kt != generated {
			out = append(out, string(kt))
		}
	}
	return out
}

// namePattern keeps names usable as command arguments and KV key parts.
var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,39}$`)

// validate checks the catalog and returns Problems: every mistake, in the
// order of the JSON, the first of them what a save refuses with.
func (c *Catalog) validate() error {
	var problems Problems
	seen := map[string]bool{}
	builtin := ""
	for i, conn := range c.Connectors {
		path := entryPath("connectors", i)
		where := entryName("connector", i, conn.Name)
		if !namePattern.MatchString(conn.Name) {
			problems.add(joinPath(path, "name"), where, errors.New("name must be 1-40 lower-case letters, digits, '-' or '_'"))
		} else if seen[conn.Name] {
			problems.add(joinPath(path, "name"), where, errors.New("the name is used twice"))
		}
		seen[conn.Name] = true
		switch conn.Type {
		case TypeBuiltin:
			if conn.StepCA != nil {
				problems.add(joinPath(path, "stepca"), where, errors.New("a builtin connector takes no stepca settings"))
				continue
			}
			// There is one built-in CA: two connectors would sign with it
			// while each published a list of half its revocations, and
			// OCSP would answer for one of them.
			if builtin != "" {
				problems.add(joinPath(path, "type"), where, fmt.Errorf("connector %q is of type builtin already, and the plugin has one built-in CA; "+
					"keep one builtin connector and point every profile that needs it at it", builtin))
				continue
			}
			builtin = conn.Name
		case TypeStepCA:
			if field, err := conn.StepCA.validate(conn.Name); err != nil {
				problems.add(joinPath(path, field), where, err)
			}
		default:
			problems.add(joinPath(path, "type"), where, fmt.Errorf("type must be %q or %q (got %q)", TypeBuiltin, TypeStepCA, conn.Type))
		}
	}

	if len(c.Profiles) == 0 {
		problems.add("profiles", "", errors.New("define at least one profile"))
		return problems.orNil()
	}
	seen = map[string]bool{}
	for i := range c.Profiles {
		p := &c.Profiles[i]
		path := entryPath("profiles", i)
		where := entryName("profile", i, p.Name)
		for _, fe := range p.validate(c) {
			problems.add(joinPath(path, fe.Path), where, fe.Err)
		}
		if seen[p.Name] {
			problems.add(joinPath(path, "name"), where, errors.New("the name is used twice"))
		}
		seen[p.Name] = true
	}
	if _, ok := c.Profile(c.DefaultProfile); !ok {
		problems.add("default_profile", "", fmt.Errorf("default_profile: no profile is called %q", c.DefaultProfile))
	}
	return problems.orNil()
}

// ConnectorConfig is the connector package's view of these settings; the
// password may still be a sealed reference the plugin resolves.
func (s *StepCA) ConnectorConfig(name string) connector.StepCAConfig {
	return connector.StepCAConfig{
		Name:                name,
		URL:                 s.URL,
		RootFingerprint:     s.RootFingerprint,
		Provisioner:         s.Provisioner,
		ProvisionerPassword: s.ProvisionerPassword,
		Timeout:             time.Duration(s.TimeoutSeconds) * time.Second,
	}
}

// validate checks the settings of the step-ca connector called name; field
// is the path of the setting at fault, within the connector ("stepca.url").
func (s *StepCA) validate(name string) (field string, err error) {
	if s == nil {
		return "stepca", errors.New("stepca: settings are missing (url, root_fingerprint, provisioner, provisioner_password)")
	}
	return stepCAFieldError(s.ConnectorConfig(name).Validate())
}

// stepCAFieldError prefixes a connector's *StepCAConfigError with the
// setting's key in the JSON ("stepca.url: ..."), and says that key.
func stepCAFieldError(err error) (field string, _ error) {
	var fieldErr *connector.StepCAConfigError
	if errors.As(err, &fieldErr) {
		key := "stepca." + stepCAJSONFields[fieldErr.Field]
		field = key
		if fieldErr.Field == "Name" {
			field = "name" // the connector's own name
		}
		return field, fmt.Errorf("%s: %w", key, err)
	}
	return "stepca", err
}

// stepCAJSONFields names, for each connector setting, its key in the JSON.
var stepCAJSONFields = map[string]string{
	"Name":                "name",
	"URL":                 "url",
	"RootFingerprint":     "root_fingerprint",
	"Provisioner":         "provisioner",
	"ProvisionerPassword": "provisioner_password",
	"Timeout":             "timeout_seconds",
}

// validate checks a profile of c and returns its mistakes, their paths
// within the profile.
func (p *Profile) validate(c *Catalog) Problems {
	var problems Problems
	add := func(path string, err error) { problems.add(path, "", err) }
	if !namePattern.MatchString(p.Name) {
		add("name", errors.New("name must be 1-40 lower-case letters, digits, '-' or '_'"))
	}
	conn, connOK := c.Connector(p.Connector)
	if !connOK {
		add("connector", fmt.Errorf("connector: no connector is called %q", p.Connector))
	}
	if p.ValidityDays < MinValidityDays || p.ValidityDays > MaxValidityDays {
		add("validity_days", fmt.Errorf("validity_days must be between %d and %d (got %d)", MinValidityDays, MaxValidityDays, p.ValidityDays))
	}
	for _, kt := range p.KeyTypes {
		if _, err := pki.ParseKeyType(kt); err != nil {
			add("key_types", fmt.Errorf("key_types: %w", err))
			break
		}
	}
	for _, eku := range p.ExtKeyUsages {
		if _, ok := extKeyUsages[eku]; !ok {
			add("ext_key_usages", fmt.Errorf("ext_key_usages: unknown usage %q (accepted: clientAuth, emailProtection)", eku))
			break
		}
	}
	switch p.Subject.CommonName {
	case "username", "email":
	default:
		add("subject.common_name", fmt.Errorf(`subject.common_name must be "username" or "email" (got %q)`, p.Subject.CommonName))
	}
	if slices.Contains(p.ExtKeyUsages, "emailProtection") && !p.Subject.IncludesEmail() {
		add("subject.email_san", errors.New("subject.email_san: S/MIME (emailProtection) certificates need the email address"))
	}
	if slices.ContainsFunc(p.Access.Teams, isBlank) {
		add("access.teams", errors.New("access.teams: a team name is empty"))
	}
	if slices.ContainsFunc(p.Access.OIDCGroups, isBlank) {
		add("access.oidc_groups", errors.New("access.oidc_groups: a group name is empty"))
	}
	switch {
	case slices.ContainsFunc(p.Approvers, isBlank):
		add("approvers", errors.New("approvers: a username is empty"))
	case len(p.Approvers) > 0 && !p.RequiresApproval:
		add("approvers", errors.New("approvers: set requires_approval to true, or remove the approvers"))
	}
	if err := p.checkApprovalsRequired(); err != nil {
		add("approvals_required", err)
	}
	if p.Limits.Active < 0 || p.Limits.PerDay < 0 {
		field := "limits.active"
		if p.Limits.Active >= 0 {
			field = "limits.per_day"
		}
		add(field, errors.New("limits: active and per_day are numbers of certificates, 0 or more"))
	}
	if days := p.Renewal.OverlapDays; days != nil && (*days < 0 || *days > MaxOverlapDays) {
		add("renewal.overlap_days", fmt.Errorf("renewal.overlap_days must be between 0 and %d (got %d)", MaxOverlapDays, *days))
	}
	if p.Renewal.SkipApproval && !p.RequiresApproval {
		add("renewal.skip_approval", errors.New("renewal: skip_approval needs requires_approval; without approval nothing is skipped"))
	}
	switch p.CSRNames {
	case CSRNamesIgnore:
		if connOK && conn.Type == TypeStepCA {
			add("csr_names", errors.New(`csr_names: step-ca signs the names in the CSR itself, so CSR names must "match" on a step-ca connector`))
		}
	case CSRNamesMatch:
	default:
		add("csr_names", fmt.Errorf(`csr_names must be "ignore" or "match" (got %q)`, p.CSRNames))
	}
	switch p.Attestation {
	case AttestationIgnore, AttestationVerifyIfPresent, AttestationRequire:
	default:
		add("attestation", fmt.Errorf(`attestation must be "ignore", "verify_if_present" or "require" (got %q)`, p.Attestation))
	}
	return problems
}

// isBlank reports whether a name is empty or only spaces.
func isBlank(name string) bool { return strings.TrimSpace(name) == "" }

// ProfilesVerifyingAttestations are the indexes of the profiles that
// verify hardware attestations, which need trusted attestation roots in
// the settings.
func (c *Catalog) ProfilesVerifyingAttestations() []int {
	var verifying []int
	for i, p := range c.Profiles {
		if p.Attestation != AttestationIgnore {
			verifying = append(verifying, i)
		}
	}
	return verifying
}

// ApprovalsNeeded is how many different approvers must approve a request.
func (p *Profile) ApprovalsNeeded() int { return max(1, p.ApprovalsRequired) }

// checkApprovalsRequired refuses an approval rule that could never be met:
// nobody approves their own request, so a profile that lists approvers
// needs more of them than approvals, or an approver asking for one of its
// certificates would wait forever.
func (p *Profile) checkApprovalsRequired() error {
	switch {
	case p.ApprovalsRequired < 0:
		return fmt.Errorf("approvals_required must be 1 or more (got %d)", p.ApprovalsRequired)
	case p.ApprovalsRequired > 1 && !p.RequiresApproval:
		return errors.New("approvals_required: set requires_approval to true, or remove approvals_required")
	case len(p.Approvers) > 0 && p.ApprovalsNeeded() > len(p.Approvers):
		return fmt.Errorf("approvals_required is %d but only %d approvers are listed", p.ApprovalsNeeded(), len(p.Approvers))
	}
	return nil
}
