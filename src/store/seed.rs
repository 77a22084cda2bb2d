//! Bulk seeding: many `noop` jobs in one transaction, for the benchmark (`bench/`) and load
//! tests that need 10,000 to 1,000,000 jobs in seconds. Never called by the service itself.
//! The rows are exactly what the API would write for such jobs, minus the audit rows.

use super::{SeedTrigger, Store, StoreError};
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
