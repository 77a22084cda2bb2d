//! SQLite: jobs counted by health (`Store::jobs_by_health`), the rules of `Health::of` in SQL.

use chrono::{DateTime, Utc};

use super::{SqliteStore, parse_text, ts};
use crate::model::Health;
use crate::store::StoreError;

impl SqliteStore {
    /// [`crate::store::Store::jobs_by_health`] on SQLite: one pass over `jobs`; the newest run
    /// is looked up (unique key on job id and instant) only for jobs with `max_run_seconds`.
    /// Instants are fixed-width text, so `strftime` with `%f` gives comparable cut-offs.
    pub async fn jobs_by_health(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<(Health, i64)>, StoreError> {
        let now = ts(now);
        let rows = sqlx::query!(
            r#"SELECT health AS "health!: String", count(*) AS "n!: i64" FROM (
                 SELECT CASE
                   WHEN paused = 1 THEN 'paused'
                   WHEN expect ->> 'max_run_seconds' IS NOT NULL AND EXISTS (
                       SELECT 1 FROM (SELECT status, scheduled_at, started_at FROM job_runs
                                      WHERE job_id = jobs.id ORDER BY scheduled_at DESC LIMIT 1) AS n
                       WHERE n.status = 'running'
                         AND max(ifnull(n.started_at, n.scheduled_at), n.scheduled_at)
                             < strftime('%Y-%m-%dT%H:%M:%fZ', ?1,
                                        '-' || (expect ->> 'max_run_seconds') || ' seconds'))
                     THEN 'stuck'
                   WHEN consecutive_failures >= (expect ->> 'max_consecutive_failures') THEN 'failing'
                   WHEN next_run_at IS NULL THEN 'finished'
                   WHEN max(ifnull(last_success_at, ''), updated_at)
                        < strftime('%Y-%m-%dT%H:%M:%fZ', ?1,
                                   '-' || (expect ->> 'success_within_seconds') || ' seconds')
                     THEN 'late'
                   ELSE 'ok' END AS health
                 FROM jobs)
               GROUP BY health"#,
            now
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| Ok((parse_text("jobs", "health", &r.health)?, r.n)))
            .collect()
    }
}
