-- Revisions (issue 16, item 1; DESIGN.md, "Definitions you can trust"): every create, replace
-- and restore of a job keeps the definition it set, as the body of a PUT /jobs/{id} (JSON),
-- with who set it and when. Written in the transaction of the change, so a job's newest
-- revision is its current definition. A job created before this version has revisions from its
-- first change on. Pruned with the audit trail (--keep-audit-days), never a job's newest; gone
-- with their job.
--
-- Operators read them with:
--   sqlite3 schedlite.db "select revision, changed_at, changed_by, change from job_revisions where job_id = 'nightly' order by revision"
CREATE TABLE job_revisions (
    job_id        TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    revision      INTEGER NOT NULL CHECK (revision >= 1),
    definition    TEXT NOT NULL CHECK (json_valid(definition) AND json_type(definition) = 'object'),
    changed_by    TEXT NOT NULL CHECK (length(changed_by) BETWEEN 1 AND 64),
    changed_at    TEXT NOT NULL CHECK (changed_at GLOB
        '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'),
    -- create, replace (a PUT or bulk item of an existing job) or restore (of `restored_from`).
    change        TEXT NOT NULL CHECK (change IN ('create', 'replace', 'restore')),
    restored_from INTEGER CHECK (restored_from IS NULL OR restored_from >= 1),
    CHECK ((change = 'restore') = (restored_from IS NOT NULL)),
    PRIMARY KEY (job_id, revision)
);
CREATE INDEX job_revisions_by_time ON job_revisions (changed_at);
