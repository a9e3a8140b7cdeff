-- A manufacturer CA is bound to the device model (fleet) its IDevIDs may enroll, or '*' for every
-- model; a CA trusted before this (fleet NULL) enrolls nothing until it is trusted again with --fleet.
ALTER TABLE manufacturer_ca ADD COLUMN fleet TEXT;
