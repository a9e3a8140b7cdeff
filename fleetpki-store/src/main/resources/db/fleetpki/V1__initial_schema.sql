-- fleetpki schema, shared by SQLite and PostgreSQL. ${blob} is BLOB on SQLite, BYTEA on PostgreSQL.
-- Times are epoch milliseconds (BIGINT) so both databases compare them the same way.

CREATE TABLE ca (
    name        TEXT PRIMARY KEY,
    role        TEXT NOT NULL,
    cert_der    ${blob} NOT NULL,
    key_ref     TEXT,
    parent      TEXT,
    created_at  BIGINT NOT NULL
);

CREATE TABLE device (
    id           TEXT PRIMARY KEY,
    model        TEXT,
    tags         TEXT NOT NULL,
    status       TEXT NOT NULL,
    key_location TEXT,
    created_at   BIGINT NOT NULL
);

CREATE TABLE station (
    name       TEXT PRIMARY KEY,
    status     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- A serial is reserved (unique) before anything is signed with it. Serials are reserved in
-- batches ahead of need; one that was reserved but never issued (no certificate row refers to
-- it) is never handed out again.
CREATE TABLE serial_reservation (
    serial      TEXT PRIMARY KEY,
    reserved_at BIGINT NOT NULL
);

CREATE TABLE certificate (
    serial              TEXT PRIMARY KEY REFERENCES serial_reservation (serial),
    ca                  TEXT NOT NULL,
    device_id           TEXT,
    profile             TEXT NOT NULL,
    subject             TEXT NOT NULL,
    not_before          BIGINT NOT NULL,
    not_after           BIGINT NOT NULL,
    der                 ${blob} NOT NULL,
    proof_of_possession BOOLEAN NOT NULL,
    issued_by           TEXT NOT NULL,
    issued_at           BIGINT NOT NULL,
    protocol            TEXT NOT NULL,
    revoked_at          BIGINT,
    revocation_reason   TEXT
);
CREATE INDEX certificate_device ON certificate (device_id, issued_at);
CREATE INDEX certificate_not_after ON certificate (not_after);

-- Hash-chained audit log: hash = SHA-256(prev_hash, seq, at, actor, action, target, detail).
CREATE TABLE audit_event (
    seq       BIGINT PRIMARY KEY,
    at        BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
-- The chain head: its row lock serializes appends across nodes; it also reveals a deleted tail.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY,
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
