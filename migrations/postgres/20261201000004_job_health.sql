-- Job health (issue 14, item 1; DESIGN.md, "Job health, alerts, pause, skip, catch-up"). The
-- same columns as the SQLite migration of this version, in PostgreSQL's types.
--
-- What a job is expected to do, as given in its definition: JSON
-- `{"success_within_seconds": N, "max_consecutive_failures": N, "max_run_seconds": N}`, each
-- field optional; NULL when the job expects nothing. One column rather than three, as the
-- action is: it is part of the definition, read and written whole.
ALTER TABLE jobs ADD COLUMN expect jsonb CHECK (expect IS NULL OR jsonb_typeof(expect) = 'object');
-- Counters kept by the outcome write, so that health is computed from the job's row and its
-- newest run, never from a scan of its history on each request.
ALTER TABLE jobs ADD COLUMN last_success_at timestamptz;
ALTER TABLE jobs ADD COLUMN consecutive_failures bigint NOT NULL DEFAULT 0
    CHECK (consecutive_failures >= 0);

COMMENT ON COLUMN jobs.expect IS 'What the job is expected to do: success_within_seconds, max_consecutive_failures, max_run_seconds; NULL: nothing';
COMMENT ON COLUMN jobs.last_success_at IS 'When its newest successful run finished; NULL: never';
COMMENT ON COLUMN jobs.consecutive_failures IS 'Runs failed or timed out since the last success';

-- The counters of the jobs that exist, from their history, once.
UPDATE jobs SET last_success_at = (SELECT max(finished_at) FROM job_runs
                                   WHERE job_id = jobs.id AND status = 'succeeded');
UPDATE jobs SET consecutive_failures = (SELECT count(*) FROM job_runs
    WHERE job_id = jobs.id AND status IN ('failed', 'timed_out')
      AND finished_at > coalesce(jobs.last_success_at, '-infinity'));
