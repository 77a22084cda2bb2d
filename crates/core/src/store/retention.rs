//! Shared types of the store contract (retention); the methods that use them are on the service's
//! `Store`, and each backend implements them in its own SQL.

use chrono::{DateTime, Utc};

/// Most rows one pruning transaction deletes (and the width of the window one age step scans).
pub const PRUNE_BATCH: u32 = 1_000;

/// Jobs one keep-runs step looks at.
pub const PRUNE_JOBS_PER_STEP: u32 = 200;

/// What one pruning step did, and where the next one starts (`None`: nothing left to look at).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneStep<C> {
    /// Rows deleted, or with `dry_run` the rows that would be.
    pub removed: u64,
    /// The cursor of the next step.
    pub next: Option<C>,
}

/// The cut-off instants of the age rules: rows whose (last) occurrence is before them go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgeCutoffs {
    /// For `succeeded`, `skipped` and `missed` runs.
    pub ok_before: DateTime<Utc>,
    /// For `failed`, `timed_out` and `interrupted` runs.
    pub failed_before: DateTime<Utc>,
}
