//! PostgreSQL: claiming pending retries (DESIGN.md, *Retries*), the same rules as SQLite's
//! `retries.rs`: each pending retry due becomes the next attempt's `running` row and its mark is
//! cleared, in the claim's transaction. Rows are locked with `FOR UPDATE SKIP LOCKED`, so two
//! nodes never take the same retry, and the unique key (job_id, scheduled_at, attempt) backs it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use schedlite_core::model::{Job, RunKind, Span};
use schedlite_core::store::{ClaimedRun, StoreError};
use sqlx::PgConnection;

use super::claims::{Decisions, insert_rows, pause_unreadable};
use super::rows::JobRow;

/// Claims up to `limit` retries due by `horizon` for `owner`, stamped `now`, in the caller's
/// transaction. A paused job's retries wait; a retry its job's policy no longer allows (its
/// `max_attempts` was lowered) is dropped.
pub(crate) async fn claim_retries(
    tx: &mut PgConnection,
    now: DateTime<Utc>,
    horizon: DateTime<Utc>,
    owner: &str,
    limit: u32,
) -> Result<Vec<ClaimedRun>, StoreError> {
    let pending = sqlx::query!(
        r#"SELECT r.id, r.job_id, r.scheduled_at, r.last_scheduled_at, r.occurrences, r.kind,
                  r.attempt, r.retry_at AS "retry_at!"
           FROM job_runs AS r
           WHERE r.retry_at <= $1
             AND EXISTS (SELECT 1 FROM jobs AS j WHERE j.id = r.job_id AND NOT j.paused)
           ORDER BY r.retry_at LIMIT $2
           FOR UPDATE OF r SKIP LOCKED"#,
        horizon,
        i64::from(limit)
    )
    .fetch_all(&mut *tx)
    .await?;
    if pending.is_empty() {
        return Ok(Vec::new());
    }
    let mut ids: Vec<String> = pending.iter().map(|p| p.job_id.clone()).collect();
    ids.sort_unstable();
    ids.dedup();
    let rows = sqlx::query_as!(JobRow, "SELECT * FROM jobs WHERE id = ANY($1)", &ids)
        .fetch_all(&mut *tx)
        .await?;
    let jobs = pause_unreadable(&mut *tx, rows).await?;
    let mut decided = Decisions::default();
    decided.by_id = jobs
        .iter()
        .map(|j| (j.id.as_str(), j))
        .collect::<HashMap<_, &Job>>();
    let mut starts = HashMap::with_capacity(pending.len());
    let mut taken = Vec::with_capacity(pending.len());
    for p in &pending {
        let Some(job) = decided.by_id.get(p.job_id.as_str()).copied() else {
            continue; // Unreadable: paused above, its retry waits for the repair.
        };
        taken.push(p.id);
        let next = u32::try_from(p.attempt + 1).unwrap_or(u32::MAX);
        if next > job.retry.max_attempts {
            continue;
        }
        let kind: RunKind = p
            .kind
            .parse()
            .map_err(|e: String| StoreError::corrupt("job_runs", &format!("id {}", p.id), e))?;
        let span = Span {
            first: p.scheduled_at,
            last: p.last_scheduled_at.unwrap_or(p.scheduled_at),
            count: p.occurrences,
        };
        let delay = job.retry.draw_delay_ms(next);
        decided.push_attempt(&p.job_id, span, now, kind, next, delay);
        starts.insert((p.job_id.clone(), p.scheduled_at, next), p.retry_at);
    }
    let mut runs = if decided.job_ids.is_empty() {
        Vec::new()
    } else {
        insert_rows(&mut *tx, &decided, owner).await?
    };
    for run in &mut runs {
        let key = (run.job_id.clone(), run.scheduled_at, run.attempt);
        if let Some(start) = starts.get(&key) {
            run.start_at = *start;
        }
    }
    sqlx::query!(
        "UPDATE job_runs SET retry_at = NULL, retry_delay_ms = NULL WHERE id = ANY($1)",
        &taken
    )
    .execute(&mut *tx)
    .await?;
    Ok(runs)
}
