-- Time, restores and survey versions (issue 13).

-- The hybrid logical clock of each change (registry/core/clock.py): it orders concurrent
-- changes; `at` stays the wall-clock time people read. Older changes order by their `at`.
ALTER TABLE change ADD COLUMN hlc TEXT;
UPDATE change SET hlc = at;
CREATE INDEX change_hlc ON change (hlc);

-- Every survey definition this database has known, so that a change is checked against the
-- definition it was made under, not only the current one (registry/core/surveys.py).
CREATE TABLE survey_version (
    hash TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    text TEXT NOT NULL,
    first_seen_at TEXT NOT NULL
);
