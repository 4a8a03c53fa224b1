-- Sync between laptops and the central registry: device keys, this database's own secrets,
-- packs received and export bookmarks (what each peer is known to hold).

-- A device's Ed25519 public key (base64) and whether it is the central registry or a laptop.
ALTER TABLE device ADD COLUMN public_key TEXT;
ALTER TABLE device ADD COLUMN role TEXT NOT NULL DEFAULT 'laptop';

-- This database's secrets: the project key (AES-256-GCM) and its own signing key. Never synced,
-- never published; a staff view must not show this table.
CREATE TABLE keyring (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

-- Packs merged into this database, one row per distinct pack content.
CREATE TABLE pack_received (
    content_hash TEXT PRIMARY KEY,  -- SHA-256 of the pack's decrypted content
    device_id TEXT NOT NULL,        -- the device that made and signed it
    file_name TEXT NOT NULL,
    made_at TEXT NOT NULL,
    full INTEGER NOT NULL,          -- 1 = full export, 0 = incremental
    changes INTEGER NOT NULL,       -- changes the pack holds
    new INTEGER NOT NULL,           -- changes new to this database at the first merge
    known INTEGER NOT NULL,
    conflicts INTEGER NOT NULL,     -- conflicts the first merge raised
    blobs INTEGER NOT NULL,
    first_seen_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    times INTEGER NOT NULL DEFAULT 1
);

-- Export bookmarks: peer `device_id` is known to hold every change of `origin` up to `seq`
-- (learnt from the holdings a peer states in its packs). Incremental exports send the rest.
CREATE TABLE export_bookmark (
    device_id TEXT NOT NULL,
    origin TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (device_id, origin)
);
