-- Fewer indexes on job_runs, the table every occurrence writes to. Measured on a 100,000-job
-- burst, index maintenance was most of the claim's cost; two indexes were redundant:
-- - job_runs_by_job (job_id, id): run history now pages by (job_id, scheduled_at DESC), which
--   the UNIQUE (job_id, scheduled_at) index already serves;
-- - job_runs_running_by_owner: recovery looks up the owners of running runs about once a
--   second, and the partial index job_runs_running_by_job holds only running runs, so scanning
--   it is as cheap.
DROP INDEX job_runs_by_job;
DROP INDEX job_runs_running_by_owner;
