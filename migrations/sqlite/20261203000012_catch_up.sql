-- Catch-up after downtime (issue 14, item 5; DESIGN.md, "Job health, alerts, pause, skip,
-- catch-up"). A job's policy for occurrences missed beyond the misfire grace, and the queue that
-- holds a stretch of them while it awaits approval (`ask`) or while its occurrences are started
-- in order, at most `max_instances` at a time (`all`, or an approval of `all` or `latest`).
--
-- Operators read the queue with:
--   sqlite3 schedlite.db "select job_id, state, first_at, last_at, occurrences, next_at from catch_ups"

-- coalesce (the rule before this column: one `missed` row), all, none, ask.
ALTER TABLE jobs ADD COLUMN catch_up TEXT NOT NULL DEFAULT 'coalesce'
    CHECK (catch_up IN ('coalesce', 'all', 'none', 'ask'));

-- One row per stretch: a week of missed occurrences of an every-second job is one row here, as
-- it is one `missed` row in job_runs. Occurrences started from it get their own `running` rows
-- (the unique key on job_runs makes each start at most once); the row goes when the last of
-- them has started, or when a decision records them `missed`.
CREATE TABLE catch_ups (
    id          INTEGER PRIMARY KEY,
    job_id      TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    state       TEXT NOT NULL CHECK (state IN ('awaiting_approval', 'approved')),
    first_at    TEXT NOT NULL CHECK (first_at GLOB
        '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'),
    last_at     TEXT NOT NULL CHECK (last_at GLOB
        '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'),
    -- How many occurrences the stretch holds, first_at and last_at included.
    occurrences INTEGER NOT NULL CHECK (occurrences >= 1),
    recorded_at TEXT NOT NULL,
    -- Approved: the next occurrence to start. NULL while it awaits approval.
    next_at     TEXT CHECK (next_at IS NULL OR next_at GLOB
        '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'),
    -- Who approved it (a key's name; `policy` for the `all` policy) and when.
    decided_by  TEXT CHECK (decided_by IS NULL OR length(decided_by) <= 64),
    decided_at  TEXT,
    CHECK (first_at <= last_at),
    CHECK ((state = 'approved') = (next_at IS NOT NULL))
);
CREATE INDEX catch_ups_by_job ON catch_ups (job_id, id);
CREATE INDEX catch_ups_approved ON catch_ups (id) WHERE state = 'approved';

-- The audit trail gains `catch_up` (a decision). SQLite cannot change a CHECK constraint in
-- place, so the table is rebuilt (the rows and their ids are kept; no other table refers to it).
CREATE TABLE audit_log_new (
    id        INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    key_name  TEXT NOT NULL,
    action    TEXT NOT NULL CHECK (action IN
              ('create', 'replace', 'pause', 'resume', 'run', 'delete', 'skip', 'catch_up')),
    job_id    TEXT NOT NULL,
    -- Free-form JSON with what the change was (the run id of a manual run, a pause's reason
    -- and end, a skip's count and reason, a catch-up decision and what it decided on).
    detail    TEXT CHECK (detail IS NULL OR json_valid(detail))
);
INSERT INTO audit_log_new (id, at, key_name, action, job_id, detail)
    SELECT id, at, key_name, action, job_id, detail FROM audit_log;
DROP TABLE audit_log;
ALTER TABLE audit_log_new RENAME TO audit_log;
CREATE INDEX audit_log_by_job ON audit_log (job_id, id);
