package main

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"sort"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/mattermost/mattermost/server/public/plugin"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// auditLog is where audit records go: the server's audit log, which
// writes them to the targets the admin turned on (ExperimentalAuditSettings).
// No record carries a secret, a private key, a passphrase or a link token.
type auditLog interface {
	LogAuditRec(rec *model.AuditRecord)
}

// The audit events, named like the server's own ("createPost").
const (
	auditIssueCertificate    = "certsIssueCertificate"
	auditRegisterCertificate = "certsRegisterCertificate"
	auditRevokeCertificate   = "certsRevokeCertificate"
	auditRenewCertificate    = "certsRenewCertificate"
	auditRequestCertificate  = "certsRequestCertificate"
	auditApproveRequest      = "certsApproveRequest"
	auditDenyRequest         = "certsDenyRequest"
	auditCancelRequest       = "certsCancelRequest"
	auditExpireRequest       = "certsExpireRequest"
	auditRequestHeldByCA     = "certsRequestHeldByCA"
	auditRequestIssuedByCA   = "certsRequestIssuedByCA"
	auditUpdateSettings      = "certsUpdateSettings"
)

// newAuditRecord starts a record of event by who: an account id becomes
// the record's actor; anything else (a job's name) is kept in the meta.
func newAuditRecord(event, status, who string) *model.AuditRecord {
	rec := plugin.MakeAuditRecord(event, status)
	switch {
	case model.IsValidId(who):
		rec.Actor.UserId = who
	case who != "":
		rec.AddMeta("actor", who)
	}
	return rec
}

// certificateAudit is a record about a certificate: what names it and
// where it came from, never its DER or key.
func certificateAudit(event, status, who string, c *records.Certificate) *model.AuditRecord {
	rec := newAuditRecord(event, status, who)
	rec.AddEventObjectType("certificate")
	rec.AddMeta("serial", c.Serial)
	rec.AddMeta("owner", c.Owner.MattermostUserID())
	rec.AddMeta("profile", c.Profile)
	rec.AddMeta("connector", c.Connector)
	if c.Origin != "" {
		rec.AddMeta("origin", c.Origin)
	}
	if c.KeyType != "" {
		rec.AddMeta("key_type", c.KeyType)
	}
	rec.AddMeta("not_after", c.NotAfter.UTC().Format(time.RFC3339))
	return rec
}

// requestAudit is a record about a certificate request, never its CSR or
// the key it may hold.
func requestAudit(event, who string, r *records.Request) *model.AuditRecord {
	rec := newAuditRecord(event, model.AuditStatusSuccess, who)
	rec.AddEventObjectType("certificate_request")
	rec.AddMeta("request_id", r.ID)
	rec.AddMeta("owner", r.Owner.MattermostUserID())
	rec.AddMeta("profile", r.Profile)
	rec.AddMeta("connector", r.Connector)
	rec.AddMeta("state", string(r.State))
	return rec
}

// observedInventory is the core's Inventory with the plugin's cross-cutting
// concerns around it: after a change succeeds, an audit record and the
// metrics. It reads only what the change already returned, so it costs no
// database round trip.
type observedInventory struct {
	enroll.Inventory
	audit   auditLog
	metrics *metrics
}

func (o observedInventory) RecordIssuance(c *records.Certificate, requestID string, now time.Time, quota *records.Quota) error {
	err := o.Inventory.RecordIssuance(c, requestID, now, quota)
	var closing *records.ErrTransition
	if err != nil && !errors.As(err, &closing) {
		rec := certificateAudit(auditIssueCertificate, model.AuditStatusFail, c.Owner.MattermostUserID(), c)
		rec.AddErrorDesc("the certificate could not be recorded: " + err.Error())
		o.audit.LogAuditRec(rec)
		return err
	}
	// A request that could not be closed still leaves the certificate
	// recorded (see Inventory.RecordIssuance).
	o.metrics.issued.WithLabelValues(c.Connector, c.Profile).Inc()
	rec := certificateAudit(auditIssueCertificate, model.AuditStatusSuccess, c.Owner.MattermostUserID(), c)
	if requestID != "" {
		rec.AddMeta("request_id", requestID)
	}
	if c.Renews != "" {
		rec.AddMeta("renews", c.Renews)
	}
	o.audit.LogAuditRec(rec)
	return err
}

