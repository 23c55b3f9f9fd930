package observe

import (
	"errors"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/mattermost/mattermost/server/public/pluginapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/observe/metricstest"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

// observedStore is a KV store as the core's inventory, observed.
func observedStore(t *testing.T) (Inventory, *Metrics, *fakeAudit) {
	m := NewMetrics("1.2.3", nil, time.Now)
	audit := &fakeAudit{t: t}
	return m.ObserveInventory(store.New(&pluginapi.MemoryStore{}), audit), m, audit
}

// certificate is a certificate record of owner, as the core makes one.
func certificate(serial, owner string, now time.Time) *records.Certificate {
	return &records.Certificate{
		Serial: serial, Issuer: "issuer", Owner: records.MattermostUser(owner), Subject: "CN=alice", CommonName: "alice",
		NotBefore: now, NotAfter: now.Add(365 * 24 * time.Hour), Connector: "builtin", Profile: "default",
		KeyType: "ecdsa-p256", Fingerprint: "fp-" + serial, State: records.CertIssued, CreatedAt: now,
		DER: []byte("DER-BYTES-NOT-FOR-THE-AUDIT"), Origin: records.OriginServerKey, KeyFingerprint: "key-" + serial,
	}
}

func TestIssuanceAndRevocationAreAuditedAndCounted(t *testing.T) {
	inv, m, audit := observedStore(t)
	now := time.Now()
	alice := model.NewId()

	issued := certificate("0A", alice, now)
	issued.Renews = "09"
	require.NoError(t, inv.RecordIssuance(issued, "", now, nil))
	rec := audit.One(t, AuditIssueCertificate)
	assert.Equal(t, model.AuditStatusSuccess, rec.Status)
	assert.Equal(t, alice, rec.Actor.UserId)
	assert.Equal(t, "0A", rec.Meta["serial"])
	assert.Equal(t, "default", rec.Meta["profile"])
	assert.Equal(t, "builtin", rec.Meta["connector"])
	assert.Equal(t, alice, rec.Meta["owner"])
	assert.Equal(t, records.OriginServerKey, rec.Meta["origin"])
	assert.Equal(t, "ecdsa-p256", rec.Meta["key_type"])
	assert.Equal(t, "09", rec.Meta["renews"])
	assert.Equal(t, issued.NotAfter.UTC().Format(time.RFC3339), rec.Meta["not_after"])
	assert.Equal(t, "certificate", rec.EventData.ObjectType)
	assert.Equal(t, 1.0, metricstest.Sample(scrape(t, m), "certs_certificates_issued_total", "connector", "builtin", "profile", "default"))

	// Recorded again (a delivery held since it was issued): audited and
	// counted the first time only.
	require.ErrorIs(t, inv.RecordIssuance(certificate("0A", alice, now), "", now, nil), records.ErrAlreadyRecorded)
	assert.Len(t, audit.Of(AuditIssueCertificate), 1)
	assert.Equal(t, 1.0, metricstest.Sample(scrape(t, m), "certs_certificates_issued_total", "connector", "builtin", "profile", "default"))

	// A certificate that could not be recorded.
	require.Error(t, inv.RecordIssuance(certificate("0B", alice, now), "", now, &records.Quota{Profile: "default", PerDay: 1, Since: now.Add(-24 * time.Hour)}))
	recs := audit.Of(AuditIssueCertificate)
	require.Len(t, recs, 2)
	assert.Equal(t, model.AuditStatusFail, recs[1].Status)
	assert.Contains(t, recs[1].Error.Description, "the certificate could not be recorded")
	assert.Equal(t, 1.0, metricstest.Sample(scrape(t, m), "certs_certificates_issued_total", "connector", "builtin", "profile", "default"))

	// A key compromise revokes the key's other certificates with it: each
	// is audited and counted.
	sibling := certificate("0C", alice, now)
	sibling.KeyFingerprint = issued.KeyFingerprint
	require.NoError(t, inv.RecordIssuance(sibling, "", now, nil))
	bob := model.NewId()
	_, err := inv.RevokeCertificate(records.Revoke{Serial: "0A", At: now, By: bob, Reason: records.ReasonKeyCompromise})
	require.NoError(t, err)
	revocations := audit.Of(AuditRevokeCertificate)
	require.Len(t, revocations, 2)
	assert.Equal(t, bob, revocations[0].Actor.UserId, "RevokedBy is the actor")
	assert.Equal(t, "0A", revocations[0].Meta["serial"])
	assert.Equal(t, records.ReasonKeyCompromise, revocations[0].Meta["reason"])
	assert.Equal(t, false, revocations[0].Meta["pending_at_ca"])
	assert.NotContains(t, revocations[0].Meta, "key_compromised_with")
	assert.Equal(t, "0C", revocations[1].Meta["serial"])
	assert.Equal(t, "0A", revocations[1].Meta["key_compromised_with"])
	assert.Equal(t, 2.0, metricstest.Sample(scrape(t, m), "certs_revocations_total", "connector", "builtin", "reason", records.ReasonKeyCompromise))

	// Revoking again changes nothing, and records nothing.
	_, err = inv.RevokeCertificate(records.Revoke{Serial: "0A", At: now, By: bob, Reason: records.ReasonSuperseded})
	require.Error(t, err)
	assert.Len(t, audit.Of(AuditRevokeCertificate), 2)

	// A revocation without a reason is counted as unspecified.
	require.NoError(t, inv.RecordIssuance(certificate("0D", alice, now), "", now, nil))
	_, err = inv.RevokeCertificate(records.Revoke{Serial: "0D", At: now, By: alice})
	require.NoError(t, err)
	assert.Equal(t, 1.0, metricstest.Sample(scrape(t, m), "certs_revocations_total", "reason", records.ReasonUnspecified))

	assert.NotContains(t, audit.Text(), "DER-BYTES", "no certificate bytes in an audit record")
}

func TestRegistrationIsAuditedForWhoRegistered(t *testing.T) {
	inv, m, audit := observedStore(t)
	now := time.Now()
	alice, admin := model.NewId(), model.NewId()
	own := certificate("01", alice, now)
	own.Origin = records.OriginImported
	require.NoError(t, inv.CreateCertificate(own))
	byAdmin := certificate("02", alice, now)
	byAdmin.Origin, byAdmin.RegisteredBy, byAdmin.RevocableAtCA = records.OriginImported, admin, true
	require.NoError(t, inv.CreateCertificate(byAdmin))
	require.Error(t, inv.CreateCertificate(certificate("02", alice, now)), "a serial recorded already")

	recs := audit.Of(AuditRegisterCertificate)
	require.Len(t, recs, 2)
	assert.Equal(t, alice, recs[0].Actor.UserId, "the owner registered it")
	assert.Equal(t, false, recs[0].Meta["revocable_at_ca"])
	assert.Equal(t, admin, recs[1].Actor.UserId)
	assert.Equal(t, true, recs[1].Meta["revocable_at_ca"])
	assert.Equal(t, records.OriginImported, recs[1].Meta["origin"])
	assert.Equal(t, -1.0, metricstest.Sample(scrape(t, m), "certs_certificates_issued_total"), "registered, not issued")
}

func TestRequestsAreAuditedAtEachDecision(t *testing.T) {
	inv, m, audit := observedStore(t)
	now := time.Now()
	alice, carol, dave := model.NewId(), model.NewId(), model.NewId()
	request := func(id string, state records.RequestState) {
		t.Helper()
		require.NoError(t, inv.CreateRequest(&records.Request{ID: id, Owner: records.MattermostUser(alice), Profile: "secure", Connector: "builtin",
			State: state, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour)}))
	}
	move := func(id string, to records.RequestState, edit func(*records.Request) error) {
		t.Helper()
		_, err := inv.MoveRequest(id, now, nil, to, edit)
		require.NoError(t, err)
	}

	request("approved", records.RequestPending)
	rec := audit.One(t, AuditRequestCertificate)
	assert.Equal(t, alice, rec.Actor.UserId)
	assert.Equal(t, "approved", rec.Meta["request_id"])
	assert.Equal(t, "secure", rec.Meta["profile"])
	assert.Equal(t, "pending", rec.Meta["state"])
	assert.Equal(t, "certificate_request", rec.EventData.ObjectType)

	// Two approvers: the first yes is not the decision.
	_, err := inv.UpdateRequest("approved", now, func(r *records.Request) error {
		r.Approvals = append(r.Approvals, records.Approval{By: records.MattermostUser(dave), At: now})
		return nil
	})
	require.NoError(t, err)
	rec = audit.One(t, AuditApproveRequest)
	assert.Equal(t, dave, rec.Actor.UserId)
	assert.Equal(t, false, rec.Meta["final"])
	assert.Equal(t, 1, rec.Meta["approvals"])
	move("approved", records.RequestApproved, func(r *records.Request) error {
		r.Approvals = append(r.Approvals, records.Approval{By: records.MattermostUser(carol), At: now})
		r.DecidedBy = string(records.MattermostUser(carol))
		return nil
	})
	recs := audit.Of(AuditApproveRequest)
	require.Len(t, recs, 2)
	assert.Equal(t, carol, recs[1].Actor.UserId, "DecidedBy is the actor")
	assert.Equal(t, true, recs[1].Meta["final"])
	assert.Equal(t, 2, recs[1].Meta["approvals"])
	assert.Equal(t, "pending", recs[1].Meta["previous_state"])

	// An edit that changes no state records nothing.
	_, err = inv.UpdateRequest("approved", now, func(r *records.Request) error { r.Reason = "noted"; return nil })
	require.NoError(t, err)
	assert.Len(t, audit.Of(AuditApproveRequest), 2)

	request("denied", records.RequestPending)
	move("denied", records.RequestDenied, func(r *records.Request) error { r.DecidedBy, r.Reason = carol, "not for you"; return nil })
	rec = audit.One(t, AuditDenyRequest)
	assert.Equal(t, carol, rec.Actor.UserId)
	assert.Equal(t, "not for you", rec.Meta["reason"])
	assert.Equal(t, false, rec.Meta["by_ca"])

	request("cancelled", records.RequestPending)
	move("cancelled", records.RequestCancelled, nil)
	assert.Equal(t, alice, audit.One(t, AuditCancelRequest).Actor.UserId)

	request("expired", records.RequestPending)
	move("expired", records.RequestExpired, nil)
	rec = audit.One(t, AuditExpireRequest)
	assert.Empty(t, rec.Actor.UserId, "nobody: the job")

	// A request the CA holds, then issues; one it holds, then refuses.
	request("held", records.RequestWaitingCA)
	held := audit.Of(AuditRequestHeldByCA)
	require.Len(t, held, 1)
	assert.Equal(t, alice, held[0].Actor.UserId)
	move("held", records.RequestApproved, nil)
	rec = audit.One(t, AuditRequestIssuedByCA)
	assert.Equal(t, "waiting_ca", rec.Meta["previous_state"])
	request("refused", records.RequestPending)
	move("refused", records.RequestWaitingCA, nil)
	assert.Len(t, audit.Of(AuditRequestHeldByCA), 2)
	move("refused", records.RequestDenied, func(r *records.Request) error { r.Reason = "template not allowed"; return nil })
	denials := audit.Of(AuditDenyRequest)
	require.Len(t, denials, 2)
	assert.Equal(t, true, denials[1].Meta["by_ca"])

	// Issued: the issuance closes the request, and audits that.
	require.NoError(t, inv.RecordIssuance(certificate("0A", alice, now), "approved", now, nil))
	assert.Len(t, audit.Of(AuditIssueCertificate), 1)
	assert.Equal(t, "approved", audit.One(t, AuditIssueCertificate).Meta["request_id"])

	// A change the state does not allow records nothing.
	_, err = inv.MoveRequest("cancelled", now, nil, records.RequestApproved, nil)
	var transition *records.ErrTransition
	require.True(t, errors.As(err, &transition))
	assert.Len(t, audit.Of(AuditApproveRequest), 2)

	families := scrape(t, m)
	assert.Equal(t, 1.0, metricstest.Sample(families, "certs_request_decisions_total", "profile", "secure", "outcome", "approved"))
	assert.Equal(t, 2.0, metricstest.Sample(families, "certs_request_decisions_total", "profile", "secure", "outcome", "denied"))
	assert.Equal(t, 1.0, metricstest.Sample(families, "certs_request_decisions_total", "profile", "secure", "outcome", "cancelled"))
	assert.Equal(t, 1.0, metricstest.Sample(families, "certs_request_decisions_total", "profile", "secure", "outcome", "expired"))
}

