-- The residents' site (issue 16). The disclosure ledger: every release of a sensitive total the
-- public database ever carried, with what it was made of, so that no later publication can be
-- differenced against it (registry/publication/disclosure.py). Central-office state, never
-- synced, never published. And the staff site's audit log of every full (unmasked) view.
CREATE TABLE IF NOT EXISTS disclosure_release (
    release_id INTEGER PRIMARY KEY,
    cell TEXT NOT NULL,
    value REAL NOT NULL,
    published REAL NOT NULL,
    basis BLOB NOT NULL,            -- zlib JSON: counted household numbers, contributions
    publication_id TEXT NOT NULL,
    released_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS disclosure_release_cell ON disclosure_release (cell, release_id);
-- Household numbers used in the bases (compact, assigned once).
CREATE TABLE IF NOT EXISTS disclosure_household (
    household_id TEXT PRIMARY KEY,
    n INTEGER NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS disclosure_publication (
    publication_id TEXT PRIMARY KEY,
    at TEXT NOT NULL,
    shown TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS full_view_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    role TEXT,
    record_type TEXT NOT NULL,
    record_id TEXT NOT NULL,
    columns TEXT NOT NULL
);
