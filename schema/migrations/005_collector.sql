-- The collector's household list: "mine" finds the households a user has saved through the
-- change log's author. (Indexes on the record tables are kept by collector/households.py: the
-- record tables are derived from the survey definition after the migrations run.)
CREATE INDEX change_by ON change (by, record_type, record_id);
