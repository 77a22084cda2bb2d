//! Shared types of the store contract (seed); the methods that use them are on the service's
//! `Store`, and each backend implements them in its own SQL.

use chrono::{DateTime, Utc};

/// How the seeded jobs fire. Job `i` (0-based) has the id `{prefix}{i:07}`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SeedTrigger {
    /// A `date` trigger: every job once, at `at` (also its `next_run_at`).
    Date {
        /// The instant.
        at: DateTime<Utc>,
    },
    /// An `interval` trigger of `every_seconds`, UTC; job `i` starts (and is next due) at
    /// `first + i * step_ms`, so the jobs spread evenly over the interval.
    Interval {
        /// The interval, in seconds.
        every_seconds: i64,
        /// The start of job 0.
        first: DateTime<Utc>,
        /// Milliseconds between the starts of consecutive jobs.
        step_ms: f64,
    },
}

/// A history to seed beside seeded jobs (`Store::seed_history`), for the benchmark's realistic
/// files: `per_job` runs of each of the jobs `{prefix}0000000` … `{prefix}{jobs − 1:07}`, run
/// `k` (0-based) of each job scheduled at `first + k * step_ms` and finished (or, for
/// `running`, started) at that instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeedHistory<'a> {
    /// The jobs' id prefix, as given to `seed_noop_jobs`.
    pub prefix: &'a str,
    /// How many of the seeded jobs get a history.
    pub jobs: u32,
    /// Runs per job.
    pub per_job: u32,
    /// The occurrence of each job's first run.
    pub first: DateTime<Utc>,
    /// Milliseconds between a job's consecutive runs (at least 1, so occurrences stay unique).
    pub step_ms: i64,
    /// `succeeded` (a finished history) or `running` (runs left behind, e.g. by a dead owner).
    pub status: crate::model::RunStatus,
    /// The serving process the runs belong to (`None`: no owner).
    pub owner: Option<&'a str>,
}
