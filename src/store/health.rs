//! The health part of the store contract (DESIGN.md, *Job health, alerts, pause, skip,
//! catch-up*): how many jobs have each health, for the metrics. Health of one job is computed
//! above the seam (`model::health`) from its row and newest run; this count applies the same
//! rules in each engine's SQL, so a scrape reads one number per health instead of every row.

use super::{Store, StoreError};
use crate::model::Health;
use chrono::{DateTime, Utc};

impl Store {
    /// How many jobs have each health at `now`, by the rules and precedence of `Health::of`
    /// (healths no job has are absent). `broken` cannot be told in SQL (it takes parsing the
    /// definition): a broken row is counted under the health its columns give, which is
    /// `paused` once the loop has met it due.
    pub async fn jobs_by_health(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<(Health, i64)>, StoreError> {
        dispatch!(self, s => s.jobs_by_health(now).await)
    }
}
