-- CMP transactions (docs/cmp.md): what the server remembers between the messages of one
-- transactionID. The id is the primary key, so a replayed or reused transactionID is refused.
-- No secret is kept: credential names a one-time secret by its id or a certificate by its SHA-256.
CREATE TABLE cmp_transaction (
    id           TEXT PRIMARY KEY,
    device_id    TEXT,
    credential   TEXT NOT NULL,
    answer_type  INTEGER NOT NULL,
    state        TEXT NOT NULL,
    server_nonce TEXT,
    request_id   TEXT,
    serial       TEXT,
    created_at   BIGINT NOT NULL,
    confirm_by   BIGINT
);
CREATE INDEX cmp_transaction_unconfirmed ON cmp_transaction (state, confirm_by);
