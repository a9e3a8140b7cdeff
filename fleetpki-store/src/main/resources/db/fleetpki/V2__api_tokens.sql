-- API tokens for operators and automation. The secret part of a token is never stored: only its
-- SHA-256 (tokens are 256-bit random values, so a slow hash adds nothing). A token is looked up
-- by its public id, then its hash compared in constant time.
CREATE TABLE api_token (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    created_by  TEXT NOT NULL,
    expires_at  BIGINT,
    revoked_at  BIGINT
);
