-- Serving processes. Each `schedlite serve` registers here and refreshes heartbeat_at every
-- second; its runs carry its id in job_runs.owner_id. When a process dies, any live process (or
-- the next one to start) finds its runs still 'running' and marks them 'interrupted'.
-- pid, hostname and proc_start let a process on the same host tell at once whether the owner is
-- still alive (pid reuse is caught by proc_start, the kernel's start time of the process).
CREATE TABLE instances (
    id           TEXT PRIMARY KEY NOT NULL,
    pid          INTEGER NOT NULL,
    hostname     TEXT NOT NULL,
    proc_start   TEXT,
    started_at   TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL,
    -- Set on a clean shutdown, or by whoever found the process dead.
    stopped_at   TEXT
);
