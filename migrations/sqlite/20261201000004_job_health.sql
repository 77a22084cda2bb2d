-- Job health (issue 14, item 1; DESIGN.md, "Job health, alerts, pause, skip, catch-up").
--
-- What a job is expected to do, as given in its definition: JSON
-- `{"success_within_seconds": N, "max_consecutive_failures": N, "max_run_seconds": N}`, each
-- field optional; NULL when the job expects nothing. One JSON column rather than three, as the
-- action is: it is part of the definition, read and written whole.
ALTER TABLE jobs ADD COLUMN expect TEXT CHECK (expect IS NULL OR json_valid(expect));
-- Counters kept by the outcome write, so that a job's health is computed from its own row and
-- its newest run, never from a scan of its history on each request:
-- when its newest run succeeded (NULL: never), and how many of its runs failed or timed out
-- since (0 after a success).
ALTER TABLE jobs ADD COLUMN last_success_at TEXT CHECK (last_success_at IS NULL OR last_success_at GLOB
    '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z');
ALTER TABLE jobs ADD COLUMN consecutive_failures INTEGER NOT NULL DEFAULT 0
    CHECK (consecutive_failures >= 0);

-- The counters of the jobs that exist, from their history, once.
UPDATE jobs SET last_success_at = (SELECT max(finished_at) FROM job_runs
                                   WHERE job_id = jobs.id AND status = 'succeeded');
UPDATE jobs SET consecutive_failures = (SELECT count(*) FROM job_runs
    WHERE job_id = jobs.id AND status IN ('failed', 'timed_out')
      AND finished_at > ifnull(jobs.last_success_at, ''));
