//! PostgreSQL: jobs counted by health (`Store::jobs_by_health`), the rules of `Health::of` in
//! SQL.

use chrono::{DateTime, Utc};
use schedlite_core::model::Health;
use schedlite_core::store::StoreError;

use super::{PgStore, ms};

impl PgStore {
    /// Jobs counted by health at `now`: one pass over `jobs`; the newest run is looked up only
    /// for jobs with `max_run_seconds`. A rule that is not a number (a hand edit) is ignored
    /// here rather than failing the scrape (the job itself reads as `broken`).
    pub async fn jobs_by_health(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<(Health, i64)>, StoreError> {
        let rows = sqlx::query!(
            r#"WITH j AS (
                 SELECT id, paused, next_run_at, updated_at, last_success_at, consecutive_failures,
                        CASE WHEN jsonb_typeof(expect -> 'max_run_seconds') = 'number'
                             THEN (expect ->> 'max_run_seconds')::numeric END AS max_run,
                        CASE WHEN jsonb_typeof(expect -> 'max_consecutive_failures') = 'number'
                             THEN (expect ->> 'max_consecutive_failures')::numeric END AS max_failures,
                        CASE WHEN jsonb_typeof(expect -> 'success_within_seconds') = 'number'
                             THEN (expect ->> 'success_within_seconds')::numeric END AS within
                 FROM jobs)
               SELECT health AS "health!", count(*) AS "n!" FROM (
                 SELECT CASE
                   WHEN paused THEN 'paused'
                   WHEN max_run IS NOT NULL AND EXISTS (
                       SELECT 1 FROM (SELECT status, scheduled_at, started_at FROM job_runs
                                      WHERE job_id = j.id ORDER BY scheduled_at DESC LIMIT 1) AS n
                       WHERE n.status = 'running'
                         AND GREATEST(n.started_at, n.scheduled_at)
                             < $1::timestamptz - make_interval(secs => max_run::double precision))
                     THEN 'stuck'
                   WHEN consecutive_failures >= max_failures THEN 'failing'
                   WHEN next_run_at IS NULL THEN 'finished'
                   WHEN GREATEST(last_success_at, updated_at)
                        < $1::timestamptz - make_interval(secs => within::double precision)
                     THEN 'late'
                   ELSE 'ok' END AS health
                 FROM j) AS h
               GROUP BY health"#,
            ms(now)
        )
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.into_iter()
            .map(|r| {
                let health = r
                    .health
                    .parse()
                    .map_err(|e: String| StoreError::corrupt("jobs", "health", e))?;
                Ok((health, r.n))
            })
            .collect()
    }
}
