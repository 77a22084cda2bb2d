//! SQLite: the run rows a claim inserts (first attempts, retries, approved catch-ups) and the
//! claimed runs they become. Apart from `claims.rs`, which decides what to insert, so that the
//! one set-based insert and its numbering of the new runs have a home of their own.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::claims::json_text;
use super::rows::decode;
use super::ts;
use crate::model::{Job, RunKind, RunStatus, Span};
use crate::store::{ClaimedRun, StoreError};
use schedlite_core::store::claims::closed_reason;

/// Inserts `rows` in one statement (an attempt that already has a row is left alone) and
/// returns the `running` ones this insert created, in due order, with their jobs from `by_id`.
pub(super) async fn insert_rows(
    tx: &mut sqlx::SqliteConnection,
    rows: &[RowSpec<'_>],
    by_id: &HashMap<&str, &Job>,
    owner: &str,
) -> Result<Vec<ClaimedRun>, StoreError> {
    let specs = json_text(rows)?;
    let done = sqlx::query!(
        r#"INSERT INTO job_runs (job_id, scheduled_at, last_scheduled_at, occurrences, kind, status,
               started_at, finished_at, owner_id, error, attempt, retry_delay_ms)
           SELECT r.value ->> 'job_id', r.value ->> 'scheduled_at', r.value ->> 'last_scheduled_at',
                  r.value ->> 'occurrences', r.value ->> 'kind', r.value ->> 'status',
                  r.value ->> 'started_at', r.value ->> 'finished_at', ?2, r.value ->> 'error',
                  r.value ->> 'attempt', r.value ->> 'retry_delay_ms'
           FROM jsonb_each(?1) AS r WHERE true
           ON CONFLICT (job_id, scheduled_at, attempt) DO NOTHING"#,
        specs,
        owner
    )
    .execute(&mut *tx)
    .await?;
    let inserted = usize::try_from(done.rows_affected()).unwrap_or(usize::MAX);
    // With the write lock held, one statement's new rows take consecutive rowids, one above
    // the largest before it, in the order the array gives them. When every row was inserted,
    // row i therefore has the i-th of those ids and nothing needs reading back.
    let first = done.last_insert_rowid() - i64::try_from(inserted).unwrap_or(i64::MAX) + 1;
    let mut runs = if inserted == rows.len() {
        numbered(rows, first, by_id)
    } else if inserted == 0 {
        Vec::new()
    } else {
        read_back(&mut *tx, first, by_id).await?
    };
    // Runs start in due order.
    runs.sort_by(|a, b| {
        a.scheduled_at
            .cmp(&b.scheduled_at)
            .then(a.run_id.cmp(&b.run_id))
    });
    Ok(runs)
}

/// The claimed runs of `rows`, all inserted, the first with id `first`.
fn numbered(rows: &[RowSpec<'_>], first: i64, by_id: &HashMap<&str, &Job>) -> Vec<ClaimedRun> {
    let mut runs = Vec::with_capacity(rows.len());
    for (id, row) in (first..).zip(rows) {
        if row.status != RunStatus::Running.as_str() {
            continue;
        }
        if let Some(job) = by_id.get(row.job_id) {
            runs.push(claimed(job, id, row.at, row.attempt));
        }
    }
    runs
}

/// The `running` rows of an insert that skipped some of its rows (their attempts had rows
/// already), read back from their ids, which start at `first`. Read as one JSON row: a channel
/// hand-off per row costs more (see `rows.rs`).
async fn read_back(
    tx: &mut sqlx::SqliteConnection,
    first: i64,
    by_id: &HashMap<&str, &Job>,
) -> Result<Vec<ClaimedRun>, StoreError> {
    let inserted = sqlx::query_scalar!(
        r#"SELECT json_group_array(json_object('id', id, 'job_id', job_id, 'scheduled_at', scheduled_at,
                  'attempt', attempt))
               AS "rows!: String"
           FROM job_runs WHERE id >= ? AND status = 'running'"#,
        first
    )
    .fetch_one(&mut *tx)
    .await?;
    let inserted: Vec<Inserted> = decode("job_runs", "claimed batch", &inserted)?;
    let mut runs = Vec::with_capacity(inserted.len());
    for row in inserted {
        let Some(job) = by_id.get(row.job_id.as_str()) else {
            continue;
        };
        let at = super::parse_ts("job_runs", &row.job_id, "scheduled_at", &row.scheduled_at)?;
        runs.push(claimed(job, row.id, at, row.attempt));
    }
    Ok(runs)
}

