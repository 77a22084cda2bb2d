//! SQLite: the `job_runs` table, run history reads. The scheduler's claim and record
//! transactions live in `claims.rs`.

use std::collections::HashMap;

use super::{SqliteStore, parse_opt_ts, parse_text, parse_ts};
use crate::model::{Run, RunKind};
use crate::store::StoreError;

pub(super) struct RunRow {
    pub(super) id: i64,
    pub(super) job_id: String,
    pub(super) scheduled_at: String,
    pub(super) last_scheduled_at: Option<String>,
    pub(super) occurrences: i64,
    pub(super) kind: String,
    pub(super) status: String,
    pub(super) started_at: Option<String>,
    pub(super) finished_at: Option<String>,
    pub(super) duration_ms: Option<i64>,
    pub(super) owner_id: Option<String>,
    pub(super) http_status: Option<i64>,
    pub(super) exit_code: Option<i64>,
    pub(super) output: Option<String>,
    pub(super) error: Option<String>,
}

/// One `job_runs` row as a JSON array, in [`RunRow`] field order.
#[derive(serde::Deserialize)]
pub(super) struct RunRowJson(
    i64,
    String,
    String,
    Option<String>,
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
);

impl From<RunRowJson> for RunRow {
    fn from(r: RunRowJson) -> RunRow {
        RunRow {
            id: r.0,
            job_id: r.1,
            scheduled_at: r.2,
            last_scheduled_at: r.3,
            occurrences: r.4,
            kind: r.5,
            status: r.6,
            started_at: r.7,
            finished_at: r.8,
            duration_ms: r.9,
            owner_id: r.10,
            http_status: r.11,
            exit_code: r.12,
            output: r.13,
            error: r.14,
        }
    }
}

impl TryFrom<RunRow> for Run {
    type Error = StoreError;

    fn try_from(row: RunRow) -> Result<Run, StoreError> {
        let key = format!("id {}", row.id);
        let kind = match row.kind.as_str() {
            "scheduled" => RunKind::Scheduled,
            "manual" => RunKind::Manual,
            other => {
                return Err(StoreError::corrupt(
                    "job_runs",
                    &key,
                    format!("unknown kind `{other}`"),
                ));
            }
        };
        Ok(Run {
            id: row.id,
            scheduled_at: parse_ts("job_runs", &key, "scheduled_at", &row.scheduled_at)?,
            last_scheduled_at: parse_opt_ts(
                "job_runs",
                &key,
                "last_scheduled_at",
                row.last_scheduled_at.as_deref(),
            )?,
            occurrences: row.occurrences,
            kind,
            status: parse_text("job_runs", &key, &row.status)?,
            started_at: parse_opt_ts("job_runs", &key, "started_at", row.started_at.as_deref())?,
            finished_at: parse_opt_ts("job_runs", &key, "finished_at", row.finished_at.as_deref())?,
            duration_ms: row.duration_ms,
            owner_id: row.owner_id,
            http_status: row.http_status,
            exit_code: row.exit_code,
            output: row.output,
            error: row.error,
            job_id: row.job_id,
        })
    }
}

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
        let rows = sqlx::query_as!(
            RunRow,
            r#"SELECT id AS "id!: i64", job_id, scheduled_at, last_scheduled_at, occurrences, kind, status,
                      started_at, finished_at, duration_ms, owner_id, http_status, exit_code, output, error
               FROM job_runs WHERE job_id = ? AND scheduled_at < ? ORDER BY scheduled_at DESC LIMIT ?"#,
            job_id,
            before,
            limit
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(Run::try_from).collect()
    }

    /// One run by row id.
    pub async fn get_run(&self, run_id: i64) -> Result<Option<Run>, StoreError> {
        let row = sqlx::query_as!(
            RunRow,
            r#"SELECT id AS "id!: i64", job_id, scheduled_at, last_scheduled_at, occurrences, kind, status,
                      started_at, finished_at, duration_ms, owner_id, http_status, exit_code, output, error
               FROM job_runs WHERE id = ?"#,
            run_id
        )
        .fetch_optional(&self.pool)
        .await?;
        row.map(Run::try_from).transpose()
    }

    /// The newest run of each of `job_ids` that has one, in one query (a page of jobs would
    /// otherwise cost a query per job). Uses the (job_id, scheduled_at) index once per job.
    pub async fn last_runs(&self, job_ids: &[&str]) -> Result<HashMap<String, Run>, StoreError> {
        if job_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let ids = serde_json::to_string(job_ids)
            .map_err(|e| StoreError::corrupt("job_runs", "ids", e.to_string()))?;
        let batch = sqlx::query_scalar!(
            r#"SELECT json_group_array(json_array(r.id, r.job_id, r.scheduled_at, r.last_scheduled_at,
                      r.occurrences, r.kind, r.status, r.started_at, r.finished_at, r.duration_ms, r.owner_id,
                      r.http_status, r.exit_code, r.output, r.error)) AS "rows!: String"
               FROM json_each(?) AS j
               JOIN job_runs AS r ON r.id = (SELECT id FROM job_runs WHERE job_id = j.value
                                             ORDER BY scheduled_at DESC LIMIT 1)"#,
            ids
        )
        .fetch_one(&self.pool)
        .await?;
        let rows: Vec<RunRowJson> = serde_json::from_str(&batch).map_err(|e| {
            StoreError::corrupt(
                "job_runs",
                "last runs",
                format!("unexpected column types: {e}"),
            )
        })?;
        rows.into_iter()
            .map(|r| {
                let run = Run::try_from(RunRow::from(r))?;
                Ok((run.job_id.clone(), run))
            })
            .collect()
    }
}
