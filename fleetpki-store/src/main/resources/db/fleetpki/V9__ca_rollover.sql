-- CA rollovers (docs/rollover.md): a CA being replaced by a successor with a new key, and the step
-- reached. Each step is recorded in the transaction that stores what it made, so a rerun of
-- 'fleetpki ca rollover' continues after the last recorded step. No key material: key_ref names where
-- the successor's key is. For a root, the two cross certificates are kept here for publication
-- (they are also rows of the certificate table, so they can be revoked).
CREATE TABLE ca_rollover (
    old_name     TEXT PRIMARY KEY,
    new_name     TEXT NOT NULL UNIQUE,
    role         TEXT NOT NULL,
    key_ref      TEXT NOT NULL,
    subject      TEXT NOT NULL,
    step         TEXT NOT NULL,
    new_with_old ${blob},
    old_with_new ${blob},
    started_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
