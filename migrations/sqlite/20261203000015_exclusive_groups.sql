-- Exclusive groups (issue 16, item 2; DESIGN.md, "Definitions you can trust"): at most one run
-- of a group at a time across every process. A run holds its job's group from its claim until
-- its outcome is written, and while its retry is pending. A conflicting occurrence is recorded
-- `skipped` naming the job that held the group (`skip`), or stays due until the group is free
-- (`wait`). NULL: the job is in no group.
--
-- Operators see who holds a group with:
--   sqlite3 schedlite.db "select j.exclusive_group, r.job_id, r.status, r.owner_id from job_runs r
--     join jobs j on j.id = r.job_id where j.exclusive_group is not null
--     and (r.status = 'running' or r.retry_at is not null)"
ALTER TABLE jobs ADD COLUMN exclusive_group TEXT
    CHECK (exclusive_group IS NULL OR (length(exclusive_group) BETWEEN 1 AND 128
                                       AND exclusive_group NOT GLOB '*[^A-Za-z0-9._:-]*'));
ALTER TABLE jobs ADD COLUMN exclusive_policy TEXT
    CHECK ((exclusive_policy IS NULL AND exclusive_group IS NULL)
           OR (exclusive_policy IN ('skip', 'wait') AND exclusive_group IS NOT NULL));
CREATE INDEX jobs_by_exclusive_group ON jobs (exclusive_group) WHERE exclusive_group IS NOT NULL;
