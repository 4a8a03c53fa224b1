-- The central pages at scale (issue 21). Two small tables derived from the change log, kept
-- by triggers as changes are inserted (by the store, a merge or a bulk builder alike), so the
-- progress trend and the agreements' checks never scan the whole log. Both are derived: they
-- can be dropped and rebuilt from the log (registry/review/stages.py `rebuild`). Never synced.

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

CREATE TRIGGER IF NOT EXISTS change_household_stage AFTER INSERT ON change
WHEN NEW.record_type = 'household' AND json_valid(NEW.fields)
     AND json_type(NEW.fields, '$.status') = 'text'
BEGIN
    INSERT INTO household_stage (household_id, status, day)
    VALUES (NEW.record_id, json_extract(NEW.fields, '$.status'), substr(NEW.at, 1, 10))
    ON CONFLICT (household_id, status) DO UPDATE SET day = excluded.day
    WHERE excluded.day < household_stage.day;
END;

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

CREATE TRIGGER IF NOT EXISTS change_agreement_revised AFTER INSERT ON change
WHEN NEW.record_type = 'agreement'
BEGIN
    INSERT OR IGNORE INTO agreement_revised (agreement_id)
    SELECT NEW.record_id WHERE EXISTS (
        SELECT 1 FROM change c WHERE c.record_id = NEW.record_id
        AND c.change_id != NEW.change_id);
END;

-- What the log already holds (a registry made before this migration).
INSERT INTO household_stage (household_id, status, day)
SELECT record_id, json_extract(fields, '$.status'), min(substr(at, 1, 10)) FROM change
WHERE record_type = 'household' AND json_valid(fields) AND json_type(fields, '$.status') = 'text'
GROUP BY record_id, json_extract(fields, '$.status');

INSERT OR IGNORE INTO agreement_revised (agreement_id)
SELECT record_id FROM change WHERE record_type = 'agreement' GROUP BY record_id
HAVING count(*) > 1;
