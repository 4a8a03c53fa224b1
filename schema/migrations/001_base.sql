-- The fixed tables of every anju database. Record tables (household, member, ...) are derived
-- from the survey definition by registry/store.py, not written here.

CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT
);

-- The change log: the truth. Record tables are a materialised fold of it.
CREATE TABLE change (
    change_id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    record_type TEXT NOT NULL,
    record_id TEXT NOT NULL,
    fields TEXT NOT NULL,          -- JSON: field -> new value
    base TEXT NOT NULL,            -- JSON: field -> change_id (or list of them) last seen, or null
    at TEXT NOT NULL,              -- UTC, ISO 8601 with microseconds and Z
    by TEXT NOT NULL,              -- user name
    note TEXT,                     -- reason of a tombstone, resolution or amendment
    received_at TEXT NOT NULL,     -- local bookkeeping: when this database learnt of it
    UNIQUE (device_id, seq)
);
CREATE INDEX change_record ON change (record_id);
CREATE INDEX change_received ON change (received_at);

-- Open conflicts: concurrent edits of one field with different values (derived from changes).
CREATE TABLE conflict (
    record_type TEXT NOT NULL,
    record_id TEXT NOT NULL,
    field TEXT NOT NULL,
    winner TEXT NOT NULL,          -- change_id whose value the record shows meanwhile
    candidates TEXT NOT NULL,      -- JSON list of {change_id, value, device_id, by, at}
    PRIMARY KEY (record_type, record_id, field)
);

-- Content-addressed files (photos, scans) that attachment records refer to.
CREATE TABLE blob (
    sha256 TEXT PRIMARY KEY,
    mime TEXT NOT NULL,
    size INTEGER NOT NULL,
    data BLOB NOT NULL
);

-- Local accounts of this database (not synced).
CREATE TABLE user (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('surveyor', 'supervisor', 'admin')),
    created_at TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0
);

-- Devices known to this database: laptops enrolled by the central office, and itself.
CREATE TABLE device (
    device_id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    enrolled_at TEXT NOT NULL,
    revoked_at TEXT
);