/// Run `run_id` of `job`, attempt `attempt` at the occurrence `at`, as the loop dispatches it.
fn claimed(job: &Job, run_id: i64, at: DateTime<Utc>, attempt: u32) -> ClaimedRun {
    ClaimedRun {
        run_id,
        scheduled_at: at,
        attempt,
        start_at: at,
        job_id: job.id.clone(),
        action: job.action.clone(),
        jitter_seconds: if attempt == 1 {
            job.settings.jitter_seconds
        } else {
            0
        },
        exclusive: job.exclusive.is_some(),
    }
}

/// One row to insert into `job_runs`, serialized as a JSON object for `jsonb_each`. Absent
/// values are left out rather than sent as `null` (`->>` reads a missing key as NULL): less
/// JSON for SQLite to parse and walk per row.
#[derive(Serialize)]
pub(super) struct RowSpec<'a> {
    job_id: &'a str,
    /// The occurrence's instant, for the claimed run (the row stores it as `scheduled_at`).
    #[serde(skip)]
    at: DateTime<Utc>,
    scheduled_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_scheduled_at: Option<String>,
    occurrences: i64,
    kind: &'static str,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    started_at: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    finished_at: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    attempt: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_delay_ms: Option<i64>,
}

impl<'a> RowSpec<'a> {
    /// A closed row (`missed` or `skipped`) for `span`, finished at `now` with `reason`.
    pub(super) fn closed(
        job_id: &'a str,
        span: Span,
        status: RunStatus,
        now: &'a str,
        reason: &str,
    ) -> RowSpec<'a> {
        RowSpec {
            status: status.as_str(),
            finished_at: Some(now),
            error: Some(closed_reason(span.count, reason)),
            ..RowSpec::of_span(job_id, span, 1)
        }
    }

    /// A `running` row for attempt `attempt` at `span`, retried `retry_delay_ms` after it ends
    /// without success (`None`: its last attempt).
    pub(super) fn running(
        job_id: &'a str,
        span: Span,
        now: &'a str,
        attempt: u32,
        retry_delay_ms: Option<i64>,
    ) -> RowSpec<'a> {
        RowSpec {
            status: RunStatus::Running.as_str(),
            started_at: Some(now),
            retry_delay_ms,
            ..RowSpec::of_span(job_id, span, attempt)
        }
    }

    /// What every row of attempt `attempt` at `span` holds; the constructors above add its
    /// status and what goes with it.
    fn of_span(job_id: &'a str, span: Span, attempt: u32) -> RowSpec<'a> {
        RowSpec {
            job_id,
            at: span.first,
            scheduled_at: ts(span.first),
            last_scheduled_at: (span.count > 1).then(|| ts(span.last)),
            occurrences: span.count,
            kind: RunKind::Scheduled.as_str(),
            status: RunStatus::Running.as_str(),
            started_at: None,
            finished_at: None,
            error: None,
            attempt,
            retry_delay_ms: None,
        }
    }

    /// The same row for a manual run's retry: a retry keeps its first attempt's kind.
    pub(super) fn of_kind(self, kind: RunKind) -> RowSpec<'a> {
        RowSpec {
            kind: kind.as_str(),
            ..self
        }
    }
}

/// A `running` row the claim inserted, read back by name.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Inserted {
    id: i64,
    job_id: String,
    scheduled_at: String,
    attempt: u32,
}
