-- Trust at the merge (docs/design.md, "Trust model of changes").
-- Each change carries its origin's Ed25519 signature and the link to the origin's previous
-- change, so it verifies against the origin's enrolled key wherever it travels.
ALTER TABLE change ADD COLUMN prev TEXT;   -- hex link to the origin's change seq - 1 (or null)
ALTER TABLE change ADD COLUMN sig TEXT;    -- base64 Ed25519 signature of the origin
-- What each device may write (JSON list of capability names); null: its role's default.
ALTER TABLE device ADD COLUMN capabilities TEXT;
-- Changes of a revoked device accepted by an explicit admin action (`anju recover --attest`).
CREATE TABLE attestation (
    change_id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,       -- the revoked origin
    attested_by TEXT NOT NULL,     -- who took responsibility (a person at the central office)
    attested_at TEXT NOT NULL,
    source TEXT NOT NULL           -- the backup file the changes came from
);
