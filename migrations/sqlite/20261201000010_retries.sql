-- Retries (issue 12, item 1; DESIGN.md, "Retries").
--
-- A job's retry policy is one JSON column, like `expect` and `history`:
-- `{"max_attempts": N, "initial_delay_seconds": N, "max_delay_seconds": N, "multiplier": X,
-- "jitter": true|false}`; NULL when the job does not retry (one attempt).
ALTER TABLE jobs ADD COLUMN retry TEXT CHECK (retry IS NULL OR json_valid(retry));

-- Each attempt at an occurrence is a run row of its own, numbered from 1, so the unique key
-- becomes (job_id, scheduled_at, attempt). SQLite cannot drop a table constraint: the table is
-- rebuilt, same columns and checks plus three, and its rows copied over as attempt 1.
CREATE TABLE job_runs_next (
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
    -- Which attempt at the occurrence this row is: 1, then one more per retry.
    attempt           INTEGER NOT NULL DEFAULT 1 CHECK (attempt BETWEEN 1 AND 100),
    -- Decided when the attempt was claimed: how long after it ends the next attempt starts if
    -- it does not succeed (backoff and jitter applied); NULL when it is the last attempt, or
    -- once its retry has been claimed (so a late outcome cannot schedule that retry again).
    retry_delay_ms    INTEGER CHECK (retry_delay_ms IS NULL OR retry_delay_ms >= 0),
    -- Set when the attempt ended without success and another is due: when it starts. Cleared
    -- when that attempt is claimed. A pending retry counts toward max_instances.
    retry_at          TEXT,
    -- At most one row per attempt at an occurrence, even with several processes on the file.
    UNIQUE (job_id, scheduled_at, attempt)
);

INSERT INTO job_runs_next (id, job_id, scheduled_at, last_scheduled_at, occurrences, kind, status,
                           started_at, finished_at, duration_ms, owner_id, http_status, exit_code,
                           output, error)
SELECT id, job_id, scheduled_at, last_scheduled_at, occurrences, kind, status, started_at,
       finished_at, duration_ms, owner_id, http_status, exit_code, output, error
FROM job_runs;

DROP TABLE job_runs;
ALTER TABLE job_runs_next RENAME TO job_runs;

-- Running runs are looked up by job (max_instances) and by owner (recovery); they are few, so
-- a partial index keeps the lookups cheap however long the history grows.
CREATE INDEX job_runs_running_by_job ON job_runs (job_id) WHERE status = 'running';
-- Pending retries are found by instant (the claim), by job (max_instances, next_retry_at);
-- they are fewer still.
CREATE INDEX job_runs_pending_retries ON job_runs (retry_at) WHERE retry_at IS NOT NULL;
CREATE INDEX job_runs_retries_by_job ON job_runs (job_id, retry_at) WHERE retry_at IS NOT NULL;
