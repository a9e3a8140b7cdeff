-- The web console (docs/console.md). Operator accounts: a password hash (argon2id, or bcrypt
-- brought from elsewhere), never a password; failed sign-ins counted for the lock-out.
CREATE TABLE operator (
    name            TEXT PRIMARY KEY,
    role            TEXT NOT NULL,
    password_hash   TEXT,
    status          TEXT NOT NULL,
    failed_sign_ins INTEGER NOT NULL,
    locked_until    BIGINT,
    cert_sha256     TEXT UNIQUE,
    created_at      BIGINT NOT NULL,
    created_by      TEXT NOT NULL
);
-- Signed-in sessions, shared by every node. Only the SHA-256 of the cookie's random id is kept,
-- so reading this table does not let anyone sign in.
CREATE TABLE console_session (
    id_hash    TEXT PRIMARY KEY,
    operator   TEXT NOT NULL REFERENCES operator (name),
    created_at BIGINT NOT NULL,
    idle_until BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    how        TEXT NOT NULL
);
CREATE INDEX console_session_operator ON console_session (operator);
-- What the console's pages filter and count on, so each answers from an index at a million rows.
CREATE INDEX device_status ON device (status, id);
CREATE INDEX certificate_issued ON certificate (issued_at);
-- unrevoked certificates by their end: the dashboard's expiry chart and the expiry gauges read only this index
CREATE INDEX certificate_live_not_after ON certificate (not_after, ca, profile) WHERE revoked_at IS NULL;
CREATE INDEX audit_event_target ON audit_event (target, seq);
CREATE INDEX audit_event_action ON audit_event (action, seq);
-- First approvals of actions fleetpki.yaml puts under dualControl, waiting for a second operator.
CREATE TABLE dual_control (
    action   TEXT NOT NULL,
    target   TEXT NOT NULL,
    params   TEXT NOT NULL,
    first_by TEXT NOT NULL,
    first_at BIGINT NOT NULL,
    PRIMARY KEY (action, target)
);
