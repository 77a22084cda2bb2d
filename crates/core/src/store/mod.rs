//! The shared types of the store contract: what every backend takes and returns, and
//! [`StoreError`]. The contract itself (the methods and the rules each keeps) is written on the
//! service's `Store` (`src/store/mod.rs`), which dispatches to the backends; each backend is a
//! crate or module holding all of its engine's SQL and returning these types.

pub mod alerts;
mod audit;
pub mod claims;
pub mod classify;
pub mod columns;
mod copy;
mod error;
mod instances;
mod jobs;
pub mod pauses;
mod retention;
mod seed;

pub use alerts::{ALERT_LEASE, AttemptResult, Watched};
pub use audit::AuditEntry;
pub use claims::{Busy, ClaimReport, ClaimedRun, RunCursor, RunRecord};
pub use copy::{COPY_PAGE, TableCounts};
pub use error::{StorageCondition, StoreError};
pub use instances::Instance;
pub use jobs::{Gauges, JobCursor, JobFilter, JobOrder, JobPage};
pub use retention::{AgeCutoffs, PRUNE_BATCH, PRUNE_JOBS_PER_STEP, PruneStep};
pub use seed::{SeedHistory, SeedTrigger};

/// Optional limits for opening a store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenOptions {
    /// Largest size of a SQLite file in pages (of 4 KiB): a cap on disk use. Writes past it
    /// fail with [`StoreError::Full`], and succeed again once deletions free pages. PostgreSQL
    /// ignores it (its disk is the server's to manage).
    pub max_pages: Option<u32>,
}

/// What a migration run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// Versions applied by this call, oldest first.
    pub applied: Vec<i64>,
    /// The schema version now in the database.
    pub current: i64,
}
