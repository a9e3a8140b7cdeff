-- Enrollment credentials and pending requests (docs/credentials.md).

-- One-time enrollment secrets: like API tokens, only the SHA-256 of a 256-bit secret is kept.
-- A secret is consumed (used_at, used_serial) in the same transaction that stores the
-- certificate it bought, so it can never buy two.
CREATE TABLE enrollment_secret (
    id          TEXT PRIMARY KEY,
    device_id   TEXT NOT NULL REFERENCES device (id),
    secret_hash TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    created_by  TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    used_serial TEXT
);
CREATE INDEX enrollment_secret_device ON enrollment_secret (device_id);

-- Manufacturer (IDevID) CAs the operator trusts, and how their certificates name a device.
CREATE TABLE manufacturer_ca (
    name        TEXT PRIMARY KEY,
    cert_der    ${blob} NOT NULL,
    fingerprint TEXT NOT NULL UNIQUE,
    map_by      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    created_by  TEXT NOT NULL
);

-- A factory station is authenticated by its client certificate (SHA-256 of the DER) and may
-- enroll the devices of one fleet (a device model), or any when fleet is NULL.
ALTER TABLE station ADD COLUMN cert_sha256 TEXT;
ALTER TABLE station ADD COLUMN fleet TEXT;
CREATE UNIQUE INDEX station_cert ON station (cert_sha256);

-- An operator credential may be a client certificate instead of a bearer secret.
ALTER TABLE api_token ADD COLUMN cert_sha256 TEXT;
CREATE UNIQUE INDEX api_token_cert ON api_token (cert_sha256);

-- Requests waiting for an operator, and what became of them. At most one pending request per
-- device and profile (the partial unique index); the CSR's hash finds a re-sent request among the
-- device's requests (enrollment_request_device).
CREATE TABLE enrollment_request (
    id          TEXT PRIMARY KEY,
    device_id   TEXT NOT NULL,
    profile     TEXT NOT NULL,
    csr_der     ${blob} NOT NULL,
    csr_sha256  TEXT NOT NULL,
    status      TEXT NOT NULL,
    credential  TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    protocol    TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    decided_at  BIGINT,
    decided_by  TEXT,
    reason      TEXT,
    serial      TEXT
);
CREATE UNIQUE INDEX enrollment_request_pending ON enrollment_request (device_id, profile) WHERE status = 'PENDING';
CREATE INDEX enrollment_request_device ON enrollment_request (device_id, profile, created_at);
CREATE INDEX enrollment_request_status ON enrollment_request (status, created_at);
