-- Serving nodes. Each `schedlite serve` registers here and refreshes heartbeat_at every second;
-- its runs carry its id in job_runs.owner_id. When a node dies, any live node finds its runs
-- still 'running' once its heartbeat is older than the expiry, and marks them 'interrupted'.
CREATE TABLE instances (
    id           text PRIMARY KEY,
    pid          bigint NOT NULL,
    hostname     text NOT NULL,
    proc_start   text,
    started_at   timestamptz NOT NULL,
    heartbeat_at timestamptz NOT NULL,
    stopped_at   timestamptz
);

COMMENT ON TABLE instances IS 'Serving nodes and their heartbeats; stopped_at is set on a clean shutdown or by whoever found the node dead';
COMMENT ON COLUMN instances.proc_start IS 'The kernel''s start time of the process, so a node on the same host can tell pid reuse';
