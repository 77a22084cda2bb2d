//! Bulk seeding in SQLite: one recursive CTE generates the ids and instants, so a million rows
//! are one statement rather than a million round trips.

use chrono::{DateTime, Utc};

use super::{SqliteStore, ts};
use crate::store::{SeedTrigger, StoreError};

impl SqliteStore {
    /// See [`crate::store::Store::seed_noop_jobs`].
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
        let now = ts(now);
        let mut tx = self.begin_write().await?;
        match trigger {
            SeedTrigger::Date { at } => {
                let at = ts(at);
                sqlx::query!(
                    r#"WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i + 1 < ?1)
                       INSERT INTO jobs (id, trigger_type, timezone, run_at, action, next_run_at,
                                         created_at, updated_at)
                       SELECT printf('%s%07d', ?2, i), 'date', 'UTC', ?3, '{"type":"noop"}', ?3, ?4, ?4
                       FROM c"#,
                    count,
                    prefix,
                    at,
                    now,
                )
                .execute(&mut *tx)
                .await?;
            }
            SeedTrigger::Interval {
                every_seconds,
                first,
                step_ms,
            } => {
                let first_ms = first.timestamp_millis();
                sqlx::query!(
                    r#"WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i + 1 < ?1),
                       t(i, s) AS (SELECT i, strftime('%Y-%m-%dT%H:%M:%fZ', (?3 + i * ?4) / 1000.0, 'unixepoch')
                                   FROM c)
                       INSERT INTO jobs (id, trigger_type, timezone, interval_seconds, start_at, action,
                                         next_run_at, created_at, updated_at)
                       SELECT printf('%s%07d', ?2, i), 'interval', 'UTC', ?5, s, '{"type":"noop"}', s, ?6, ?6
                       FROM t"#,
                    count,
                    prefix,
                    first_ms,
                    step_ms,
                    every_seconds,
                    now,
                )
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await
    }
}
