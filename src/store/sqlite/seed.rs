//! Bulk seeding in SQLite: one recursive CTE generates the ids and instants, so a million rows
//! are one statement rather than a million round trips.

use chrono::{DateTime, Utc};

use super::{SqliteStore, ts};
use crate::store::{SeedHistory, SeedTrigger, StoreError};

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

impl SqliteStore {
    /// See [`crate::store::Store::seed_history`].
    pub async fn seed_history(&self, h: SeedHistory<'_>) -> Result<u64, StoreError> {
        let status = h.status.as_str();
        let first_ms = h.first.timestamp_millis();
        let (jobs, per_job) = (i64::from(h.jobs), i64::from(h.per_job));
        let mut tx = self.begin_write().await?;
        let done = sqlx::query!(
            r#"WITH RECURSIVE j(i) AS (SELECT 0 WHERE ?1 > 0 UNION ALL SELECT i + 1 FROM j WHERE i + 1 < ?1),
               k(r) AS (SELECT 0 WHERE ?2 > 0 UNION ALL SELECT r + 1 FROM k WHERE r + 1 < ?2),
               m(i, ms) AS (SELECT i, ?4 + r * ?5 FROM j, k),
               t(id, at) AS (SELECT printf('%s%07d', ?3, i),
                                    strftime('%Y-%m-%dT%H:%M:%S', ms / 1000, 'unixepoch')
                                        || printf('.%03dZ', ms % 1000)
                             FROM m)
               INSERT INTO job_runs (job_id, scheduled_at, kind, status, started_at, finished_at,
                                     duration_ms, owner_id)
               SELECT id, at, 'scheduled', ?6, at, iif(?6 = 'running', NULL, at),
                      iif(?6 = 'running', NULL, 0), ?7
               FROM t"#,
            jobs,
            per_job,
            h.prefix,
            first_ms,
            h.step_ms,
            status,
            h.owner,
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}
