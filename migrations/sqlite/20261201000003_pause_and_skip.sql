-- Timed pause and skip (issue 14; DESIGN.md, "Job health, alerts, pause, skip, catch-up").
--
-- Who paused a job, when, why and until when are columns of the job, not only audit rows, so
-- `GET /jobs` shows them without reading the audit trail, and `select id, paused_until,
-- pause_reason from jobs where paused` answers "what is paused and when does it come back?".
-- They are NULL for a job that is not paused, or that was created paused by its definition.
ALTER TABLE jobs ADD COLUMN paused_by TEXT CHECK (paused_by IS NULL OR length(paused_by) <= 64);
ALTER TABLE jobs ADD COLUMN paused_at TEXT;
ALTER TABLE jobs ADD COLUMN pause_reason TEXT
    CHECK (pause_reason IS NULL OR length(pause_reason) <= 1000);
-- A timed pause ends by itself at this instant: the first serving process to see it due
-- resumes the job, with its next run computed from this instant (no burst of the occurrences
-- that fell inside the pause). NULL: paused until resumed by hand.
ALTER TABLE jobs ADD COLUMN paused_until TEXT CHECK (paused_until IS NULL OR paused_until GLOB
    '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z');
-- POST /jobs/{id}/skip: how many of the next occurrences are recorded `skipped` instead of run,
-- and the reason written on each of those rows. 0: none (the reason is then NULL).
ALTER TABLE jobs ADD COLUMN skip_count INTEGER NOT NULL DEFAULT 0 CHECK (skip_count >= 0);
ALTER TABLE jobs ADD COLUMN skip_reason TEXT CHECK (skip_reason IS NULL OR length(skip_reason) <= 1000);

-- Every process looks for pauses that have ended about once a second: this partial index holds
-- only the jobs on a timed pause, so that look costs the same with ten jobs or a million.
CREATE INDEX jobs_pause_ends ON jobs (paused_until) WHERE paused_until IS NOT NULL;

-- The audit trail gains `skip`. SQLite cannot change a CHECK constraint in place, so the table
-- is rebuilt (the rows and their ids are kept; no other table refers to it).
CREATE TABLE audit_log_new (
    id        INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    key_name  TEXT NOT NULL,
    action    TEXT NOT NULL
              CHECK (action IN ('create', 'replace', 'pause', 'resume', 'run', 'delete', 'skip')),
    job_id    TEXT NOT NULL,
    -- Free-form JSON with what the change was (the run id of a manual run, a pause's reason
    -- and end, a skip's count and reason).
    detail    TEXT CHECK (detail IS NULL OR json_valid(detail))
);
INSERT INTO audit_log_new (id, at, key_name, action, job_id, detail)
    SELECT id, at, key_name, action, job_id, detail FROM audit_log;
DROP TABLE audit_log;
ALTER TABLE audit_log_new RENAME TO audit_log;
CREATE INDEX audit_log_by_job ON audit_log (job_id, id);
