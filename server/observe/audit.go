package observe

import (
	"errors"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/mattermost/mattermost/server/public/plugin"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// AuditLog is where audit records go: the server's audit log, which
// writes them to the targets the admin turned on (ExperimentalAuditSettings).
// No record carries a secret, a private key, a passphrase or a link token.
type AuditLog interface {
	LogAuditRec(rec *model.AuditRecord)
}

// The audit events, named like the server's own ("createPost").
const (
	AuditIssueCertificate    = "certsIssueCertificate"
	AuditRegisterCertificate = "certsRegisterCertificate"
	AuditRevokeCertificate   = "certsRevokeCertificate"
	AuditRenewCertificate    = "certsRenewCertificate"
	AuditPortalSession       = "certsPortalSession"
	AuditRequestCertificate  = "certsRequestCertificate"
	AuditApproveRequest      = "certsApproveRequest"
	AuditDenyRequest         = "certsDenyRequest"
	AuditCancelRequest       = "certsCancelRequest"
	AuditExpireRequest       = "certsExpireRequest"
	AuditRequestHeldByCA     = "certsRequestHeldByCA"
	AuditRequestIssuedByCA   = "certsRequestIssuedByCA"
	AuditUpdateSettings      = "certsUpdateSettings"
)

// newAuditRecord starts a record of event by who, as records name whoever
// acted (records.ActorOf): a Mattermost account becomes the record's
// actor; anything else (another kind of principal, a job's name) is kept
// in the meta.
func newAuditRecord(event, status, who string) *model.AuditRecord {
	rec := plugin.MakeAuditRecord(event, status)
	switch id := records.ActorOf(who).MattermostUserID(); {
	case model.IsValidId(id):
		rec.Actor.UserId = id
	case who != "":
		rec.AddMeta("actor", who)
	}
	return rec
}

// ownerMeta names an owner in a record: a Mattermost account by its id, as
// records always did, any other kind by its principal.
func ownerMeta(p records.Principal) string {
	if id := p.MattermostUserID(); id != "" {
		return id
	}
	return string(p)
}

// certificateAudit is a record about a certificate: what names it and
// where it came from, never its DER or key.
func certificateAudit(event, status, who string, c *records.Certificate) *model.AuditRecord {
	rec := newAuditRecord(event, status, who)
	rec.AddEventObjectType("certificate")
	rec.AddMeta("serial", c.Serial)
	rec.AddMeta("owner", ownerMeta(c.Owner))
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
	rec.AddMeta("owner", ownerMeta(r.Owner))
	rec.AddMeta("profile", r.Profile)
	rec.AddMeta("connector", r.Connector)
	rec.AddMeta("state", string(r.State))
	return rec
}

// Inventory is the core's Inventory with the plugin's cross-cutting
// concerns around it: after a change succeeds, an audit record and the
// metrics. It reads only what the change already returned, so it costs no
// database round trip.
type Inventory struct {
	enroll.Inventory
	audit   AuditLog
	metrics *Metrics
}

// ObserveInventory wraps inv: its changes are audited to audit and counted
// in m.
func (m *Metrics) ObserveInventory(inv enroll.Inventory, audit AuditLog) Inventory {
	return Inventory{Inventory: inv, audit: audit, metrics: m}
}

func (o Inventory) RecordIssuance(c *records.Certificate, requestID string, now time.Time, quota *records.Quota) error {
	err := o.Inventory.RecordIssuance(c, requestID, now, quota)
	if errors.Is(err, records.ErrAlreadyRecorded) {
		return err // audited and counted the first time
	}
	var closing *records.ErrTransition
	if err != nil && !errors.As(err, &closing) {
		rec := certificateAudit(AuditIssueCertificate, model.AuditStatusFail, string(c.Owner), c)
		rec.AddErrorDesc("the certificate could not be recorded: " + err.Error())
		o.audit.LogAuditRec(rec)
		return err
	}
	// A request that could not be closed still leaves the certificate
	// recorded (see Inventory.RecordIssuance).
	o.metrics.issued.WithLabelValues(c.Connector, c.Profile).Inc()
	rec := certificateAudit(AuditIssueCertificate, model.AuditStatusSuccess, string(c.Owner), c)
	if requestID != "" {
		rec.AddMeta("request_id", requestID)
	}
	if c.Renews != "" {
		rec.AddMeta("renews", c.Renews)
	}
	o.audit.LogAuditRec(rec)
	return err
}

func (o Inventory) CreateCertificate(c *records.Certificate) error {
	if err := o.Inventory.CreateCertificate(c); err != nil {
		return err
	}
	who := c.RegisteredBy
	if who == "" {
		who = string(c.Owner)
	}
	rec := certificateAudit(AuditRegisterCertificate, model.AuditStatusSuccess, who, c)
	rec.AddMeta("revocable_at_ca", c.RevocableAtCA)
	o.audit.LogAuditRec(rec)
	return nil
}

// RevokeCertificate audits and counts every certificate a revocation
// revoked: the one asked for, and those of a compromised key with it.
func (o Inventory) RevokeCertificate(order records.Revoke) (*records.Revoked, error) {
	revoked, err := o.Inventory.RevokeCertificate(order)
	if err != nil {
		return revoked, err
	}
	for _, c := range append([]*records.Certificate{revoked.Certificate}, revoked.Siblings...) {
		reason := c.RevocationReason
		if reason == "" {
			reason = records.ReasonUnspecified
		}
		o.metrics.revocations.WithLabelValues(c.Connector, reason).Inc()
		rec := certificateAudit(AuditRevokeCertificate, model.AuditStatusSuccess, c.RevokedBy, c)
		rec.AddMeta("reason", reason)
		rec.AddMeta("pending_at_ca", c.RevocationPending)
		if c.Serial != revoked.Certificate.Serial {
			rec.AddMeta("key_compromised_with", revoked.Certificate.Serial)
		}
		o.audit.LogAuditRec(rec)
	}
	return revoked, nil
}

func (o Inventory) CreateRequest(r *records.Request) error {
	if err := o.Inventory.CreateRequest(r); err != nil {
		return err
	}
	event := AuditRequestCertificate
	if r.State == records.RequestWaitingCA {
		event = AuditRequestHeldByCA
	}
	o.audit.LogAuditRec(requestAudit(event, string(r.Owner), r))
	return nil
}

// requestBefore is what a request change replaced.
type requestBefore struct {
	state     records.RequestState
	approvals int
}

func (o Inventory) UpdateRequest(id string, now time.Time, change func(*records.Request) error) (*records.Request, error) {
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

// MoveRequest is UpdateRequest with records.Move, as the stores define it,
// so that the change is observed in one place.
func (o Inventory) MoveRequest(id string, now time.Time, from []records.RequestState, to records.RequestState,
	edit func(*records.Request) error) (*records.Request, error) {
	return o.UpdateRequest(id, now, records.Move(from, to, edit))
}

// requestChanged records a request's decision or end.
func (o Inventory) requestChanged(before requestBefore, r *records.Request) {
	if r.State == before.state {
		// One approver's yes of several.
		if len(r.Approvals) > before.approvals {
			rec := requestAudit(AuditApproveRequest, string(r.Approvals[len(r.Approvals)-1].By), r)
			rec.AddMeta("final", false)
			rec.AddMeta("approvals", len(r.Approvals))
			o.audit.LogAuditRec(rec)
		}
		return
	}
	var rec *model.AuditRecord
	switch {
	case r.State == records.RequestApproved && before.state == records.RequestPending:
		rec = requestAudit(AuditApproveRequest, r.DecidedBy, r)
		rec.AddMeta("final", true)
		rec.AddMeta("approvals", len(r.Approvals))
		o.metrics.decisions.WithLabelValues(r.Profile, string(r.State)).Inc()
	case r.State == records.RequestApproved:
		// The CA issued a request it held.
		rec = requestAudit(AuditRequestIssuedByCA, "", r)
	case r.State == records.RequestDenied:
		// No DecidedBy: the CA refused a request it held.
		rec = requestAudit(AuditDenyRequest, r.DecidedBy, r)
		rec.AddMeta("reason", r.Reason)
		rec.AddMeta("by_ca", r.DecidedBy == "")
		o.metrics.decisions.WithLabelValues(r.Profile, string(r.State)).Inc()
	case r.State == records.RequestCancelled:
		rec = requestAudit(AuditCancelRequest, string(r.Owner), r)
		o.metrics.decisions.WithLabelValues(r.Profile, string(r.State)).Inc()
	case r.State == records.RequestExpired:
		rec = requestAudit(AuditExpireRequest, "", r)
		o.metrics.decisions.WithLabelValues(r.Profile, string(r.State)).Inc()
	case r.State == records.RequestWaitingCA:
		rec = requestAudit(AuditRequestHeldByCA, "", r)
	default:
		// Issued: RecordIssuance closes the request and records that.
		return
	}
	rec.AddMeta("previous_state", string(before.state))
	o.audit.LogAuditRec(rec)
}

// AuditPortal records a portal sign-in, sign-out or password change, or a
// refused sign-in (no principal then: the name tried is not recorded, as
// it may be a password typed in the wrong field).
func AuditPortal(audit AuditLog, event string, principal records.Principal, outcome string) {
	rec := newAuditRecord(AuditPortalSession, model.AuditStatusSuccess, string(principal))
	rec.AddMeta("event", event)
	if outcome != "" {
		rec.AddMeta("outcome", outcome)
	}
	if principal == "" {
		rec.Fail()
	}
	audit.LogAuditRec(rec)
}

// AuditRenewal records that an owner started renewing a certificate: what
// it gave (a link or a request), never the link itself.
func AuditRenewal(audit AuditLog, owner *enroll.Requester, serial string, renewal *enroll.Start, err error) {
	rec := newAuditRecord(AuditRenewCertificate, model.AuditStatusSuccess, string(owner.Principal))
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
	audit.LogAuditRec(rec)
}
