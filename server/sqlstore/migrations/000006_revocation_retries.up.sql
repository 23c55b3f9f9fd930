-- A revocation its CA has not accepted (it could not be reached, or it
-- refused) is told again with a backoff: how often the job has tried, when
-- it tries next, what the CA answered last (words for an administrator,
-- never a secret), and when the administrators were told it is still
-- pending, so that they are told once.
ALTER TABLE certs_certificates ADD COLUMN revocation_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE certs_certificates ADD COLUMN revocation_retry_at BIGINT;
ALTER TABLE certs_certificates ADD COLUMN revocation_ca_answer TEXT NOT NULL DEFAULT '';
ALTER TABLE certs_certificates ADD COLUMN revocation_notice_at BIGINT;
