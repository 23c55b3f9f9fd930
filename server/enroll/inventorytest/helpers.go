package inventorytest

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

var (
	alice = records.MattermostUser("alice")
	bob   = records.MattermostUser("bob")
	carol = records.MattermostUser("carol")
)

// Issuer1 is the list of the built-in connector's CA, which Certificate
// names as its issuer.
var Issuer1 = records.CRLScope{Connector: "builtin", Issuer: "issuer-1"}

// Certificate is a valid Certificate of owner's recorded at at, for a year,
// of profile "default" of the built-in CA, with a key of its own.
func Certificate(serial string, owner records.Principal, at time.Time) *records.Certificate {
	return &records.Certificate{
		Serial: serial, Issuer: "issuer-1", Owner: owner, Subject: "CN=alice", CommonName: "alice",
		Emails: []string{"alice@example.com"}, NotBefore: at, NotAfter: at.Add(365 * 24 * time.Hour),
		Connector: "builtin", Profile: "default", KeyType: "ecdsa-p256", Fingerprint: "fp-" + serial,
		State: records.CertIssued, CreatedAt: at, DER: []byte{0x30, 0x01, 0x02}, Origin: records.OriginServerKey,
		KeyFingerprint: "key-" + serial,
	}
}

// SameKey is a certificate of alice's for the key "shared", from a CSR;
// edit changes it further.
func SameKey(serial string, at time.Time, edit func(*records.Certificate)) *records.Certificate {
	c := Certificate(serial, alice, at)
	c.KeyFingerprint, c.Origin = "shared", records.OriginCSR
	if edit != nil {
		edit(c)
	}
	return c
}

// renewal is a certificate of alice's that replaces renews.
func renewal(serial, renews string, at time.Time) *records.Certificate {
	c := Certificate(serial, alice, at)
	c.Renews = renews
	return c
}

// Request is a pending Request of owner's made at at.
func Request(id string, owner records.Principal, at time.Time) *records.Request {
	return &records.Request{ID: id, Owner: owner, Profile: "secure", Connector: "builtin", State: records.RequestPending,
		CreatedAt: at, UpdatedAt: at, ExpiresAt: at.Add(7 * 24 * time.Hour)}
}

// RevokeOrder revokes serial at at, with "step" as a connector whose CA
// keeps revocations of its own.
func RevokeOrder(serial, reason string, at time.Time) records.Revoke {
	return records.Revoke{Serial: serial, At: at, By: "u1", Reason: reason, RemoteConnectors: []string{"step"}}
}

func (s *suite) create(t *testing.T, certs ...*records.Certificate) {
	t.Helper()
	for _, c := range certs {
		require.NoError(t, s.inv.CreateCertificate(c), c.Serial)
	}
}

func (s *suite) get(t *testing.T, serial string) *records.Certificate {
	t.Helper()
	c, err := s.inv.GetCertificate(serial)
	require.NoError(t, err, serial)
	return c
}

func (s *suite) getRequest(t *testing.T, id string) *records.Request {
	t.Helper()
	r, err := s.inv.GetRequest(id)
	require.NoError(t, err, id)
	return r
}

func (s *suite) createRequest(t *testing.T, r *records.Request) {
	t.Helper()
	require.NoError(t, s.inv.CreateRequest(r), r.ID)
}

// approvedRequest records an approved request of owner's.
func (s *suite) approvedRequest(t *testing.T, id string, owner records.Principal) {
	t.Helper()
	r := Request(id, owner, s.now())
	r.State = records.RequestApproved
	s.createRequest(t, r)
}

func (s *suite) revoke(t *testing.T, serial, reason string) *records.Revoked {
	t.Helper()
	revoked, err := s.inv.RevokeCertificate(RevokeOrder(serial, reason, s.now()))
	require.NoError(t, err, serial)
	return revoked
}

// serials are the serials of certs, in their order.
func serials(certs []*records.Certificate) []string {
	out := make([]string, 0, len(certs))
	for _, c := range certs {
		out = append(out, c.Serial)
	}
	return out
}

func requestIDs(list []*records.Request) []string {
	out := make([]string, 0, len(list))
	for _, r := range list {
		out = append(out, r.ID)
	}
	return out
}

// ms is t as the database keeps it: whole milliseconds, in UTC.
func ms(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()).UTC() }

func msPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := ms(*t)
	return &v
}

// normalized is a copy of c with its times as the database keeps them,
// so that records from any store compare.
func normalized(c *records.Certificate) *records.Certificate {
	n := *c
	n.NotBefore, n.NotAfter, n.CreatedAt = ms(c.NotBefore), ms(c.NotAfter), ms(c.CreatedAt)
	n.RevokedAt, n.RevocationRetryAt, n.RevocationNoticeAt = msPtr(c.RevokedAt), msPtr(c.RevocationRetryAt), msPtr(c.RevocationNoticeAt)
	n.EmailChangedAt = msPtr(c.EmailChangedAt)
	n.Emails = slices.Clone(c.Emails)
	return &n
}

func normalizedRequest(r *records.Request) *records.Request {
	n := *r
	n.CreatedAt, n.UpdatedAt, n.ExpiresAt = ms(r.CreatedAt), ms(r.UpdatedAt), ms(r.ExpiresAt)
	n.DecidedAt, n.NextPoll = msPtr(r.DecidedAt), msPtr(r.NextPoll)
	n.Approvals = nil
	for _, a := range r.Approvals {
		n.Approvals = append(n.Approvals, records.Approval{By: a.By, At: ms(a.At)})
	}
	return &n
}
