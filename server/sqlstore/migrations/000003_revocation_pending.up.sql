-- A revocation the certificate's CA has not accepted yet (it could not be
-- reached): the record is revoked, and the job tells the CA until it does.
ALTER TABLE certs_certificates ADD COLUMN revocation_pending BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX certs_certificates_revocation_pending ON certs_certificates (serial) WHERE revocation_pending;
