-- The revocation list of each CA the plugin signs for, by connector and
-- issuer (the SHA-256 of the CA's subject, as certs_certificates.issuer
-- names it). revision counts the revocations of that CA's certificates: the
-- statement that revokes a certificate adds one, so a list signed from
-- revocations read after revision was read covers that revision. A list
-- whose covered is below revision is behind the inventory, and is signed
-- again. Lists are signed one at a time per CA, under an advisory lock, so
-- that numbers grow with what they cover.
CREATE TABLE certs_crls (
    connector           TEXT NOT NULL,
    issuer              TEXT NOT NULL,
    revision            BIGINT NOT NULL DEFAULT 0,
    covered             BIGINT NOT NULL DEFAULT 0,
    number              BIGINT NOT NULL DEFAULT 0,
    this_update         BIGINT NOT NULL DEFAULT 0,
    next_update         BIGINT NOT NULL DEFAULT 0,
    entries             INTEGER NOT NULL DEFAULT 0,
    der                 BYTEA,
    PRIMARY KEY (connector, issuer)
);
-- A signed list hardly compresses: stored as it is, it is written and read
-- without a compression pass over megabytes.
ALTER TABLE certs_crls ALTER COLUMN der SET STORAGE EXTERNAL;

-- A key revoked for keyCompromise is never certified again, whoever asks
-- and however: every statement that records a certificate checks this
-- table, and the revocation that adds a key revokes its other certificates
-- in the same transaction.
CREATE TABLE certs_compromised_keys (
    key_fingerprint     TEXT PRIMARY KEY,
    serial              TEXT NOT NULL,
    reported_at         BIGINT NOT NULL
);

-- The rule itself: no valid certificate is recorded for a compromised key,
-- on any path. The insert of a key that came from outside (a CSR, a
-- registration) first locks the key for its transaction; a revocation for
-- keyCompromise takes the same lock before it marks the key and revokes its
-- other certificates, so of the two, the later sees the earlier: a
-- certificate recorded first is revoked with its siblings, one recorded
-- after is refused. A key the server made is new: no other certificate of
-- it exists for a compromise to race, so it is checked without a lock (a
-- lock a row would run out of lock slots on a large insert).
CREATE FUNCTION certs_refuse_compromised_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.origin <> 'server_key' THEN
        PERFORM pg_advisory_xact_lock(hashtextextended('certs-key/' || NEW.key_fingerprint, 0));
    END IF;
    IF EXISTS (SELECT 1 FROM certs_compromised_keys WHERE key_fingerprint = NEW.key_fingerprint) THEN
        RAISE EXCEPTION 'certs: compromised key %', NEW.key_fingerprint USING ERRCODE = 'CK001';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER certs_certificates_compromised_key BEFORE INSERT ON certs_certificates
    FOR EACH ROW WHEN (NEW.state = 'issued' AND NEW.key_fingerprint <> '') EXECUTE FUNCTION certs_refuse_compromised_key();

-- The revoked certificates of one CA, for its list.
CREATE INDEX certs_certificates_revoked ON certs_certificates (connector, issuer, not_after) WHERE state = 'revoked';
-- The other certificates of a compromised key.
CREATE INDEX certs_certificates_key ON certs_certificates (key_fingerprint) WHERE key_fingerprint <> '';

-- Keys revoked as compromised before this table existed.
INSERT INTO certs_compromised_keys (key_fingerprint, serial, reported_at)
    SELECT DISTINCT ON (key_fingerprint) key_fingerprint, serial, COALESCE(revoked_at, created_at)
    FROM certs_certificates WHERE state = 'revoked' AND revocation_reason = 'keyCompromise' AND key_fingerprint <> ''
    ORDER BY key_fingerprint, COALESCE(revoked_at, created_at);
