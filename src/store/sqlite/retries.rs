//! SQLite: claiming pending retries (DESIGN.md, *Retries*). An attempt that ended without
//! success and is not its occurrence's last carries `retry_at` (set with its outcome, or when it
//! was interrupted); the claim turns each one due into the next attempt's `running` row and
//! clears the mark and the used delay, in the claim's transaction; with no delay left, a late
//! outcome of the attempt (its owner was declared dead meanwhile) cannot schedule it again.
//! The unique key (job_id, scheduled_at, attempt) makes each attempt happen at most once,
//! whichever process claims it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::claims::{json_text, pause_unreadable};
use super::rows::decode;
use super::run_rows::{RowSpec, insert_rows};
use super::{parse_opt_ts, parse_text, parse_ts};
use crate::model::{Job, RunKind, Span};
use crate::store::{ClaimedRun, StoreError};

/// An attempt waiting to be retried, read by name.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Pending {
    id: i64,
    job_id: String,
    scheduled_at: String,
    last_scheduled_at: Option<String>,
    occurrences: i64,
    kind: String,
    attempt: u32,
    retry_at: String,
}

/// Claims up to `limit` retries due by `horizon` for `owner`, stamped `now`, in the caller's
/// transaction. A paused job's retries wait for its resumption. A retry the job's policy no
/// longer allows (its `max_attempts` was lowered since) is dropped: lowering it is how an
/// operator stops retrying.
pub(super) async fn claim_retries(
    tx: &mut sqlx::SqliteConnection,
    now: &str,
    horizon: &str,
    owner: &str,
    limit: u32,
) -> Result<Vec<ClaimedRun>, StoreError> {
    let pending = sqlx::query_scalar!(
        r#"SELECT json_group_array(json_object('id', id, 'job_id', job_id,
                  'scheduled_at', scheduled_at, 'last_scheduled_at', last_scheduled_at,
                  'occurrences', occurrences, 'kind', kind, 'attempt', attempt,
                  'retry_at', retry_at)) AS "rows!: String"
           FROM (SELECT * FROM job_runs AS r WHERE retry_at <= ?
                 AND EXISTS (SELECT 1 FROM jobs AS j WHERE j.id = r.job_id AND j.paused = 0)
                 ORDER BY retry_at LIMIT ? + 0)"#,
        horizon,
        limit
    )
    .fetch_one(&mut *tx)
    .await?;
    let pending: Vec<Pending> = decode("job_runs", "pending retries", &pending)?;
    if pending.is_empty() {
        return Ok(Vec::new());
    }
    let mut ids: Vec<&str> = pending.iter().map(|p| p.job_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let jobs = super::jobs::jobs_by_ids(&mut *tx, &json_text(&ids)?).await?;
    let jobs = pause_unreadable(&mut *tx, jobs).await?;
    let by_id: HashMap<&str, &Job> = jobs.iter().map(|j| (j.id.as_str(), j)).collect();
    let mut rows = Vec::with_capacity(pending.len());
    let mut starts = HashMap::with_capacity(pending.len());
    let mut taken = Vec::with_capacity(pending.len());
    for p in &pending {
        let Some(job) = by_id.get(p.job_id.as_str()) else {
            continue; // Unreadable: paused above, its retry waits for the repair.
        };
        taken.push(p.id);
        let next = p.attempt + 1;
        if next > job.retry.max_attempts {
            continue;
        }
        // A hand-edited instant that cannot be read drops this retry (said in the log), rather
        // than failing every claim and stopping every job.
        let (span, kind, start) = match read_pending(p) {
            Ok(read) => read,
            Err(e) => {
                tracing::warn!(job_id = %p.job_id, error = %e, "a pending retry cannot be read; dropped");
                continue;
            }
        };
        let delay = job.retry.draw_delay_ms(next);
        rows.push(RowSpec::running(&p.job_id, span, now, next, delay).of_kind(kind));
        starts.insert((p.job_id.as_str(), span.first, next), start);
    }
    let mut runs = if rows.is_empty() {
        Vec::new()
    } else {
        insert_rows(&mut *tx, &rows, &by_id, owner).await?
    };
    for run in &mut runs {
        if let Some(start) = starts.get(&(run.job_id.as_str(), run.scheduled_at, run.attempt)) {
            run.start_at = *start;
        }
    }
    let taken = json_text(&taken)?;
    sqlx::query!(
        "UPDATE job_runs SET retry_at = NULL, retry_delay_ms = NULL
         WHERE id IN (SELECT value FROM json_each(?))",
        taken
    )
    .execute(&mut *tx)
    .await?;
    Ok(runs)
}

/// The occurrence, kind and start instant of a pending retry.
fn read_pending(p: &Pending) -> Result<(Span, RunKind, DateTime<Utc>), StoreError> {
    let key = format!("id {}", p.id);
    let first = parse_ts("job_runs", &key, "scheduled_at", &p.scheduled_at)?;
    let last = parse_opt_ts(
        "job_runs",
        &key,
        "last_scheduled_at",
        p.last_scheduled_at.as_deref(),
    )?;
    let kind: RunKind = parse_text("job_runs", &key, &p.kind)?;
    let span = Span {
        first,
        last: last.unwrap_or(first),
        count: p.occurrences,
    };
    let start = parse_ts("job_runs", &key, "retry_at", &p.retry_at)?;
    Ok((span, kind, start))
}
