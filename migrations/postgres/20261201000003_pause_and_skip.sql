-- Timed pause and skip (issue 14; DESIGN.md, "Job health, alerts, pause, skip, catch-up"). The
-- same columns as the SQLite migration of this version, in PostgreSQL's types.
--
-- Who paused a job, when, why and until when are columns of the job, not only audit rows, so
-- `GET /jobs` shows them without reading the audit trail. NULL for a job that is not paused, or
-- that was created paused by its definition.
ALTER TABLE jobs ADD COLUMN paused_by text CHECK (paused_by IS NULL OR length(paused_by) <= 64);
ALTER TABLE jobs ADD COLUMN paused_at timestamptz;
ALTER TABLE jobs ADD COLUMN pause_reason text
    CHECK (pause_reason IS NULL OR length(pause_reason) <= 1000);
ALTER TABLE jobs ADD COLUMN paused_until timestamptz;
ALTER TABLE jobs ADD COLUMN skip_count bigint NOT NULL DEFAULT 0 CHECK (skip_count >= 0);
ALTER TABLE jobs ADD COLUMN skip_reason text CHECK (skip_reason IS NULL OR length(skip_reason) <= 1000);

COMMENT ON COLUMN jobs.paused_until IS 'A timed pause ends by itself at this instant, the next run computed from it; NULL: paused until resumed by hand';
COMMENT ON COLUMN jobs.skip_count IS 'How many of the next occurrences are recorded skipped (with skip_reason) instead of run';

-- Every node looks for pauses that have ended about once a second: this partial index holds
-- only the jobs on a timed pause.
CREATE INDEX jobs_pause_ends ON jobs (paused_until) WHERE paused_until IS NOT NULL;

-- The audit trail gains `skip` (the inline CHECK of 20261128000003 got PostgreSQL's default name).
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check
    CHECK (action IN ('create', 'replace', 'pause', 'resume', 'run', 'delete', 'skip'));
