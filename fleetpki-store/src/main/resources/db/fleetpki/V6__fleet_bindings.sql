-- A manufacturer CA is bound to the device model (fleet) its IDevIDs may enroll, or '*' for every
-- model; a CA trusted before this (fleet NULL) enrolls nothing until it is trusted again with --fleet.
ALTER TABLE manufacturer_ca ADD COLUMN fleet TEXT;

-- An operator credential (API token or client certificate) can be disabled and enabled again;
-- revocation stays final.
ALTER TABLE api_token ADD COLUMN disabled_at BIGINT;

-- Profiles beyond its role's that a token may obtain (server-tls, code-signing, cloud-verification),
-- comma-separated; NULL: none.
ALTER TABLE api_token ADD COLUMN profiles TEXT;
