//! PostgreSQL: the `job_runs` table, run history reads. Claims and outcomes are in `claims.rs`.

use std::collections::HashMap;

use schedlite_core::model::Run;
use schedlite_core::store::StoreError;
use schedlite_core::timestamp::Timestamp;

use super::PgStore;
use super::rows::RunRow;

impl PgStore {
    /// Runs of a job, newest occurrence first, with `scheduled_at` before `before` (a
    /// timestamp in the contract's text form) when given.
    pub async fn list_runs(
        &self,
        job_id: &str,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Run>, StoreError> {
        let before = before
            .map(|t| {
                Timestamp::parse(t)
                    .map(Timestamp::get)
                    .map_err(|e| StoreError::corrupt("job_runs", job_id, format!("cursor: {e}")))
            })
            .transpose()?;
        let rows = sqlx::query_as!(
            RunRow,
            "SELECT * FROM job_runs WHERE job_id = $1 AND ($2::timestamptz IS NULL OR scheduled_at < $2)
             ORDER BY scheduled_at DESC LIMIT $3",
            job_id,
            before,
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
                      r.owner_id, r.http_status, r.exit_code, r.output, r.error
               FROM unnest($1::text[]) AS j(id)
               CROSS JOIN LATERAL (SELECT * FROM job_runs WHERE job_id = j.id
                                   ORDER BY scheduled_at DESC LIMIT 1) AS r"#,
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
}