func (o observedInventory) CreateCertificate(c *records.Certificate) error {
	if err := o.Inventory.CreateCertificate(c); err != nil {
		return err
	}
	who := c.RegisteredBy
	if who == "" {
		who = c.Owner.MattermostUserID()
	}
	rec := certificateAudit(auditRegisterCertificate, model.AuditStatusSuccess, who, c)
	rec.AddMeta("revocable_at_ca", c.RevocableAtCA)
	o.audit.LogAuditRec(rec)
	return nil
}

func (o observedInventory) UpdateCertificate(serial string, change func(*records.Certificate) error) (*records.Certificate, error) {
	// The store may call change more than once (a conditional update
	// retried): the state it saw last is the one the update replaced.
	var before records.CertState
	updated, err := o.Inventory.UpdateCertificate(serial, func(c *records.Certificate) error {
		before = c.State
		return change(c)
	})
	if err != nil || updated == nil {
		return updated, err
	}
	if before != records.CertRevoked && updated.State == records.CertRevoked {
		reason := updated.RevocationReason
		if reason == "" {
			reason = records.ReasonUnspecified
		}
		o.metrics.revocations.WithLabelValues(updated.Connector, reason).Inc()
		rec := certificateAudit(auditRevokeCertificate, model.AuditStatusSuccess, updated.RevokedBy, updated)
		rec.AddMeta("reason", reason)
		rec.AddMeta("pending_at_ca", updated.RevocationPending)
		o.audit.LogAuditRec(rec)
	}
	return updated, nil
}

func (o observedInventory) CreateRequest(r *records.Request) error {
	if err := o.Inventory.CreateRequest(r); err != nil {
		return err
	}
	event := auditRequestCertificate
	if r.State == records.RequestWaitingCA {
		event = auditRequestHeldByCA
	}
	o.audit.LogAuditRec(requestAudit(event, r.Owner.MattermostUserID(), r))
	return nil
}

// requestBefore is what a request change replaced.
type requestBefore struct {
	state     records.RequestState
	approvals int
}

func (o observedInventory) UpdateRequest(id string, now time.Time, change func(*records.Request) error) (*records.Request, error) {
	var before requestBefore
	updated, err := o.Inventory.UpdateRequest(id, now, func(r *records.Request) error {
		before = requestBefore{state: r.State, approvals: len(r.Approvals)}
		return change(r)
	})
	if err == nil && updated != nil {
		o.requestChanged(before, updated)
	}
	return updated, err
}

func (o observedInventory) MoveRequest(id string, now time.Time, from []records.RequestState, to records.RequestState,
	edit func(*records.Request) error) (*records.Request, error) {
	var before requestBefore
	// The store runs edit before it sets the new state: it sees the old one.
	updated, err := o.Inventory.MoveRequest(id, now, from, to, func(r *records.Request) error {
		before = requestBefore{state: r.State, approvals: len(r.Approvals)}
		if edit != nil {
			return edit(r)
		}
		return nil
	})
	if err == nil && updated != nil {
		o.requestChanged(before, updated)
	}
	return updated, err
}

