-- A job's own history limits (issue 12, item 2; DESIGN.md, "Run history retention"). The same
-- column as the SQLite migration of this version, in PostgreSQL's types.
--
-- JSON `{"keep_days": N, "keep_failed_days": N, "keep_runs": N}`, each field optional, each
-- overriding the server's flag of the same name for this job only; NULL when the job follows
-- the server.
ALTER TABLE jobs ADD COLUMN history jsonb CHECK (history IS NULL OR jsonb_typeof(history) = 'object');

COMMENT ON COLUMN jobs.history IS 'Its own history limits: keep_days, keep_failed_days, keep_runs, each overriding the server flag; NULL: as the server says';

-- The pruner walks the jobs with limits of their own one by one, and the passes over all
-- runs leave them out; both find them through this index.
CREATE INDEX jobs_own_history ON jobs (id) WHERE history IS NOT NULL;
