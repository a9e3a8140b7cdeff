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

-- Nonces a protocol has seen (SCEP's senderNonce): a message sent again is a replay and is refused.
-- Kept for 30 days (docs/scep.md), then forgotten by the server.
CREATE TABLE seen_nonce (
    scope   TEXT NOT NULL,
    value   TEXT NOT NULL,
    seen_at BIGINT NOT NULL,
    PRIMARY KEY (scope, value)
);
CREATE INDEX seen_nonce_at ON seen_nonce (seen_at);
