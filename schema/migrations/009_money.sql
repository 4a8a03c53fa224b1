-- Versions of a project's compensation rules (registry/compensation/rules.py): each stored rules
-- text under its version label, with the date from which it applies. An agreement is computed
-- under the version in force on its signing date and freezes its label, hash and date; an
-- amendment uses its original's version unless it says otherwise. The central registry sends
-- the versions to laptops in its packs' meta.
CREATE TABLE rules_version (
    version TEXT PRIMARY KEY,
    effective_from TEXT,          -- YYYY-MM-DD; NULL: from the start of the project
    text TEXT NOT NULL,
    hash TEXT NOT NULL,
    stored_at TEXT NOT NULL,
    stored_by TEXT
);
