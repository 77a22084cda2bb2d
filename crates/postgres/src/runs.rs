//! PostgreSQL: the `job_runs` table, run history reads. Claims and outcomes are in `claims.rs`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use schedlite_core::model::Run;
use schedlite_core::store::{RunCursor, StoreError};

use super::PgStore;
use super::rows::RunRow;

impl PgStore {
    /// Runs of a job, newest attempt at the newest occurrence first, after `before` in that
    /// order when given (keyset paging on the unique (job_id, scheduled_at, attempt) key).
    pub async fn list_runs(
        &self,
        job_id: &str,
        before: Option<RunCursor>,
        limit: u32,
    ) -> Result<Vec<Run>, StoreError> {
        let rows = sqlx::query_as!(
            RunRow,
            "SELECT * FROM job_runs WHERE job_id = $1
               AND ($2::timestamptz IS NULL OR (scheduled_at, attempt) < ($2, $3))
             ORDER BY scheduled_at DESC, attempt DESC LIMIT $4",
            job_id,
            before.map(|c| c.scheduled_at),
            before.map_or(0, |c| i64::from(c.attempt)),
            i64::from(limit)
        )
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.into_iter().map(Run::try_from).collect()
    }

    /// One run by row id.
    pub async fn get_run(&self, run_id: i64) -> Result<Option<Run>, StoreError> {
        let row = sqlx::query_as!(RunRow, "SELECT * FROM job_runs WHERE id = $1", run_id)
            .fetch_optional(&mut *self.conn().await?)
            .await?;
        row.map(Run::try_from).transpose()
    }

    /// The newest run of each of `job_ids` that has one, in one query.
    pub async fn last_runs(&self, job_ids: &[&str]) -> Result<HashMap<String, Run>, StoreError> {
        if job_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<String> = job_ids.iter().map(|s| s.to_string()).collect();
        let rows = sqlx::query_as!(
            RunRow,
            r#"SELECT r.id AS "id!", r.job_id AS "job_id!", r.scheduled_at AS "scheduled_at!",
                      r.last_scheduled_at, r.occurrences AS "occurrences!", r.kind AS "kind!",
                      r.status AS "status!", r.started_at, r.finished_at, r.duration_ms,
                      r.owner_id, r.http_status, r.exit_code, r.output, r.error,
                      r.attempt AS "attempt!", r.retry_delay_ms, r.retry_at
               FROM unnest($1::text[]) AS j(id)
               CROSS JOIN LATERAL (SELECT * FROM job_runs WHERE job_id = j.id
                                   ORDER BY scheduled_at DESC, attempt DESC LIMIT 1) AS r"#,
            &ids
        )
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.into_iter()
            .map(|r| {
                let run = Run::try_from(r)?;
                Ok((run.job_id.clone(), run))
            })
            .collect()
    }

    /// When the earliest pending retry of each of `job_ids` that has one starts.
    pub async fn next_retries(
        &self,
        job_ids: &[&str],
    ) -> Result<HashMap<String, DateTime<Utc>>, StoreError> {
        if job_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<String> = job_ids.iter().map(|s| s.to_string()).collect();
        let rows = sqlx::query!(
            r#"SELECT job_id, min(retry_at) AS "at!" FROM job_runs
               WHERE retry_at IS NOT NULL AND job_id = ANY($1) GROUP BY job_id"#,
            &ids
        )
        .fetch_all(&mut *self.conn().await?)
        .await?;
        Ok(rows.into_iter().map(|r| (r.job_id, r.at)).collect())
    }
}
