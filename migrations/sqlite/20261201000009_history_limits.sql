-- A job's own history limits (issue 12, item 2; DESIGN.md, "Run history retention").
--
-- JSON `{"keep_days": N, "keep_failed_days": N, "keep_runs": N}`, each field optional, each
-- overriding the server's flag of the same name for this job only; NULL when the job follows
-- the server. One JSON column, as `expect` is: part of the definition, read and written whole.
ALTER TABLE jobs ADD COLUMN history TEXT CHECK (history IS NULL OR json_valid(history));

-- The pruner walks the jobs with limits of their own one by one, and the passes over all
-- runs leave them out; both find them through this index, however many jobs follow the server.
CREATE INDEX jobs_own_history ON jobs (id) WHERE history IS NOT NULL;
