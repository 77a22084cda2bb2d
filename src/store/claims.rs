//! SQL of the scheduler's write path: claiming due occurrences (advance `next_run_at` and insert
//! run rows in one transaction, so an occurrence is claimed at most once even with several
//! processes on one file), recording outcomes in batches, and manual runs.
//!
//! What to do with each due job (run, coalesce, miss, skip) is decided by the caller's plan
//! function; this module only makes the decision durable.

use chrono::{DateTime, Utc};

use super::{Store, StoreError, ts};
use crate::actions::Action;
use crate::model::{Job, RunKind, RunStatus};

/// A stretch of occurrences `first..=last` of one job, `count` of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// The first occurrence.
    pub first: DateTime<Utc>,
    /// The last occurrence (equal to `first` when `count` is 1).
    pub last: DateTime<Utc>,
    /// How many occurrences.
    pub count: i64,
}

/// What to do with one due job, decided by the scheduler.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimPlan {
    /// Occurrences too late to run: one `missed` row.
    pub missed: Option<Span>,
    /// Runs to start now, each a `running` row.
    pub runs: Vec<Span>,
    /// Runs not started because `max_instances` are running: one `skipped` row each.
    pub skipped: Vec<Span>,
    /// The job's next occurrence after those handled, or `None` when the trigger is finished.
    pub next_run_at: Option<DateTime<Utc>>,
}

/// A run claimed by this process, to execute now.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedRun {
    /// The `job_runs` row.
    pub run_id: i64,
    /// Its job.
    pub job_id: String,
    /// Its occurrence (sent as the `Idempotency-Key`).
    pub scheduled_at: DateTime<Utc>,
    /// What to execute.
    pub action: Action,
    /// Random start delay bound.
    pub jitter_seconds: u32,
}

/// What one claim transaction did.
#[derive(Debug, Clone, Default)]
pub struct ClaimReport {
    /// Runs to execute.
    pub runs: Vec<ClaimedRun>,
    /// Due jobs examined (when equal to the limit, more may be due).
    pub jobs: usize,
    /// Occurrences recorded `missed`.
    pub missed: i64,
    /// Occurrences recorded `skipped`.
    pub skipped: i64,
}

/// The outcome of one run, as written by [`Store::record_outcomes`].
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// The row.
    pub run_id: i64,
    /// `succeeded`, `failed`, `timed_out` or `interrupted`.
    pub status: RunStatus,
    /// When the action really started (after any jitter).
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// HTTP status, for http actions that got an answer.
    pub http_status: Option<u16>,
    /// Exit code, for commands that exited.
    pub exit_code: Option<i32>,
    /// First KiB of the body, or the output tail.
    pub output: Option<String>,
    /// Why it did not succeed.
    pub error: Option<String>,
}

struct DueRow {
    id: String,
}

