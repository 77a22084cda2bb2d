//! A job's health on the wire (DESIGN.md, *Job health, alerts, pause, skip, catch-up*): the
//! `health` field of every job and the `health` filter of `GET /jobs`. The rules live in
//! `model::health` (`Health::of`); this module only names them and filters a listing by them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::response::{ListedJob, Seen};
use crate::api::{ApiError, AppState};
use crate::model::{Health, JobEntry};
use crate::store::{JobCursor, JobFilter, JobOrder};

/// A job's health, by precedence when several apply: `broken` > `paused` > `stuck` >
/// `failing` > `finished` > `late` > `ok`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(in crate::api) enum JobHealth {
    /// Nothing to report.
    Ok,
    /// No success within `expect.success_within_seconds` (counted from the last success, or
    /// from the job's last change when later).
    Late,
    /// `expect.max_consecutive_failures` runs in a row failed or timed out.
    Failing,
    /// Its newest run has been running longer than `expect.max_run_seconds` (not killed).
    Stuck,
    /// Paused.
    Paused,
    /// Its trigger will not fire again.
    Finished,
    /// Its stored definition cannot be read: never fired, repaired by a valid PUT.
    Broken,
}

impl From<Health> for JobHealth {
    fn from(health: Health) -> JobHealth {
        match health {
            Health::Ok => JobHealth::Ok,
            Health::Late => JobHealth::Late,
            Health::Failing => JobHealth::Failing,
            Health::Stuck => JobHealth::Stuck,
            Health::Paused => JobHealth::Paused,
            Health::Finished => JobHealth::Finished,
            Health::Broken => JobHealth::Broken,
        }
    }
}

/// How many pages of the store one request of a health-filtered listing reads at most: health
/// depends on the clock, so it is not a column to seek, and a rare health among a million jobs
/// must not hold one request for the whole table. Past this, the page is answered short (even
/// empty) with a `next_cursor` to go on from.
pub(super) const MAX_FILTER_ROUNDS: u32 = 10;

/// One page of `GET /jobs`: up to `limit` jobs after `after` that pass `filter` and, when
/// given, have the health `wanted` at `now`; and where to go on. Without `wanted` this is one
/// page of the store. With it, store pages of the size still missing are read and filtered
/// until the page is full, the listing ends, or [`MAX_FILTER_ROUNDS`] pages were read; every
/// store page is taken whole, so its cursor is the listing's.
pub(super) async fn filtered_page(
    state: &AppState,
    filter: &JobFilter,
    order: JobOrder,
    mut after: Option<JobCursor>,
    limit: u32,
    wanted: Option<JobHealth>,
) -> Result<(Vec<ListedJob>, Option<JobCursor>), ApiError> {
    let now = crate::timestamp::now();
    let mut jobs = Vec::new();
    for _ in 0..MAX_FILTER_ROUNDS {
        let need = limit - u32::try_from(jobs.len()).expect("BUG: a page holds at most `limit`");
        let page = state
            .store
            .list_jobs(filter, order, after.as_ref(), need)
            .await?;
        let ids: Vec<&str> = page.jobs.iter().map(|j| j.id()).collect();
        let mut last_runs = state.store.last_runs(&ids).await?;
        let mut next_retries = state.store.next_retries(&ids).await?;
        let readable = page.jobs.iter().filter_map(|e| match e {
            JobEntry::Readable(job) => Some(job),
            JobEntry::Broken(_) => None,
        });
        let mut awaiting = super::awaiting_approval(state, readable).await?;
        for entry in page.jobs {
            let seen = Seen {
                last_run: last_runs.remove(entry.id()),
                next_retry_at: next_retries.remove(entry.id()),
                awaiting: awaiting.remove(entry.id()),
            };
            let listed = ListedJob::new(entry, seen, now);
            if wanted.is_none_or(|w| listed.health() == w) {
                jobs.push(listed);
            }
        }
        match page.next {
            Some(next) if jobs.len() < limit as usize => after = Some(next),
            next => return Ok((jobs, next)),
        }
    }
    Ok((jobs, after))
}
