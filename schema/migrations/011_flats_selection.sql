-- The selection session's lock (选房, registry/completion/selection.py): one row per flat taken
-- on this registry, written in the same transaction as the choice's change. The PRIMARY KEY is
-- what makes two households taking one flat impossible, whatever two browsers do at once; a
-- household takes one flat (UNIQUE). A tombstoned choice deletes its row. The records
-- themselves (flat_choice) sync; this table is the central registry's own.
CREATE TABLE flat_taken (
    flat_id TEXT PRIMARY KEY,
    household_id TEXT NOT NULL UNIQUE,
    choice_id TEXT NOT NULL,
    taken_at TEXT NOT NULL
);
