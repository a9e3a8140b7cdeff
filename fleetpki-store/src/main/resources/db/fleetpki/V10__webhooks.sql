-- Registry notifications (docs/cloud.md). The audit log is the outbox: every event to notify is an
-- audit event, written in the transaction of its cause. webhook_endpoint keeps each endpoint's
-- cursor (the last audit seq handled), its delivery lease (one node delivers an endpoint) and its
-- counters; webhook_failure keeps the events whose attempts ran out, until retried or forever.
-- No secret is kept: the HMAC key is named in fleetpki.yaml.
CREATE TABLE webhook_endpoint (
    name             TEXT PRIMARY KEY,
    cursor_seq       BIGINT NOT NULL,
    delivered        BIGINT NOT NULL,
    last_delivery_at BIGINT,
    last_error       TEXT,
    last_error_at    BIGINT,
    lease_owner      TEXT,
    lease_until      BIGINT
);

CREATE TABLE webhook_failure (
    endpoint        TEXT NOT NULL,
    audit_seq       BIGINT NOT NULL,
    event           TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    last_error      TEXT NOT NULL,
    failed_at       BIGINT NOT NULL,
    retry_requested BOOLEAN NOT NULL,
    PRIMARY KEY (endpoint, audit_seq)
);