impl Store {
    /// Claims up to `limit` due jobs (`next_run_at <= now`, earliest first) for process `owner`.
    ///
    /// In one `BEGIN IMMEDIATE` transaction, for each due job: asks `plan(job, running)` what to
    /// do (`running` = its runs still running), inserts the `missed`, `skipped` and `running`
    /// rows, and advances `next_run_at` — all or nothing, so a crash at any instant leaves either
    /// the old state or the new one. The unique key on (job_id, scheduled_at) backs this up: an
    /// occurrence that somehow has a row already is not inserted again.
    ///
    /// A due job whose row cannot be read (a bad hand edit) is paused with an error logged,
    /// rather than blocking the loop; its definition is left as it is for the operator to fix.
    pub async fn claim_due(
        &self,
        now: DateTime<Utc>,
        owner: &str,
        limit: u32,
        mut plan: impl FnMut(&Job, u32) -> ClaimPlan,
    ) -> Result<ClaimReport, StoreError> {
        let now_s = ts(now);
        let limit_i = i64::from(limit);
        let mut report = ClaimReport::default();
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let due = sqlx::query_as!(
            DueRow,
            r#"SELECT id AS "id!" FROM jobs WHERE next_run_at <= ? ORDER BY next_run_at LIMIT ?"#,
            now_s,
            limit_i
        )
        .fetch_all(&mut *tx)
        .await?;
        report.jobs = due.len();
        for row in due {
            let job = match super::jobs::read_job(&mut tx, &row.id).await {
                Ok(Some(job)) => job,
                Ok(None) => continue,
                Err(StoreError::Corrupt { table, key, reason }) => {
                    tracing::error!(job.id = %row.id, %table, %key, %reason, "due job is unreadable: pausing it until it is fixed");
                    sqlx::query!(
                        "UPDATE jobs SET paused = 1, next_run_at = NULL WHERE id = ?",
                        row.id
                    )
                    .execute(&mut *tx)
                    .await?;
                    continue;
                }
                Err(other) => return Err(other),
            };
            let running = sqlx::query_scalar!(
                r#"SELECT count(*) AS "n!: i64" FROM job_runs WHERE job_id = ? AND status = 'running'"#,
                job.id
            )
            .fetch_one(&mut *tx)
            .await?;
            let decided = plan(&job, u32::try_from(running).unwrap_or(u32::MAX));
            if let Some(span) = decided.missed {
                insert_closed(
                    &mut tx,
                    &job.id,
                    span,
                    RunStatus::Missed,
                    now,
                    owner,
                    "later than the misfire grace",
                )
                .await?;
                report.missed += span.count;
            }
            for span in &decided.skipped {
                insert_closed(
                    &mut tx,
                    &job.id,
                    *span,
                    RunStatus::Skipped,
                    now,
                    owner,
                    "max_instances runs were still running",
                )
                .await?;
                report.skipped += span.count;
            }
            for span in &decided.runs {
                if let Some(run_id) =
                    insert_running(&mut tx, &job.id, *span, RunKind::Scheduled, now, owner).await?
                {
                    report.runs.push(ClaimedRun {
                        run_id,
                        job_id: job.id.clone(),
                        scheduled_at: span.first,
                        action: job.action.clone(),
                        jitter_seconds: job.settings.jitter_seconds,
                    });
                }
            }
            let next = decided.next_run_at.map(ts);
            sqlx::query!("UPDATE jobs SET next_run_at = ? WHERE id = ?", next, job.id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(report)
    }

    /// Inserts a manual run of `job_id` at `now` owned by `owner`, to execute at once. Returns
    /// `None` when the job does not exist. The occurrence is `now` (moved on by a millisecond
    /// if that instant already has a row).
    pub async fn insert_manual_run(
        &self,
        job_id: &str,
        now: DateTime<Utc>,
        owner: &str,
    ) -> Result<Option<ClaimedRun>, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let Some(job) = super::jobs::read_job(&mut tx, job_id).await? else {
            return Ok(None);
        };
        let mut at = now;
        for _ in 0..1000 {
            let span = Span {
                first: at,
                last: at,
                count: 1,
            };
            if let Some(run_id) =
                insert_running(&mut tx, job_id, span, RunKind::Manual, now, owner).await?
            {
                tx.commit().await?;
                return Ok(Some(ClaimedRun {
                    run_id,
                    job_id: job.id,
                    scheduled_at: at,
                    action: job.action,
                    jitter_seconds: 0,
                }));
            }
            at += chrono::Duration::milliseconds(1);
        }
        Err(StoreError::corrupt(
            "job_runs",
            job_id,
            "no free instant for a manual run",
        ))
    }

    /// Writes the outcomes of finished runs in one transaction. A row already marked
    /// `interrupted` (its owner was wrongly thought dead) still takes the real outcome.
    pub async fn record_outcomes(&self, records: &[RunRecord]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        for r in records {
            let status = r.status.as_str();
            let started = ts(r.started_at);
            let finished = ts(r.finished_at);
            let duration = (r.finished_at - r.started_at).num_milliseconds();
            let http_status = r.http_status.map(i64::from);
            let exit_code = r.exit_code.map(i64::from);
            sqlx::query!(
                "UPDATE job_runs SET status = ?, started_at = ?, finished_at = ?, duration_ms = ?,
                    http_status = ?, exit_code = ?, output = ?, error = ?
                 WHERE id = ? AND status IN ('running', 'interrupted')",
                status,
                started,
                finished,
                duration,
                http_status,
                exit_code,
                r.output,
                r.error,
                r.run_id
            )
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

async fn insert_closed(
    tx: &mut sqlx::SqliteConnection,
    job_id: &str,
    span: Span,
    status: RunStatus,
    now: DateTime<Utc>,
    owner: &str,
    reason: &str,
) -> Result<(), StoreError> {
    let first = ts(span.first);
    let last = (span.count > 1).then(|| ts(span.last));
    let status_s = status.as_str();
    let at = ts(now);
    let error = if span.count > 1 {
        format!("{} occurrences {reason}", span.count)
    } else {
        reason.to_string()
    };
    sqlx::query!(
        "INSERT INTO job_runs (job_id, scheduled_at, last_scheduled_at, occurrences, kind, status,
            finished_at, owner_id, error)
         VALUES (?, ?, ?, ?, 'scheduled', ?, ?, ?, ?)
         ON CONFLICT (job_id, scheduled_at) DO NOTHING",
        job_id,
        first,
        last,
        span.count,
        status_s,
        at,
        owner,
        error
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Inserts a `running` row; `None` when the occurrence already has a row.
async fn insert_running(
    tx: &mut sqlx::SqliteConnection,
    job_id: &str,
    span: Span,
    kind: RunKind,
    now: DateTime<Utc>,
    owner: &str,
) -> Result<Option<i64>, StoreError> {
    let first = ts(span.first);
    let last = (span.count > 1).then(|| ts(span.last));
    let kind_s = kind.as_str();
    let at = ts(now);
    let id = sqlx::query_scalar!(
        r#"INSERT INTO job_runs (job_id, scheduled_at, last_scheduled_at, occurrences, kind, status,
            started_at, owner_id)
         VALUES (?, ?, ?, ?, ?, 'running', ?, ?)
         ON CONFLICT (job_id, scheduled_at) DO NOTHING
         RETURNING id AS "id!: i64""#,
        job_id,
        first,
        last,
        span.count,
        kind_s,
        at,
        owner
    )
    .fetch_optional(&mut *tx)
    .await?;
    Ok(id)
}
