-- The central pages at scale (issue 21). Small tables derived from the change log and brought
-- up to date from the changes added since they were last read (whoever added them: the store,
-- a merge, a bulk builder), so the progress trend and the agreements' checks never scan the
-- whole log. All are derived: registry/review/stages.py `rebuild` recomputes them from the
-- log. Never synced.

-- The UTC day each household first reached each status: min(substr(at, 1, 10)) over its
-- changes that set `status` to that value (the trend, the 日报's "today" figures).
CREATE TABLE IF NOT EXISTS household_stage (
    household_id TEXT NOT NULL,
    status TEXT NOT NULL,
    day TEXT NOT NULL,
    PRIMARY KEY (household_id, status)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS household_stage_day ON household_stage (status, day);

-- Households first reaching a status per day, counted as household_stage changes, so the
-- trend reads a few hundred rows (deleted households are subtracted when it is read).
CREATE TABLE IF NOT EXISTS stage_day (
    status TEXT NOT NULL,
    day TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (status, day)
) WITHOUT ROWID;

-- Agreements with more than one change (the store refuses a second change to an agreement,
-- so only a tampered pack makes one): these are read from their first change, never folded.
CREATE TABLE IF NOT EXISTS agreement_revised (
    agreement_id TEXT PRIMARY KEY
) WITHOUT ROWID;

CREATE TRIGGER IF NOT EXISTS household_stage_new AFTER INSERT ON household_stage
BEGIN
    INSERT INTO stage_day (status, day, n) VALUES (NEW.status, NEW.day, 1)
    ON CONFLICT (status, day) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER IF NOT EXISTS household_stage_moved AFTER UPDATE OF day ON household_stage
BEGIN
    UPDATE stage_day SET n = n - 1 WHERE status = OLD.status AND day = OLD.day;
    INSERT INTO stage_day (status, day, n) VALUES (NEW.status, NEW.day, 1)
    ON CONFLICT (status, day) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER IF NOT EXISTS household_stage_gone AFTER DELETE ON household_stage
BEGIN
    UPDATE stage_day SET n = n - 1 WHERE status = OLD.status AND day = OLD.day;
END;

-- How far into the change log (its rowid) the two tables above are up to date. Readers bring
-- them up to date first (registry/review/stages.py `catch_up`: the changes since, in one
-- grouped statement), so inserting a change (a merge) pays nothing for them.
CREATE TABLE IF NOT EXISTS stage_mark (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_rowid INTEGER NOT NULL
);

-- What the log already holds (a registry made before this migration).
INSERT INTO household_stage (household_id, status, day)
SELECT record_id, json_extract(fields, '$.status'), min(substr(at, 1, 10)) FROM change
WHERE record_type = 'household' AND json_valid(fields) AND json_type(fields, '$.status') = 'text'
GROUP BY record_id, json_extract(fields, '$.status');

INSERT OR IGNORE INTO agreement_revised (agreement_id)
SELECT record_id FROM change WHERE record_type = 'agreement' GROUP BY record_id
HAVING count(*) > 1;

INSERT OR REPLACE INTO stage_mark (id, last_rowid) SELECT 1, coalesce(max(rowid), 0) FROM change;
