//! SQLite: the `job_runs` table, run history reads. The scheduler's claim and record
//! transactions live in `claims.rs`; the row shape in `rows.rs`.

use std::collections::HashMap;

use super::SqliteStore;
use super::rows::{RunRow, decode, shaped};
use crate::model::Run;
use crate::store::StoreError;

impl SqliteStore {
    /// Runs of a job, newest occurrence first, with `scheduled_at` before `before` when given
    /// (keyset paging on the unique (job_id, scheduled_at) index).
    pub async fn list_runs(
        &self,
        job_id: &str,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Run>, StoreError> {
        // `~` sorts after every timestamp: no cursor means "from the newest".
        let before = before.unwrap_or("~");
        let limit = i64::from(limit);
        let page = shaped!(query_scalar!(
            [r#"SELECT json_group_array("# RUN r#") AS "rows!: String"
                FROM (SELECT * FROM job_runs WHERE job_id = ? AND scheduled_at < ?
                      ORDER BY scheduled_at DESC LIMIT ?)"#],
            job_id,
            before,
            limit
        ))
        .fetch_one(&self.pool)
        .await?;
        let rows: Vec<RunRow> = decode("job_runs", job_id, &page)?;
        rows.into_iter().map(Run::try_from).collect()
    }

    /// One run by row id.
    pub async fn get_run(&self, run_id: i64) -> Result<Option<Run>, StoreError> {
        let row = shaped!(query_scalar!(
            [r#"SELECT "# RUN r#" AS "row!: String" FROM job_runs WHERE id = ?"#],
            run_id
        ))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|json| {
            Run::try_from(decode::<RunRow>(
                "job_runs",
                &format!("id {run_id}"),
                &json,
            )?)
        })
        .transpose()
    }

    /// The newest run of each of `job_ids` that has one, in one query (a page of jobs would
    /// otherwise cost a query per job). Uses the (job_id, scheduled_at) index once per job.
    pub async fn last_runs(&self, job_ids: &[&str]) -> Result<HashMap<String, Run>, StoreError> {
        if job_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let ids = serde_json::to_string(job_ids)
            .map_err(|e| StoreError::corrupt("job_runs", "ids", e.to_string()))?;
        let batch = shaped!(query_scalar!(
            [r#"SELECT json_group_array("# RUN r#") AS "rows!: String"
                FROM job_runs
                WHERE id IN (SELECT (SELECT l.id FROM job_runs AS l WHERE l.job_id = j.value
                                     ORDER BY l.scheduled_at DESC LIMIT 1)
                             FROM json_each(?) AS j)"#],
            ids
        ))
        .fetch_one(&self.pool)
        .await?;
        let rows: Vec<RunRow> = decode("job_runs", "last runs", &batch)?;
        rows.into_iter()
            .map(|r| {
                let run = Run::try_from(r)?;
                Ok((run.job_id.clone(), run))
            })
            .collect()
    }
}
