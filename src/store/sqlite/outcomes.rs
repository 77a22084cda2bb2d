//! SQLite: writing the outcomes of finished runs, in batches, with the health counters they
//! move and the retries they schedule, in one transaction.

use schedlite_core::crash_point;
use serde::Serialize;

use super::claims::json_text;
use super::{SqliteStore, ts};
use crate::model::{FinishedRun, fold_outcomes};
use crate::store::{RunRecord, StoreError};

impl SqliteStore {
    /// Writes the outcomes of finished runs in one statement. A row already marked
    /// `interrupted` (its owner was wrongly thought dead) still takes the real outcome.
    ///
    /// An attempt that did not succeed and is not its occurrence's last gets its `retry_at`:
    /// its end plus the delay its claim decided (`retry_delay_ms`), in the same statement, so
    /// the retry is as durable as the outcome. Not when the next attempt already has a row
    /// (this one was declared interrupted, and its retry taken, before the outcome came).
    pub async fn record_outcomes(&self, records: &[RunRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let rows: Vec<_> = records
            .iter()
            .map(|r| Outcome {
                id: r.run_id,
                status: r.status.as_str(),
                started_at: ts(r.started_at),
                finished_at: ts(r.finished_at),
                duration_ms: (r.finished_at - r.started_at).num_milliseconds(),
                http_status: r.http_status,
                exit_code: r.exit_code,
                output: r.output.as_deref(),
                error: r.error.as_deref(),
            })
            .collect();
        let rows = json_text(&rows)?;
        let changes = counter_changes(records);
        crash_point!("outcome-before-write");
        let mut tx = self.begin_loop_write().await?;
        sqlx::query!(
            "UPDATE job_runs SET status = o.value ->> 'status', started_at = o.value ->> 'started_at',
                finished_at = o.value ->> 'finished_at', duration_ms = o.value ->> 'duration_ms',
                http_status = o.value ->> 'http_status', exit_code = o.value ->> 'exit_code',
                output = o.value ->> 'output', error = o.value ->> 'error',
                retry_at = iif(o.value ->> 'status' = 'succeeded' OR retry_delay_ms IS NULL
                        OR EXISTS (SELECT 1 FROM job_runs AS n WHERE n.job_id = job_runs.job_id
                                   AND n.scheduled_at = job_runs.scheduled_at
                                   AND n.attempt = job_runs.attempt + 1),
                    NULL,
                    strftime('%Y-%m-%dT%H:%M:%fZ', o.value ->> 'finished_at',
                             format('%+.3f seconds', retry_delay_ms / 1000.0)))
             FROM jsonb_each(?) AS o
             WHERE job_runs.id = o.value ->> 'id' AND job_runs.status IN ('running', 'interrupted')",
            rows
        )
        .execute(&mut *tx)
        .await?;
        if !changes.is_empty() {
            // The health counters move with the outcomes, in the same transaction (module
            // `model::health`): a success replaces the failure count, failures add to it.
            let changes = json_text(&changes)?;
            sqlx::query!(
                "UPDATE jobs SET
                    consecutive_failures = iif(c.value ->> 'success_at' IS NULL,
                        consecutive_failures + (c.value ->> 'failures'), c.value ->> 'failures'),
                    last_success_at = iif(c.value ->> 'success_at' > ifnull(last_success_at, ''),
                        c.value ->> 'success_at', last_success_at)
                 FROM jsonb_each(?) AS c WHERE jobs.id = c.value ->> 'id'",
                changes
            )
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// A job's health counter change as the outcome write sends it (instants as stored).
#[derive(Serialize)]
struct Change {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    success_at: Option<String>,
    failures: u32,
}

/// What `records` do to their jobs' health counters ([`fold_outcomes`]).
fn counter_changes(records: &[RunRecord]) -> Vec<Change> {
    let outcomes: Vec<FinishedRun> = records
        .iter()
        .map(|r| FinishedRun {
            job_id: r.job_id.clone(),
            status: r.status,
            finished_at: r.finished_at,
        })
        .collect();
    fold_outcomes(&outcomes)
        .into_iter()
        .map(|c| Change {
            id: c.job_id,
            success_at: c.success_at.map(ts),
            failures: c.failures,
        })
        .collect()
}

/// One outcome for `record_outcomes`' one `UPDATE … FROM jsonb_each`; absent values are left
/// out (`->>` reads a missing key as NULL), as in the claim's rows.
#[derive(Serialize)]
struct Outcome<'a> {
    id: i64,
    status: &'static str,
    started_at: String,
    finished_at: String,
    duration_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    http_status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}
