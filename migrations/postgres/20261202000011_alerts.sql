-- Alerts (issue 14, item 2; DESIGN.md, "Job health, alerts, pause, skip, catch-up"). The same
-- tables as the SQLite migration of this version, in PostgreSQL's types.
--
-- Every serving node compares the health of the jobs that expect something with the health
-- last alerted, about once a second. A change is recorded once, whatever the number of nodes
-- looking: the compare-and-set on `alert_state` decides which of them records it, in the
-- transaction that adds its `alerts` row.

CREATE TABLE alert_state (
    job_id     text PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    health     text NOT NULL
               CHECK (health IN ('ok', 'late', 'failing', 'stuck', 'paused', 'finished', 'broken')),
    changed_at timestamptz NOT NULL
);
COMMENT ON TABLE alert_state IS 'The health last alerted per job (no row: ok, nothing alerted yet), and when';

CREATE TABLE alerts (
    id              bigserial PRIMARY KEY,
    job_id          text NOT NULL,
    from_health     text NOT NULL
        CHECK (from_health IN ('ok', 'late', 'failing', 'stuck', 'paused', 'finished', 'broken')),
    to_health       text NOT NULL
        CHECK (to_health IN ('ok', 'late', 'failing', 'stuck', 'paused', 'finished', 'broken')),
    reason          text NOT NULL,
    at              timestamptz NOT NULL,
    webhook         text,
    delivery        text NOT NULL CHECK (delivery IN ('pending', 'sent', 'failed', 'none')),
    attempts        bigint NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz,
    lease_until     timestamptz,
    sent_at         timestamptz,
    last_error      text,
    CHECK ((delivery = 'pending') = (next_attempt_at IS NOT NULL))
);
COMMENT ON TABLE alerts IS 'Health transitions of jobs and their delivery to a webhook; outlive their job';
COMMENT ON COLUMN alerts.reason IS 'Why, in words';
COMMENT ON COLUMN alerts.webhook IS 'Where it is POSTed: the job''s expect.alert_webhook, else the recording node''s --alert-webhook; NULL: none';
COMMENT ON COLUMN alerts.delivery IS 'pending (sent at next_attempt_at), sent, failed (gave up; last_error says why), none (no webhook)';
COMMENT ON COLUMN alerts.lease_until IS 'A node sending it holds it until then; after, another node may send it again with the same Idempotency-Key';
CREATE INDEX alerts_due ON alerts (next_attempt_at) WHERE delivery = 'pending';
CREATE INDEX alerts_by_job ON alerts (job_id, id);

CREATE INDEX jobs_expecting ON jobs (id) WHERE expect IS NOT NULL;
