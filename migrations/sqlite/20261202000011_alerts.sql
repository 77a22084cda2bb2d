-- Alerts (issue 14, item 2; DESIGN.md, "Job health, alerts, pause, skip, catch-up").
--
-- Every serving process compares the health of the jobs that expect something with the health
-- last alerted, about once a second. A change is recorded once, whatever the number of
-- processes or nodes looking: the compare-and-set on `alert_state` decides which of them
-- records it, in the transaction that adds its `alerts` row.

-- The health last alerted for a job (no row: `ok`, nothing alerted yet), and when, so a
-- flapping job alerts at most once per minimum interval. Goes with its job.
CREATE TABLE alert_state (
    job_id     TEXT PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    health     TEXT NOT NULL
               CHECK (health IN ('ok', 'late', 'failing', 'stuck', 'paused', 'finished', 'broken')),
    changed_at TEXT NOT NULL CHECK (changed_at GLOB
        '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z')
);

-- One health transition and its delivery to a webhook. Alerts outlive their job (no foreign
-- key): what happened to a deleted job stays readable.
CREATE TABLE alerts (
    id              INTEGER PRIMARY KEY,
    job_id          TEXT NOT NULL,
    from_health     TEXT NOT NULL
        CHECK (from_health IN ('ok', 'late', 'failing', 'stuck', 'paused', 'finished', 'broken')),
    to_health       TEXT NOT NULL
        CHECK (to_health IN ('ok', 'late', 'failing', 'stuck', 'paused', 'finished', 'broken')),
    -- Why, in words: "no success within 60 s (last success 2026-…)", "3 runs in a row failed".
    reason          TEXT NOT NULL,
    at              TEXT NOT NULL CHECK (at GLOB
        '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'),
    -- Where it is POSTed: the job's `expect.alert_webhook`, else the server's `--alert-webhook`
    -- of the process that recorded it; NULL when neither was set (delivery `none`).
    webhook         TEXT,
    -- `pending` (to be sent at `next_attempt_at`), `sent`, `failed` (gave up after the last
    -- attempt; `last_error` says why), `none` (no webhook).
    delivery        TEXT NOT NULL CHECK (delivery IN ('pending', 'sent', 'failed', 'none')),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at TEXT,
    -- A process sending it holds it until then; a process that died while sending lets it go
    -- at this instant, and another one sends it again with the same Idempotency-Key.
    lease_until     TEXT,
    sent_at         TEXT,
    last_error      TEXT,
    CHECK ((delivery = 'pending') = (next_attempt_at IS NOT NULL))
);
CREATE INDEX alerts_due ON alerts (next_attempt_at) WHERE delivery = 'pending';
CREATE INDEX alerts_by_job ON alerts (job_id, id);

-- The jobs each look reads: those that expect something (the others are always `ok`,
-- `paused`, `finished` or `broken`, and alert nothing unless they expected something before).
CREATE INDEX jobs_expecting ON jobs (id) WHERE expect IS NOT NULL;
