//! The alerts part of the store contract (DESIGN.md, *Job health, alerts, pause, skip,
//! catch-up*): the jobs whose health is watched, a health change recorded once however many
//! processes or nodes see it, and the delivery of each alert by one process at a time. What a
//! job's health is, and when a failed delivery is tried again, are decided above the seam.

use super::{AttemptResult, Store, StoreError, Watched};
use crate::model::{Alert, Health, NewAlert};
use chrono::{DateTime, Utc};

impl Store {
    /// Up to `limit` jobs, in id order after `after`, that expect something or were alerted
    /// before, each with the health last alerted for it. A row that cannot be read comes back
    /// as [`crate::model::JobEntry::Broken`].
    pub async fn alert_watch(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Watched>, StoreError> {
        dispatch!(self, s => s.alert_watch(after, limit).await)
    }

    /// Records `alert` if the health last alerted for its job is still `expected` (`None`:
    /// none yet) and the job exists: the job's alerted health becomes `alert.to` and the alert
    /// is stored (`pending` when it has a webhook, due at once; `none` otherwise), together.
    /// Returns its id, or `None` when another process or node recorded a change first, or the
    /// job is gone: so each change is recorded once.
    pub async fn record_alert(
        &self,
        alert: &NewAlert,
        expected: Option<Health>,
    ) -> Result<Option<i64>, StoreError> {
        dispatch!(self, s => s.record_alert(alert, expected).await)
    }

    /// Takes up to `limit` pending alerts due at `now` that no live process holds, oldest due
    /// first, and holds them for [`super::ALERT_LEASE`]: no other process takes them until it
    /// ends, so an alert is sent by one process at a time.
    pub async fn claim_alerts(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Alert>, StoreError> {
        dispatch!(self, s => s.claim_alerts(now, limit).await)
    }

    /// Records how a delivery attempt of a pending alert ended and lets it go: `sent`, pending
    /// again at the retry instant, or `failed` for good. Counts the attempt.
    pub async fn settle_alert(&self, id: i64, result: &AttemptResult) -> Result<(), StoreError> {
        dispatch!(self, s => s.settle_alert(id, result).await)
    }

    /// Alerts newest first, below `before_id` when given, for one job when `job_id` is set.
    pub async fn list_alerts(
        &self,
        job_id: Option<&str>,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Alert>, StoreError> {
        dispatch!(self, s => s.list_alerts(job_id, before_id, limit).await)
    }
}
