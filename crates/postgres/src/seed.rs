//! Bulk seeding for benchmarks and tests: `generate_series` makes the ids and instants, so a
//! million jobs are one statement rather than a million round trips.

use chrono::{DateTime, Utc};
use schedlite_core::store::{SeedHistory, SeedTrigger, StoreError};

use super::{PgStore, ms};

impl PgStore {
    /// Inserts `n` noop jobs named `prefix` + a 7-digit number.
    pub async fn seed_noop_jobs(
        &self,
        prefix: &str,
        n: u32,
        trigger: SeedTrigger,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if n == 0 {
            return Ok(());
        }
        let count = i64::from(n);
        let now = ms(now);
        match trigger {
            SeedTrigger::Date { at } => {
                sqlx::query!(
                    r#"INSERT INTO jobs (id, trigger_type, timezone, run_at, action, next_run_at,
                                         created_at, updated_at)
                       SELECT $2 || lpad(i::text, 7, '0'), 'date', 'UTC', $3, '{"type":"noop"}', $3, $4, $4
                       FROM generate_series(0::bigint, $1::bigint - 1) AS i"#,
                    count,
                    prefix,
                    ms(at),
                    now,
                )
                .execute(&mut *self.conn().await?)
                .await?;
            }
            SeedTrigger::Interval {
                every_seconds,
                first,
                step_ms,
            } => {
                sqlx::query!(
                    r#"INSERT INTO jobs (id, trigger_type, timezone, interval_seconds, start_at, action,
                                         next_run_at, created_at, updated_at)
                       SELECT $2 || lpad(i::text, 7, '0'), 'interval', 'UTC', $5, s, '{"type":"noop"}', s, $6, $6
                       FROM generate_series(0::bigint, $1::bigint - 1) AS i,
                            LATERAL (SELECT $3::timestamptz
                                            + make_interval(secs => i * $4::float8 / 1000.0) AS s) AS t"#,
                    count,
                    prefix,
                    ms(first),
                    step_ms,
                    every_seconds,
                    now,
                )
                .execute(&mut *self.conn().await?)
                .await?;
            }
        }
        Ok(())
    }
}

impl PgStore {
    /// Inserts the run history `h` describes; see the service's `Store::seed_history`.
    pub async fn seed_history(&self, h: SeedHistory<'_>) -> Result<u64, StoreError> {
        let done = sqlx::query!(
            r#"INSERT INTO job_runs (job_id, scheduled_at, kind, status, started_at, finished_at,
                                     duration_ms, owner_id)
               SELECT $3 || lpad(i::text, 7, '0'), t.at, 'scheduled', $6, t.at,
                      CASE WHEN $6 = 'running' THEN NULL ELSE t.at END,
                      CASE WHEN $6 = 'running' THEN NULL ELSE 0 END, $7
               FROM generate_series(0::bigint, $1::bigint - 1) AS i,
                    generate_series(0::bigint, $2::bigint - 1) AS r,
                    LATERAL (SELECT $4::timestamptz + make_interval(secs => r * $5::bigint / 1000.0) AS at) AS t"#,
            i64::from(h.jobs),
            i64::from(h.per_job),
            h.prefix,
            ms(h.first),
            h.step_ms,
            h.status.as_str(),
            h.owner,
        )
        .execute(&mut *self.conn().await?)
        .await?;
        Ok(done.rows_affected())
    }
}