// requestChanged records a request's decision or end.
func (o observedInventory) requestChanged(before requestBefore, r *records.Request) {
	if r.State == before.state {
		// One approver's yes of several.
		if len(r.Approvals) > before.approvals {
			rec := requestAudit(auditApproveRequest, r.Approvals[len(r.Approvals)-1].UserID, r)
			rec.AddMeta("final", false)
			rec.AddMeta("approvals", len(r.Approvals))
			o.audit.LogAuditRec(rec)
		}
		return
	}
	var rec *model.AuditRecord
	switch {
	case r.State == records.RequestApproved && before.state == records.RequestPending:
		rec = requestAudit(auditApproveRequest, r.DecidedBy, r)
		rec.AddMeta("final", true)
		rec.AddMeta("approvals", len(r.Approvals))
		o.metrics.decisions.WithLabelValues(r.Profile, string(r.State)).Inc()
	case r.State == records.RequestApproved:
		// The CA issued a request it held.
		rec = requestAudit(auditRequestIssuedByCA, "", r)
	case r.State == records.RequestDenied:
		// No DecidedBy: the CA refused a request it held.
		rec = requestAudit(auditDenyRequest, r.DecidedBy, r)
		rec.AddMeta("reason", r.Reason)
		rec.AddMeta("by_ca", r.DecidedBy == "")
		o.metrics.decisions.WithLabelValues(r.Profile, string(r.State)).Inc()
	case r.State == records.RequestCancelled:
		rec = requestAudit(auditCancelRequest, r.Owner.MattermostUserID(), r)
		o.metrics.decisions.WithLabelValues(r.Profile, string(r.State)).Inc()
	case r.State == records.RequestExpired:
		rec = requestAudit(auditExpireRequest, "", r)
		o.metrics.decisions.WithLabelValues(r.Profile, string(r.State)).Inc()
	case r.State == records.RequestWaitingCA:
		rec = requestAudit(auditRequestHeldByCA, "", r)
	default:
		// Issued: RecordIssuance closes the request and records that.
		return
	}
	rec.AddMeta("previous_state", string(before.state))
	o.audit.LogAuditRec(rec)
}

// auditRenewal records that an owner started renewing a certificate: what
// it gave (a link or a request), never the link itself.
func (p *Plugin) auditRenewal(owner *enroll.Requester, serial string, renewal *enroll.Renewal, err error) {
	rec := newAuditRecord(auditRenewCertificate, model.AuditStatusSuccess, owner.ID)
	rec.AddEventObjectType("certificate")
	rec.AddMeta("serial", serial)
	switch {
	case err != nil:
		rec.Fail()
		rec.AddErrorDesc(err.Error())
	case renewal.Request != nil:
		rec.AddMeta("profile", renewal.Request.Profile)
		rec.AddMeta("request_id", renewal.Request.ID)
		rec.AddMeta("next", "request")
	case renewal.Link != nil:
		rec.AddMeta("profile", renewal.Link.Profile)
		rec.AddMeta("next", "link")
		rec.AddMeta("link_purpose", string(renewal.Link.Purpose))
	}
	p.API.LogAuditRec(rec)
}

// eventLog writes events of the inventory that no record change carries.
type eventLog interface {
	RecordEvent(kind, actor string, detail any) error
}

// settingsChange is what a save changed in the plugin's settings, by name
// only: the settings whose values changed, and the connectors and
// profiles added, removed or changed (with the fields that changed).
// Values are never kept: some are secrets.
type settingsChange struct {
	Settings       []string
	Connectors     namesChange
	Profiles       namesChange
	DefaultProfile []string // [before, after] when it changed
}

type namesChange struct {
	Added, Removed []string
	// Changed maps a name to the fields that changed, as dotted paths
	// ("stepca.provisioner_password").
	Changed map[string][]string
}

func (n namesChange) empty() bool {
	return len(n.Added) == 0 && len(n.Removed) == 0 && len(n.Changed) == 0
}

func (n namesChange) asMap() map[string]any {
	out := map[string]any{}
	if len(n.Added) > 0 {
		out["added"] = n.Added
	}
	if len(n.Removed) > 0 {
		out["removed"] = n.Removed
	}
	if len(n.Changed) > 0 {
		changed := map[string]any{}
		for name, fields := range n.Changed {
			changed[name] = fields
		}
		out["changed"] = changed
	}
	return out
}

func (c *settingsChange) empty() bool {
	return len(c.Settings) == 0 && c.Connectors.empty() && c.Profiles.empty() && len(c.DefaultProfile) == 0
}

