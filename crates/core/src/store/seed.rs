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
