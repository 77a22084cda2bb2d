//! Bulk seeding: many `noop` jobs in one transaction, for the benchmark (`bench/`) and load
//! tests that need 10,000 to 1,000,000 jobs in seconds. Never called by the service itself.
//! The rows are exactly what the API would write for such jobs, minus the audit rows.

use super::{SeedHistory, SeedTrigger, Store, StoreError};
use chrono::{DateTime, Utc};

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
        dispatch!(self, s => s.seed_noop_jobs(prefix, n, trigger, now).await)
    }
}

impl Store {
    /// Inserts the run history `history` describes, in one transaction; returns the rows
    /// inserted. An occurrence that already has a row fails the whole call.
    pub async fn seed_history(&self, history: SeedHistory<'_>) -> Result<u64, StoreError> {
        if history.step_ms < 1 {
            return Err(StoreError::corrupt(
                "job_runs",
                history.prefix,
                "seed_history: step_ms must be at least 1",
            ));
        }
        dispatch!(self, s => s.seed_history(history).await)
    }
}
