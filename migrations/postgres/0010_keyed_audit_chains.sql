-- Audit trails are sealed with a key derived from the server key from now on. Trails
-- written before are marked here; the server checks each with the unkeyed SHA-256 it was
-- written with and, if intact, seals it with the key at start-up (clearing the mark).
ALTER TABLE accounts ADD COLUMN audit_legacy BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE accounts SET audit_legacy = TRUE WHERE audit_seq > 0;
