-- A counter that every revocation (certificate, device, sub-CA) bumps in its own transaction. OCSP
-- responders keep answers in memory and poll this one row; when it moves they drop what they keep,
-- so a revocation committed on any node reaches every responder within one poll interval
-- (docs/revocation.md). The row lock also orders concurrent revocations.
CREATE TABLE revocation_epoch (
    id    INTEGER PRIMARY KEY,
    epoch BIGINT NOT NULL
);
INSERT INTO revocation_epoch (id, epoch) VALUES (1, 0);