// detail is the change as plain maps and string lists: the audit record
// crosses the plugin RPC (gob), which carries no other types in its meta.
func (c *settingsChange) detail() map[string]any {
	out := map[string]any{}
	if len(c.Settings) > 0 {
		out["settings"] = c.Settings
	}
	if !c.Connectors.empty() {
		out["connectors"] = c.Connectors.asMap()
	}
	if !c.Profiles.empty() {
		out["profiles"] = c.Profiles.asMap()
	}
	if len(c.DefaultProfile) > 0 {
		out["default_profile"] = c.DefaultProfile
	}
	return out
}

// diffSettings is what changes from current to next (whose masked secrets
// have been filled in from current, so an untouched secret is unchanged).
// A catalog that does not parse counts as empty.
func diffSettings(current, next *configuration) *settingsChange {
	change := &settingsChange{}
	before, after := fieldsOf(current), fieldsOf(next)
	for _, key := range sortedKeys(before, after) {
		if key != "ConnectorsAndProfiles" && !reflect.DeepEqual(before[key], after[key]) {
			change.Settings = append(change.Settings, key)
		}
	}
	oldCatalog, _ := current.catalog()
	newCatalog, _ := next.catalog()
	if oldCatalog == nil {
		oldCatalog = &profile.Catalog{}
	}
	if newCatalog == nil {
		newCatalog = &profile.Catalog{}
	}
	change.Connectors = diffNamed(oldCatalog.Connectors, newCatalog.Connectors, func(c profile.Connector) string { return c.Name })
	change.Profiles = diffNamed(oldCatalog.Profiles, newCatalog.Profiles, func(p profile.Profile) string { return p.Name })
	if oldCatalog.DefaultProfile != newCatalog.DefaultProfile {
		change.DefaultProfile = []string{oldCatalog.DefaultProfile, newCatalog.DefaultProfile}
	}
	return change
}

// diffNamed compares two lists of catalog entries by name.
func diffNamed[T any](before, after []T, name func(T) string) namesChange {
	var out namesChange
	old := map[string]map[string]any{}
	for _, e := range before {
		old[name(e)] = fieldsOf(e)
	}
	seen := map[string]bool{}
	for _, e := range after {
		n := name(e)
		seen[n] = true
		prior, ok := old[n]
		if !ok {
			out.Added = append(out.Added, n)
			continue
		}
		now := fieldsOf(e)
		var fields []string
		for _, key := range sortedKeys(prior, now) {
			if !reflect.DeepEqual(prior[key], now[key]) {
				fields = append(fields, key)
			}
		}
		if len(fields) > 0 {
			if out.Changed == nil {
				out.Changed = map[string][]string{}
			}
			out.Changed[n] = fields
		}
	}
	for _, e := range before {
		if n := name(e); !seen[n] {
			out.Removed = append(out.Removed, n)
		}
	}
	return out
}

// fieldsOf is v's JSON fields, nested objects flattened to dotted paths.
func fieldsOf(v any) map[string]any {
	data, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var tree map[string]any
	if json.Unmarshal(data, &tree) != nil {
		return nil
	}
	out := map[string]any{}
	var flatten func(prefix string, m map[string]any)
	flatten = func(prefix string, m map[string]any) {
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok {
				flatten(prefix+k+".", sub)
				continue
			}
			out[prefix+k] = v
		}
	}
	flatten("", tree)
	return out
}

func sortedKeys(maps ...map[string]any) []string {
	var keys []string
	for _, m := range maps {
		for k := range m {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return keys
}

// recordSettingsChange writes the event row and the audit record of a
// settings save. The hook that saves has no user: the server's own audit
// record of the config save (updateConfig, patchConfig) names who did it.
func (p *Plugin) recordSettingsChange(change *settingsChange) {
	if change == nil || change.empty() {
		return
	}
	detail := change.detail()
	if p.events != nil {
		if err := p.events.RecordEvent("settings.changed", "", detail); err != nil {
			p.API.LogWarn("Could not record a settings change in the inventory's events", "error", err.Error())
		}
	}
	rec := newAuditRecord(auditUpdateSettings, model.AuditStatusSuccess, "")
	rec.AddEventObjectType("plugin_settings")
	for k, v := range detail {
		rec.AddMeta(k, v)
	}
	p.API.LogAuditRec(rec)
}
