//! Bulk seeding for benchmarks and tests: `generate_series` makes the ids and instants, so a
//! million jobs are one statement rather than a million round trips.

use chrono::{DateTime, Utc};
use schedlite_core::store::{SeedTrigger, StoreError};

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
                .execute(&self.pool)
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
                .execute(&self.pool)
                .await?;
            }
        }
        Ok(())
    }
}
