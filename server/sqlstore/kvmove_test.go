//go:build e2e

package sqlstore

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/pluginapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

// carolID is a Mattermost user id, as records of version 0.1.0 name
// approvers: bare.
const carolID = "k5h8y3d1mjgz7c9n4q2wrxfb6e"

// kvRecordsOf010 writes records into a KV store as version 0.1.0 (commit
// ebe7801) wrote them: its JSON, its keys, its owner index.
func kvRecordsOf010(t *testing.T, kv *pluginapi.MemoryStore, now time.Time) (certDER []byte, csrPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	template := &x509.Certificate{SerialNumber: big.NewInt(0x1a2b), Subject: pkix.Name{CommonName: "alice"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(30 * 24 * time.Hour)}
	certDER, err = x509.CreateCertificate(rand.Reader, template, template, key.Public(), key)
	require.NoError(t, err)
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "alice"}}, key)
	require.NoError(t, err)
	csrPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER}))
	keyFingerprint, err := pki.PublicKeyFingerprint(key.Public())
	require.NoError(t, err)

	put := func(k string, v any) {
		data, err := json.Marshal(v)
		require.NoError(t, err)
		_, err = kv.Set(k, data)
		require.NoError(t, err)
	}
	put("cert:1a2b", map[string]any{
		"serial": "1a2b", "owner": "mm:alice", "subject": "CN=alice", "common_name": "alice",
		"emails": []string{"alice@example.com"}, "not_before": now.Add(-time.Hour), "not_after": now.Add(30 * 24 * time.Hour),
		"connector": "builtin", "profile": "default", "key_type": "ecdsa-p256", "fingerprint_sha256": "fp",
		"state": "issued", "created_at": now.Add(-time.Hour), "der": certDER, "origin": "csr", "key_fingerprint": keyFingerprint,
		"attestation": map[string]any{"format": "yubico-piv", "device_serial": "42", "root": "yubico"},
	})
	put("owner:mm:alice:certs", []string{"1a2b"})
	put("request:r-0000000001", map[string]any{
		"id": "r-0000000001", "owner": "mm:alice", "profile": "secure", "connector": "builtin", "state": "pending",
		"csr_pem": csrPEM, "created_at": now, "updated_at": now, "expires_at": now.Add(7 * 24 * time.Hour),
		"approval_posts": []map[string]string{{"user_id": carolID, "post_id": "p1"}},
	})
	put("request:r-0000000002", map[string]any{
		"id": "r-0000000002", "owner": "mm:bob", "profile": "secure", "connector": "builtin", "state": "denied",
		"created_at": now, "updated_at": now, "expires_at": now, "reason": "no", "decided_by": "carol", "decided_at": now,
	})
	return certDER, csrPEM
}

// The first activation after an upgrade moves the KV records into the
// tables, exactly once, and leaves them in place for a downgrade.
func TestRecordsOfVersion010MoveToTheTablesOnce(t *testing.T) {
	s, clock, _ := newTestStore(t)
	memory := &pluginapi.MemoryStore{}
	kv := store.New(memory)
	certDER, _ := kvRecordsOf010(t, memory, clock.Now())

	moved, err := s.MoveFromKV(kv, 8*24*time.Hour)
	require.NoError(t, err)
	require.NotNil(t, moved)
	assert.Equal(t, 1, moved.Certificates)
	assert.Equal(t, 2, moved.Requests)

	cert, err := s.GetCertificate("1a2b")
	require.NoError(t, err)
	assert.Equal(t, records.MattermostUser("alice"), cert.Owner)
	assert.Equal(t, certDER, cert.DER)
	assert.Equal(t, "42", cert.Attestation.DeviceSerial)
	parsed, err := x509.ParseCertificate(certDER)
	require.NoError(t, err)
	assert.Equal(t, pki.IssuerID(parsed), cert.Issuer, "the issuer is derived from the certificate")
	list, err := s.ListCertificates(records.MattermostUser("alice"))
	require.NoError(t, err)
	assert.Len(t, list, 1)

	pending, err := s.GetRequest("r-0000000001")
	require.NoError(t, err)
	assert.Equal(t, records.RequestPending, pending.State)
	require.Len(t, pending.ApprovalNotices, 1)
	assert.Equal(t, records.ApprovalNotice{Approver: records.MattermostUser(carolID), Ref: "p1"}, pending.ApprovalNotices[0],
		"a bare approver id is read as a Mattermost account's principal")
	open, err := s.ListOpenRequests()
	require.NoError(t, err)
	assert.Len(t, open, 1, "the denied one is closed")

	// The keys stay claimed: the certificate's and the pending CSR's.
	holder, err := s.KeyHolderOf(cert.KeyFingerprint)
	require.NoError(t, err)
	assert.Equal(t, records.KeyHolder{Kind: records.KeyHeldByCertificate, ID: "1a2b"}, holder)

	// Once: the second activation, or another node, moves nothing.
	again, err := s.MoveFromKV(kv, 8*24*time.Hour)
	require.NoError(t, err)
	assert.Nil(t, again)
	marker, err := kv.InventoryMoved()
	require.NoError(t, err)
	assert.Equal(t, 1, marker.Certificates)

	// The KV records are still there for the previous version.
	old, err := kv.GetCertificate("1a2b")
	require.NoError(t, err)
	assert.Equal(t, "1a2b", old.Serial)
	oldList, err := kv.ListCertificates(records.MattermostUser("alice"))
	require.NoError(t, err)
	assert.Len(t, oldList, 1)
}

// A move cut short (the server stopped) is run again whole and records
// nothing twice.
func TestAMoveCutShortIsRunAgain(t *testing.T) {
	s, clock, db := newTestStore(t)
	memory := &pluginapi.MemoryStore{}
	kv := store.New(memory)
	kvRecordsOf010(t, memory, clock.Now())
	_, err := s.MoveFromKV(kv, time.Hour)
	require.NoError(t, err)
	_, err = memory.Set("inventory:moved", nil) // as if the marker was never written
	require.NoError(t, err)

	moved, err := s.MoveFromKV(kv, time.Hour)
	require.NoError(t, err)
	assert.Equal(t, 1, moved.Certificates)
	var certs, requests int
	require.NoError(t, db.QueryRow(`SELECT (SELECT COUNT(*) FROM certs_certificates), (SELECT COUNT(*) FROM certs_requests)`).Scan(&certs, &requests))
	assert.Equal(t, 1, certs)
	assert.Equal(t, 2, requests)
}
