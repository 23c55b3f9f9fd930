-- Expiry reminders sent: one row per certificate and reminder (days before
-- expiry), so that each is sent once, whatever node sends it.
CREATE TABLE certs_reminders (
    serial              TEXT NOT NULL,
    days                INTEGER NOT NULL,
    sent_at             BIGINT NOT NULL,
    PRIMARY KEY (serial, days)
);
