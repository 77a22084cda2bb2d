//! SQLite: the `job_runs` table, run history reads. The scheduler's claim and record
//! transactions live in `claims.rs`; the row shape in `rows.rs`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::rows::{RunRow, decode, shaped};
use super::{SqliteStore, parse_ts, ts};
use crate::model::Run;
use crate::store::{RunCursor, StoreError};

impl SqliteStore {
    /// Runs of a job, newest attempt at the newest occurrence first, after `before` in that
    /// order when given (keyset paging on the unique (job_id, scheduled_at, attempt) index).
    pub async fn list_runs(
        &self,
        job_id: &str,
        before: Option<RunCursor>,
        limit: u32,
    ) -> Result<Vec<Run>, StoreError> {
        // `~` sorts after every timestamp: no cursor means "from the newest".
        let (at, attempt) = match before {
            Some(c) => (ts(c.scheduled_at), i64::from(c.attempt)),
            None => ("~".to_string(), 0),
        };
        let limit = i64::from(limit);
        let page = shaped!(query_scalar!(
            [r#"SELECT json_group_array("# RUN r#") AS "rows!: String"
                FROM (SELECT * FROM job_runs WHERE job_id = ?1
                      AND (scheduled_at, attempt) < (?2, ?3)
                      ORDER BY scheduled_at DESC, attempt DESC LIMIT ?4)"#],
            job_id,
            at,
            attempt,
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
                                     ORDER BY l.scheduled_at DESC, l.attempt DESC LIMIT 1)
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

    /// [`crate::store::Store::next_retries`] on SQLite: the partial index on pending retries
    /// by job answers it without touching the history.
    pub async fn next_retries(
        &self,
        job_ids: &[&str],
    ) -> Result<HashMap<String, DateTime<Utc>>, StoreError> {
        if job_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let ids = serde_json::to_string(job_ids)
            .map_err(|e| StoreError::corrupt("job_runs", "ids", e.to_string()))?;
        let found = sqlx::query_scalar!(
            r#"SELECT json_group_object(job_id, at) AS "retries!: String" FROM (
                   SELECT job_id, min(retry_at) AS at FROM job_runs
                   WHERE retry_at IS NOT NULL AND job_id IN (SELECT value FROM json_each(?))
                   GROUP BY job_id)"#,
            ids
        )
        .fetch_one(&self.pool)
        .await?;
        let found: HashMap<String, String> = decode("job_runs", "next retries", &found)?;
        // A hand-edited instant that cannot be read is left out (and dropped by the next claim
        // that reaches it), not an error for the whole listing.
        Ok(found
            .into_iter()
            .filter_map(|(job, at)| {
                let at = parse_ts("job_runs", &job, "retry_at", &at).ok()?;
                Some((job, at))
            })
            .collect())
    }
}
