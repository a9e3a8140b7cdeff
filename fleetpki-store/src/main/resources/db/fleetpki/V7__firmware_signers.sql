-- Firmware signers (docs/firmware.md): a named signer holds a code-signing certificate from the
-- code-signing CA for a key that stays in its file or token, and signs images for the device models
-- it is bound to. Only the key's reference is stored, never the key.
CREATE TABLE signer (
    name       TEXT PRIMARY KEY,
    models     TEXT NOT NULL,
    key_ref    TEXT NOT NULL,
    serial     TEXT NOT NULL,
    status     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at BIGINT
);

-- Every certificate a signer has held (the current one and those rotated away), for revoking a
-- signer and for listing what it held. A certificate belongs to at most one signer.
CREATE TABLE signer_certificate (
    serial TEXT PRIMARY KEY REFERENCES certificate (serial),
    signer TEXT NOT NULL REFERENCES signer (name)
);
CREATE INDEX signer_certificate_signer ON signer_certificate (signer);

-- What an API token with role FIRMWARE_SIGNER may sign with, and for which device models,
-- comma-separated ('*': every model); NULL: nothing (closed).
ALTER TABLE api_token ADD COLUMN signers TEXT;
ALTER TABLE api_token ADD COLUMN models TEXT;
