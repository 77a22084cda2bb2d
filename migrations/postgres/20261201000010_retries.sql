-- Retries (issue 12, item 1; DESIGN.md, "Retries"). The same change as the SQLite migration of
-- this version, in PostgreSQL's types.
ALTER TABLE jobs ADD COLUMN retry jsonb CHECK (retry IS NULL OR jsonb_typeof(retry) = 'object');
COMMENT ON COLUMN jobs.retry IS 'Retry policy: max_attempts, initial_delay_seconds, max_delay_seconds, multiplier, jitter; NULL: one attempt';

ALTER TABLE job_runs ADD COLUMN attempt bigint NOT NULL DEFAULT 1 CHECK (attempt BETWEEN 1 AND 100);
ALTER TABLE job_runs ADD COLUMN retry_delay_ms bigint CHECK (retry_delay_ms IS NULL OR retry_delay_ms >= 0);
ALTER TABLE job_runs ADD COLUMN retry_at timestamptz;
COMMENT ON COLUMN job_runs.attempt IS 'Which attempt at the occurrence this row is: 1, then one more per retry';
COMMENT ON COLUMN job_runs.retry_delay_ms IS 'Decided at the claim: how long after this attempt ends the next one starts if it does not succeed; NULL: the last attempt, or its retry was claimed (a late outcome cannot schedule it again)';
COMMENT ON COLUMN job_runs.retry_at IS 'When the next attempt starts (this one ended without success); cleared when it is claimed. Counts toward max_instances';

-- One row per attempt at an occurrence, whatever the number of nodes.
ALTER TABLE job_runs DROP CONSTRAINT job_runs_job_id_scheduled_at_key;
ALTER TABLE job_runs ADD CONSTRAINT job_runs_job_id_scheduled_at_attempt_key UNIQUE (job_id, scheduled_at, attempt);
COMMENT ON TABLE job_runs IS 'One row per attempt at an occurrence (or per stretch of missed or coalesced occurrences, see occurrences). At most one row per (job_id, scheduled_at, attempt), whatever the number of nodes.';

CREATE INDEX job_runs_pending_retries ON job_runs (retry_at) WHERE retry_at IS NOT NULL;
CREATE INDEX job_runs_retries_by_job ON job_runs (job_id, retry_at) WHERE retry_at IS NOT NULL;
