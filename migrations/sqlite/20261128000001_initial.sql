-- schedlite initial schema.
--
-- Every table is meant to be read by hand with `sqlite3`: timestamps are fixed-width UTC text
-- (`2026-11-28T12:00:00.000Z`, so text order is time order), job definitions are plain columns
-- plus the action as JSON text. CHECK constraints refuse hand edits that would store a value the
-- service cannot read back (an unknown role, trigger type or run status, a malformed timestamp).
-- Released migrations are never edited: sqlx checks their checksums at start.

-- Jobs: one row per job. The trigger is spread over typed columns rather than one JSON blob so
-- `select id, trigger_type, cron_expr, next_run_at from jobs` answers an operator's first question.
CREATE TABLE jobs (
    id                    TEXT PRIMARY KEY NOT NULL
                          CHECK (length(id) BETWEEN 1 AND 128 AND id NOT GLOB '*[^A-Za-z0-9._-]*'),
    name                  TEXT CHECK (name IS NULL OR length(name) <= 256),
    trigger_type          TEXT NOT NULL CHECK (trigger_type IN ('date', 'interval', 'cron')),
    -- cron: the expression exactly as given, evaluated in `timezone` (IANA name).
    cron_expr             TEXT,
    timezone              TEXT NOT NULL DEFAULT 'UTC',
    -- interval: fires at start_at + k * interval_seconds, never after end_at.
    interval_seconds      INTEGER CHECK (interval_seconds IS NULL OR interval_seconds >= 1),
    start_at              TEXT,
    end_at                TEXT,
    -- date: fires once at run_at.
    run_at                TEXT,
    -- What the job does, as JSON: {"type":"noop"} | {"type":"http",...} | {"type":"command",...}.
    action                TEXT NOT NULL CHECK (json_valid(action) AND json_type(action, '$.type') = 'text'),
    -- The next occurrence to fire; NULL while paused or once the trigger is finished.
    next_run_at           TEXT,
    paused                INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    misfire_grace_seconds INTEGER NOT NULL DEFAULT 60 CHECK (misfire_grace_seconds >= 0),
    coalesce_missed       INTEGER NOT NULL DEFAULT 1 CHECK (coalesce_missed IN (0, 1)),
    max_instances         INTEGER NOT NULL DEFAULT 1 CHECK (max_instances >= 1),
    jitter_seconds        INTEGER NOT NULL DEFAULT 0 CHECK (jitter_seconds >= 0),
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL,
    CHECK ((trigger_type = 'cron' AND cron_expr IS NOT NULL)
        OR (trigger_type = 'interval' AND interval_seconds IS NOT NULL AND start_at IS NOT NULL)
        OR (trigger_type = 'date' AND run_at IS NOT NULL)),
    CHECK (next_run_at IS NULL OR next_run_at GLOB
        '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z')
);

-- The scheduler's due query reads only jobs that can fire, in time order: O(due), not O(jobs).
CREATE INDEX jobs_due ON jobs (next_run_at) WHERE next_run_at IS NOT NULL;

-- `GET /jobs` pages in next-run order with NULLs (paused, finished) last; this expression index
-- lets the keyset cursor seek instead of sorting the whole table.
CREATE INDEX jobs_by_next_run ON jobs (ifnull(next_run_at, '~'), id);

-- Runs: one row per occurrence (or per stretch of missed occurrences, see `occurrences`).
CREATE TABLE job_runs (
    id                INTEGER PRIMARY KEY,
    job_id            TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    -- The occurrence this row stands for. With occurrences > 1 (coalesced catch-up or a
    -- stretch of missed occurrences) it is the first one and last_scheduled_at the last.
    scheduled_at      TEXT NOT NULL,
    last_scheduled_at TEXT,
    occurrences       INTEGER NOT NULL DEFAULT 1 CHECK (occurrences >= 1),
    -- 'scheduled' comes from the trigger, 'manual' from POST /jobs/{id}/run.
    kind              TEXT NOT NULL DEFAULT 'scheduled' CHECK (kind IN ('scheduled', 'manual')),
    status            TEXT NOT NULL CHECK (status IN
                      ('running', 'succeeded', 'failed', 'timed_out', 'missed', 'skipped', 'interrupted')),
    started_at        TEXT,
    finished_at       TEXT,
    duration_ms       INTEGER,
    -- The serving process that claimed the run (processes.id), so a dead owner's runs can be found.
    owner_id          TEXT,
    http_status       INTEGER,
    exit_code         INTEGER,
    -- First KiB of an HTTP body, or the tail of a command's stdout/stderr.
    output            TEXT,
    error             TEXT,
    -- At most one row per occurrence, even with several processes sharing the file.
    UNIQUE (job_id, scheduled_at)
);

-- Running runs are looked up by job (max_instances) and by owner (recovery); they are few, so
-- partial indexes keep both lookups cheap however long the history grows.
CREATE INDEX job_runs_running_by_job ON job_runs (job_id) WHERE status = 'running';
CREATE INDEX job_runs_running_by_owner ON job_runs (owner_id) WHERE status = 'running';
-- History pages newest first per job.
CREATE INDEX job_runs_by_job ON job_runs (job_id, id DESC);

-- API keys: only the SHA-256 of each key is stored, never the key.
CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    role         TEXT NOT NULL CHECK (role IN ('admin', 'monitor')),
    key_hash     TEXT NOT NULL UNIQUE CHECK (length(key_hash) = 64),
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);

-- A name identifies one live key; a revoked key's name may be reused.
CREATE UNIQUE INDEX api_keys_live_name ON api_keys (name) WHERE revoked_at IS NULL;
