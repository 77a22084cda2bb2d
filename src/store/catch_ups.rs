//! The catch-up part of the store contract (DESIGN.md, *Job health, alerts, pause, skip,
//! catch-up*): what awaits approval, and a decision on it. The queue itself is filled and
//! drained by the claim (`Store::claim_due_until`); which occurrences a decision runs is
//! decided above the seam (`model::Split`).

use std::collections::HashMap;

use super::{Store, StoreError};
use crate::model::{Awaiting, CatchUpDecision, CatchUpOutcome};
use chrono::{DateTime, Utc};

impl Store {
    /// What awaits approval, per job of `ids` that has anything waiting.
    pub async fn awaiting_approval(
        &self,
        ids: &[&str],
    ) -> Result<HashMap<String, Awaiting>, StoreError> {
        dispatch!(self, s => s.awaiting_approval(ids).await)
    }

    /// Applies `decision` to every stretch of `job_id` awaiting approval, in one transaction
    /// with its audit row (`key_name`'s, with `reason`): the occurrences it does not run are
    /// recorded `missed`, the others are approved and start in order, at most `max_instances`
    /// at a time. `None` when the job does not exist; an outcome of 0 occurrences when nothing
    /// was awaiting approval (nothing is written then).
    pub async fn decide_catch_up(
        &self,
        job_id: &str,
        decision: CatchUpDecision,
        now: DateTime<Utc>,
        key_name: &str,
        reason: Option<&str>,
    ) -> Result<Option<CatchUpOutcome>, StoreError> {
        dispatch!(self, s => s.decide_catch_up(job_id, decision, now, key_name, reason).await)
    }
}
