-- Audit trail: one row per change made through the API (create, replace, pause, resume, run,
-- delete), naming the API key that made it. Kept when the job is deleted (no foreign key), so
-- "who deleted nightly-backup?" has an answer.
CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    key_name  TEXT NOT NULL,
    action    TEXT NOT NULL CHECK (action IN ('create', 'replace', 'pause', 'resume', 'run', 'delete')),
    job_id    TEXT NOT NULL,
    -- Free-form JSON with what the change was (e.g. the run id of a manual run).
    detail    TEXT CHECK (detail IS NULL OR json_valid(detail))
);

CREATE INDEX audit_log_by_job ON audit_log (job_id, id);
