//! SQL for the `job_runs` table: run history reads. The scheduler's claim and record
//! transactions live in `claims.rs`.

use super::{Store, StoreError, parse_opt_ts, parse_text, parse_ts};
use crate::model::{Run, RunKind};

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

impl Store {
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

    /// The newest run of a job, if it has any.
    pub async fn last_run(&self, job_id: &str) -> Result<Option<Run>, StoreError> {
        Ok(self.list_runs(job_id, None, 1).await?.into_iter().next())
    }
}
