//! Shared types of the store contract (claims); the methods that use them are on the service's
//! `Store`, and each backend implements them in its own SQL.

use crate::actions::Action;
use crate::model::{ClaimPlan, Holder, RunStatus, SkipRequest, Span};
use chrono::{DateTime, Utc};

/// A run claimed by this process, to execute now.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedRun {
    /// The `job_runs` row.
    pub run_id: i64,
    /// Its job.
    pub job_id: String,
    /// Its occurrence (sent as the `Idempotency-Key`).
    pub scheduled_at: DateTime<Utc>,
    /// Which attempt at the occurrence (sent as `Schedlite-Attempt`).
    pub attempt: u32,
    /// When it starts: the occurrence for a first attempt, the retry's instant for a later one.
    pub start_at: DateTime<Utc>,
    /// What to execute.
    pub action: Action,
    /// Random start delay bound (first attempts only: a retry's delay has its own jitter).
    pub jitter_seconds: u32,
    /// Whether its job is in an exclusive group: its outcome may free the group for a job
    /// waiting on it, so the loop looks again once the outcome is written.
    pub exclusive: bool,
}

/// What else a due job's plan must respect, as the store found it in the claim transaction.
#[derive(Debug, Clone, Copy, Default)]
pub struct Busy<'a> {
    /// Its runs `running` in OTHER processes or waiting to be retried (the caller counts its
    /// own from memory).
    pub elsewhere: u32,
    /// Who holds its exclusive group (a stored run of any process, or a run this claim
    /// starts); `None` when it has no group or the group is free.
    pub holder: Option<&'a Holder>,
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
    /// Whether an approved catch-up stretch still has occurrences to start (its job had no
    /// free slot, or more than one claim starts).
    pub catch_ups_waiting: bool,
}

impl ClaimReport {
    /// Counts `span`, closed with `status` (`missed` or `skipped`), in the report.
    pub fn count_closed(&mut self, span: &Span, status: RunStatus) {
        match status {
            RunStatus::Skipped => self.skipped += span.count,
            _ => self.missed += span.count,
        }
    }
}

impl<'a> Busy<'a> {
    /// What `job` must respect: `elsewhere` of its runs counted by the store, and the holder
    /// of its group in `groups`.
    pub fn of(job: &crate::model::Job, elsewhere: i64, groups: &'a crate::model::Groups) -> Self {
        let group = job.exclusive.as_ref().map(|e| e.group.as_str());
        Busy {
            elsewhere: u32::try_from(elsewhere).unwrap_or(u32::MAX),
            holder: group.and_then(|g| groups.holder(g)),
        }
    }
}

/// Whether a manual run of `job` may start now, given its group's holders as looked up in
/// `groups`: a manual run never waits, so a held group refuses it
/// ([`super::StoreError::GroupBusy`], the API's 409).
pub fn manual_run_allowed(
    job: &crate::model::Job,
    groups: &crate::model::Groups,
) -> Result<(), super::StoreError> {
    let Some(group) = job.exclusive.as_ref().map(|e| e.group.as_str()) else {
        return Ok(());
    };
    match groups.holder(group) {
        None => Ok(()),
        Some(holder) => Err(super::StoreError::GroupBusy {
            job_id: job.id.clone(),
            reason: holder.busy_reason(group),
        }),
    }
}

/// The outcome of one run, as written by `Store::record_outcomes`.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// The row.
    pub run_id: i64,
    /// Its job (whose health counters the outcome moves).
    pub job_id: String,
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
    /// Whether its job is in an exclusive group ([`ClaimedRun::exclusive`]).
    pub exclusive: bool,
}

/// Why occurrences were recorded `missed`.
pub const MISSED_REASON: &str = "later than the misfire grace";

/// Why occurrences were recorded `skipped`.
pub const SKIPPED_REASON: &str = "max_instances runs were still running";

/// Why occurrences within the grace were recorded `missed`: with coalescing off, one claim
/// starts at most 100 separate runs of a job (`MAX_RUNS_PER_CLAIM` in the scheduler's misfire
/// policy, whose unit test checks that this text names it) and the older ones overflow.
pub const OVERFLOW_REASON: &str =
    "over the catch-up cap: at most 100 separate runs per claim with coalesce off";

/// The rows that close occurrences of `plan` without running them, each with its status and
/// its reason (the `error` text is [`closed_reason`] of them): the missed ones, the overflow of
/// the catch-up cap, the skipped ones, in due order.
pub fn closed_rows(plan: &ClaimPlan) -> impl Iterator<Item = (Span, RunStatus, &'static str)> {
    let missed = plan.missed.map(|s| (s, RunStatus::Missed, MISSED_REASON));
    let overflow = plan
        .overflow
        .map(|s| (s, RunStatus::Missed, OVERFLOW_REASON));
    let skipped = plan
        .skipped
        .iter()
        .map(|s| (*s, RunStatus::Skipped, SKIPPED_REASON));
    missed.into_iter().chain(overflow).chain(skipped)
}

/// The `skipped` rows of `plan` whose reason is the job's own, each with its reason: those
/// skipped on request (`skip` is the job's request), then those whose exclusive group was
/// held, in due order within each.
pub fn reasoned_skips(plan: &ClaimPlan, skip: Option<&SkipRequest>) -> Vec<(Span, String)> {
    let mut rows = Vec::new();
    if !plan.skipped_on_request.is_empty() {
        let reason = requested_skip_reason(skip.and_then(|s| s.reason.as_deref()));
        rows.extend(plan.skipped_on_request.iter().map(|s| (*s, reason.clone())));
    }
    if let Some(busy) = &plan.exclusive_skipped {
        rows.extend(busy.spans.iter().map(|s| (*s, busy.reason.clone())));
    }
    rows
}

/// Why occurrences were recorded `skipped` on request, with the request's reason if it gave one.
pub fn requested_skip_reason(reason: Option<&str>) -> String {
    match reason {
        Some(reason) => format!("skipped on request: {reason}"),
        None => "skipped on request".to_string(),
    }
}

/// The `error` text of a `missed` or `skipped` row standing for `count` occurrences.
pub fn closed_reason(count: i64, reason: &str) -> String {
    if count > 1 {
        format!("{count} occurrences {reason}")
    } else {
        reason.to_string()
    }
}

/// Where a job's run history continues (newest first): before this attempt at this occurrence.
/// Attempts at one occurrence share its instant, so the instant alone cannot be a cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunCursor {
    /// The occurrence of the last run of the previous page.
    pub scheduled_at: DateTime<Utc>,
    /// Its attempt.
    pub attempt: u32,
}

/// The reason on the `missed` row of occurrences that a catch-up decision did not run.
pub fn declined_reason(decision: &str, key_name: &str, reason: Option<&str>) -> String {
    match reason {
        Some(reason) => format!(
            "missed beyond the grace; not caught up (decision `{decision}` by {key_name}: {reason})"
        ),
        None => {
            format!("missed beyond the grace; not caught up (decision `{decision}` by {key_name})")
        }
    }
}
