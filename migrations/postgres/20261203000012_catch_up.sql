-- Catch-up after downtime (issue 14, item 5; DESIGN.md, "Job health, alerts, pause, skip,
-- catch-up"). The same columns and table as the SQLite migration of this version, in
-- PostgreSQL's types. Nodes take approved stretches with FOR UPDATE SKIP LOCKED, so each
-- occurrence of a stretch is started by one node; the unique key on job_runs backs that up.

ALTER TABLE jobs ADD COLUMN catch_up text NOT NULL DEFAULT 'coalesce'
    CHECK (catch_up IN ('coalesce', 'all', 'none', 'ask'));
COMMENT ON COLUMN jobs.catch_up IS 'Occurrences missed beyond the grace: coalesce (one missed row), all (run in order), none (nothing late runs), ask (await POST /jobs/{id}/catch-up)';

CREATE TABLE catch_ups (
    id          bigserial PRIMARY KEY,
    job_id      text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    state       text NOT NULL CHECK (state IN ('awaiting_approval', 'approved')),
    first_at    timestamptz NOT NULL,
    last_at     timestamptz NOT NULL,
    occurrences bigint NOT NULL CHECK (occurrences >= 1),
    recorded_at timestamptz NOT NULL,
    next_at     timestamptz,
    decided_by  text CHECK (decided_by IS NULL OR length(decided_by) <= 64),
    decided_at  timestamptz,
    CHECK (first_at <= last_at),
    CHECK ((state = 'approved') = (next_at IS NOT NULL))
);
COMMENT ON TABLE catch_ups IS 'Stretches of missed occurrences awaiting approval, or approved and being started in order; one row per stretch';
COMMENT ON COLUMN catch_ups.occurrences IS 'How many occurrences the stretch holds, first_at and last_at included';
COMMENT ON COLUMN catch_ups.next_at IS 'Approved: the next occurrence to start; NULL while awaiting approval';
COMMENT ON COLUMN catch_ups.decided_by IS 'Who approved it: a key name, or policy for the all policy';
CREATE INDEX catch_ups_by_job ON catch_ups (job_id, id);
CREATE INDEX catch_ups_approved ON catch_ups (id) WHERE state = 'approved';

ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check
    CHECK (action IN ('create', 'replace', 'pause', 'resume', 'run', 'delete', 'skip', 'catch_up'));
