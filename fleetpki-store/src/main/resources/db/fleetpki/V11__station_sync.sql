-- Offline factory stations (docs/factory.md). What 'fleetpki factory sync' took from each station
-- CA's record journal: how many entries and the hash of the last one. A later journal of the same
-- CA must hold these entries unchanged (the journal only grows) before anything new is taken.
CREATE TABLE station_sync (
    ca            TEXT PRIMARY KEY,
    station       TEXT NOT NULL,
    cert_sha256   TEXT NOT NULL,
    entries       BIGINT NOT NULL,
    head_hash     TEXT NOT NULL,
    synced_at     BIGINT NOT NULL
);
