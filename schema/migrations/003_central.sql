-- The central office's flags: records the checks (registry/checks.py) found worth a review.
-- A derived table, rebuilt by run_checks from the records; what a person decided about a flag
-- lives in `decision` records (changes that sync), joined by flag_key, so it survives rebuilds.

CREATE TABLE flag (
    flag_key TEXT PRIMARY KEY,     -- stable hash of kind + the record ids involved
    kind TEXT NOT NULL,            -- which check found it (duplicate_id, freeze_member, ...)
    reason_zh TEXT NOT NULL,
    reason_en TEXT NOT NULL,
    records TEXT NOT NULL,         -- JSON list of [record_type, record_id]
    found_at TEXT NOT NULL         -- when a check first found it (kept across rebuilds)
);
CREATE INDEX flag_kind ON flag (kind);

-- Which households a flag concerns: the review queue filters by their zone and cadre.
CREATE TABLE flag_household (
    flag_key TEXT NOT NULL REFERENCES flag (flag_key) ON DELETE CASCADE,
    household_id TEXT NOT NULL,
    PRIMARY KEY (flag_key, household_id)
);
CREATE INDEX flag_household_household ON flag_household (household_id);
