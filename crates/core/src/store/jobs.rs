//! Shared types of the store contract (jobs); the methods that use them are on the service's
//! `Store`, and each backend implements them in its own SQL.

use crate::model::JobEntry;
use crate::schedule::TriggerKind;
use chrono::{DateTime, Utc};

/// What `Store::gauges` counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gauges {
    /// Jobs stored.
    pub jobs: i64,
    /// Paused jobs.
    pub paused: i64,
    /// Runs `running`, in every process.
    pub running: i64,
    /// Jobs whose next occurrence is due and not yet claimed.
    pub due: i64,
    /// Attempts that ended without success and wait for their retry.
    pub retries_pending: i64,
}

/// Filters for `Store::list_jobs`; `None` means any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    /// Only paused (`true`) or only active (`false`) jobs.
    pub paused: Option<bool>,
    /// Only jobs with this kind of trigger.
    pub trigger_type: Option<TriggerKind>,
}

/// The order of a job listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOrder {
    /// By next run (paused and finished jobs last), then id. The first page is the live view;
    /// later pages continue in the order as it was when the listing began, so jobs that fire
    /// meanwhile are neither served again nor skipped (see `Store::list_jobs`).
    NextRun,
    /// By id: a complete, stable enumeration, unaffected by firing.
    Id,
}

/// Where a listing continues: the last job a page served, in the listing's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobCursor {
    /// After a job in next-run order as of the listing's start.
    NextRun {
        /// The largest `job_runs.id` when the listing's first page was read: runs above it
        /// were recorded since the listing began.
        watermark: i64,
        /// The served job's next run as of the listing's start (`None`: paused or finished).
        next_run_at: Option<DateTime<Utc>>,
        /// The served job's id.
        id: String,
    },
    /// After a job in id order.
    Id {
        /// The served job's id.
        id: String,
    },
}

impl JobCursor {
    /// The order this cursor continues.
    pub fn order(&self) -> JobOrder {
        match self {
            JobCursor::NextRun { .. } => JobOrder::NextRun,
            JobCursor::Id { .. } => JobOrder::Id,
        }
    }
}

/// One page of jobs and where to continue, if there are more.
#[derive(Debug, Clone)]
pub struct JobPage {
    /// The jobs, in the listing's order; a row that cannot be read is listed as broken.
    pub jobs: Vec<JobEntry>,
    /// Set when more jobs follow.
    pub next: Option<JobCursor>,
}
