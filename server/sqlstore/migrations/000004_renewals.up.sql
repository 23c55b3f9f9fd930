-- Renewals: the certificate a certificate (or a request) replaces, so that
-- a renewal takes the place of the one it renews in an owner's limits; and
-- when the owner's email was found changed since a certificate named it.
ALTER TABLE certs_certificates ADD COLUMN renews TEXT NOT NULL DEFAULT '';
ALTER TABLE certs_certificates ADD COLUMN email_changed_at BIGINT;
CREATE INDEX certs_certificates_renews ON certs_certificates (renews) WHERE renews <> '';
ALTER TABLE certs_requests ADD COLUMN renews TEXT NOT NULL DEFAULT '';
