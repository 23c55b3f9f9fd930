-- Times are milliseconds since 1970 (BIGINT), as in Mattermost's own tables:
-- the server's database driver carries no time values.
--
-- The certificate inventory: certificates, the requests that wait for an
-- approver or a CA, the claim on each certified public key, and the events
-- the lifecycle records. Table names carry the plugin id.

CREATE TABLE certs_certificates (
    serial              TEXT PRIMARY KEY,
    -- issuer is the SHA-256 of the issuer's name (RawIssuer), in hex: with
    -- serial it names a certificate as CRLs and OCSP do.
    issuer              TEXT NOT NULL,
    connector           TEXT NOT NULL,
    owner               TEXT NOT NULL,
    subject             TEXT NOT NULL,
    common_name         TEXT NOT NULL,
    emails              JSONB NOT NULL DEFAULT '[]',
    uris                JSONB NOT NULL DEFAULT '[]',
    key_fingerprint     TEXT NOT NULL DEFAULT '',
    key_type            TEXT NOT NULL DEFAULT '',
    fingerprint         TEXT NOT NULL,
    origin              TEXT NOT NULL DEFAULT '',
    attestation         JSONB,
    profile             TEXT NOT NULL DEFAULT '',
    not_before          BIGINT NOT NULL,
    not_after           BIGINT NOT NULL,
    state               TEXT NOT NULL,
    revoked_at          BIGINT,
    revocation_reason   TEXT NOT NULL DEFAULT '',
    revoked_by          TEXT NOT NULL DEFAULT '',
    registered_by       TEXT NOT NULL DEFAULT '',
    revocable_at_ca     BOOLEAN NOT NULL DEFAULT FALSE,
    der                 BYTEA NOT NULL,
    created_at          BIGINT NOT NULL,
    version             INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX certs_certificates_owner ON certs_certificates (owner, created_at);
CREATE INDEX certs_certificates_state_not_after ON certs_certificates (state, not_after);
CREATE INDEX certs_certificates_connector_state ON certs_certificates (connector, state);
CREATE UNIQUE INDEX certs_certificates_issuer_serial ON certs_certificates (issuer, serial);

CREATE TABLE certs_requests (
    id                  TEXT PRIMARY KEY,
    owner               TEXT NOT NULL,
    profile             TEXT NOT NULL,
    connector           TEXT NOT NULL,
    state               TEXT NOT NULL,
    csr_pem             TEXT NOT NULL DEFAULT '',
    attestation         JSONB,
    ca_request_id       TEXT NOT NULL DEFAULT '',
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    expires_at          BIGINT NOT NULL,
    approvals           JSONB NOT NULL DEFAULT '[]',
    decided_by          TEXT NOT NULL DEFAULT '',
    decided_at          BIGINT,
    reason              TEXT NOT NULL DEFAULT '',
    serial              TEXT NOT NULL DEFAULT '',
    approval_posts      JSONB NOT NULL DEFAULT '[]',
    next_poll           BIGINT,
    polls               INTEGER NOT NULL DEFAULT 0,
    -- The sealed key a request holds until it is collected, and its copies
    -- under other encryption secrets; never a key in clear.
    pending_key         JSONB,
    pending_key_copies  JSONB NOT NULL DEFAULT '[]',
    key_type            TEXT NOT NULL DEFAULT '',
    certificate_der     BYTEA,
    chain_der           JSONB NOT NULL DEFAULT '[]',
    version             INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX certs_requests_owner ON certs_requests (owner, created_at);
CREATE INDEX certs_requests_open ON certs_requests (state) WHERE state IN ('pending', 'waiting_ca', 'approved');

-- One certificate per key while it is valid: a key is claimed by an upload
-- being served, a request, or a certificate, until expires_at.
CREATE TABLE certs_key_claims (
    key_fingerprint     TEXT PRIMARY KEY,
    holder_kind         TEXT NOT NULL,
    holder_id           TEXT NOT NULL,
    expires_at          BIGINT NOT NULL
);
CREATE INDEX certs_key_claims_expires_at ON certs_key_claims (expires_at);

CREATE TABLE certs_events (
    id                  BIGSERIAL PRIMARY KEY,
    at                  BIGINT NOT NULL,
    kind                TEXT NOT NULL,
    owner               TEXT NOT NULL DEFAULT '',
    serial              TEXT NOT NULL DEFAULT '',
    request_id          TEXT NOT NULL DEFAULT '',
    actor               TEXT NOT NULL DEFAULT '',
    detail              JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX certs_events_serial ON certs_events (serial) WHERE serial <> '';
CREATE INDEX certs_events_at ON certs_events (at);
