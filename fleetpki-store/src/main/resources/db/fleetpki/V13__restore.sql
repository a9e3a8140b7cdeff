-- After a restore to an older state (fleetpki restore, docs/backup.md): the CRL numbers the lost
-- state may have used are skipped. A CA's next CRL number is one more than the larger of its stored
-- CRLs' number and this floor.
CREATE TABLE crl_number_floor (
    ca    TEXT PRIMARY KEY,
    floor BIGINT NOT NULL
);
