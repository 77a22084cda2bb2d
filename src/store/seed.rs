//! Bulk seeding: many `noop` jobs in one transaction, for the benchmark (`bench/`) and load
//! tests that need 10,000 to 1,000,000 jobs in seconds. Never called by the service itself.
//! The rows are exactly what the API would write for such jobs, minus the audit rows.

use chrono::{DateTime, Utc};

use super::{Store, StoreError};

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

impl Store {
    /// Inserts `n` noop jobs `{prefix}0000000`, `{prefix}0000001`… firing as `trigger` says,
    /// created at `now`, in one transaction with no audit rows. An id that exists fails the
    /// whole call, and nothing is inserted.
    pub async fn seed_noop_jobs(
        &self,
        prefix: &str,
        n: u32,
        trigger: SeedTrigger,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.seed_noop_jobs(prefix, n, trigger, now).await,
        }
    }
}
