-- Revocation publishing: CRLs and pre-signed OCSP responses (docs/revocation.md).

-- When the key was (or may have been) compromised, if the operator knows: the CRL entry's
-- invalidity date (RFC 5280 5.3.2). revoked_at stays the time fleetpki recorded the revocation.
ALTER TABLE certificate ADD COLUMN invalidity_date BIGINT;
-- CRL generation reads a CA's revoked certificates; few certificates are revoked, so a partial index.
CREATE INDEX certificate_revoked ON certificate (ca, revoked_at) WHERE revoked_at IS NOT NULL;

-- A sub-CA (issuing, code-signing) or the OCSP signer can be revoked too; its parent's CRL lists it.
ALTER TABLE ca ADD COLUMN revoked_at BIGINT;
ALTER TABLE ca ADD COLUMN revocation_reason TEXT;

-- The newest CRL of each CA and shard. A CA's CRL numbers grow by one per generation run (all of
-- its shards share the run's number), so number is monotonic per CA (RFC 5280 5.2.3).
CREATE TABLE crl (
    ca          TEXT NOT NULL,
    shard       INTEGER NOT NULL,
    shards      INTEGER NOT NULL,
    number      BIGINT NOT NULL,
    this_update BIGINT NOT NULL,
    next_update BIGINT NOT NULL,
    entries     BIGINT NOT NULL,
    der         ${blob} NOT NULL,
    PRIMARY KEY (ca, shard)
);

-- Pre-signed OCSP responses (RFC 5019): one per live certificate, signed ahead of time by the OCSP
-- signer and refreshed before next_update. A revocation deletes the row in its own transaction, so
-- no node serves a "good" answer for a certificate once its revocation has committed.
CREATE TABLE ocsp_response (
    serial      TEXT PRIMARY KEY,
    ca          TEXT NOT NULL,
    status      TEXT NOT NULL,
    this_update BIGINT NOT NULL,
    next_update BIGINT NOT NULL,
    der         ${blob} NOT NULL
);
CREATE INDEX ocsp_response_next_update ON ocsp_response (next_update);