func TestRenewalIsAuditedWithoutTheLink(t *testing.T) {
	audit := &fakeAudit{t: t}
	alice := &enroll.Requester{Principal: records.MattermostUser(model.NewId())}
	AuditRenewal(audit, alice, "0A", &enroll.Start{Link: &enroll.Link{Token: "token=secret-link", Purpose: linktoken.PurposeIssue, Profile: "default"}}, nil)
	AuditRenewal(audit, alice, "0B", &enroll.Start{Request: &records.Request{ID: "req1", Profile: "secure"}}, nil)
	AuditRenewal(audit, alice, "0C", nil, errors.New("you may not renew this certificate"))

	recs := audit.Of(AuditRenewCertificate)
	require.Len(t, recs, 3)
	assert.Equal(t, model.AuditStatusSuccess, recs[0].Status)
	assert.Equal(t, alice.Principal.MattermostUserID(), recs[0].Actor.UserId)
	assert.Equal(t, "0A", recs[0].Meta["serial"])
	assert.Equal(t, "link", recs[0].Meta["next"])
	assert.Equal(t, "default", recs[0].Meta["profile"])
	assert.Equal(t, string(linktoken.PurposeIssue), recs[0].Meta["link_purpose"])
	assert.Equal(t, "request", recs[1].Meta["next"])
	assert.Equal(t, "req1", recs[1].Meta["request_id"])
	assert.Equal(t, "secure", recs[1].Meta["profile"])
	assert.Equal(t, model.AuditStatusFail, recs[2].Status)
	assert.Equal(t, "you may not renew this certificate", recs[2].Error.Description)
	assert.NotContains(t, audit.Text(), "secret-link", "the renewal link is not in the record")
}

// An account id is the actor; a job's name is kept in the meta.
func TestAuditRecordActors(t *testing.T) {
	id := model.NewId()
	assert.Equal(t, id, newAuditRecord(AuditExpireRequest, model.AuditStatusSuccess, id).Actor.UserId)
	job := newAuditRecord(AuditExpireRequest, model.AuditStatusSuccess, "request-job")
	assert.Empty(t, job.Actor.UserId)
	assert.Equal(t, "request-job", job.Meta["actor"])
	assert.NotContains(t, newAuditRecord(AuditExpireRequest, model.AuditStatusSuccess, "").Meta, "actor")
}
