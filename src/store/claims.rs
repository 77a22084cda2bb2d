//! The scheduler's write path in the store contract: claiming due occurrences, manual runs, and
//! recording outcomes. What to do with each due job (run, coalesce, miss, skip) is decided by
//! the caller's pure plan (`scheduler/plan.rs`); the store only makes the decision durable,
//! exactly once per occurrence.

use super::{Busy, ClaimReport, ClaimedRun, RunRecord, Store, StoreError};
use crate::model::{ClaimPlan, Job};
use chrono::{DateTime, Utc};

impl Store {
    /// Claims up to `limit` due jobs (`next_run_at <= now`, earliest first) for process `owner`:
    /// [`Store::claim_due_until`] with the horizon at `now`.
    pub async fn claim_due(
        &self,
        now: DateTime<Utc>,
        owner: &str,
        limit: u32,
        plan: impl FnMut(&Job, Busy<'_>) -> ClaimPlan,
    ) -> Result<ClaimReport, StoreError> {
        self.claim_due_until(now, now, owner, limit, plan).await
    }

    /// Claims up to `limit` jobs due by `horizon` (`next_run_at <= horizon`, earliest first) for
    /// process `owner`. `horizon` is at or a few milliseconds after `now`, which stamps the
    /// rows: claiming slightly ahead lets the caller start each run exactly at its instant
    /// instead of after a claim transaction, and lets one transaction serve the jobs due over
    /// those milliseconds.
    ///
    /// The contract every backend keeps:
    /// - For each due job, `plan(job, busy)` decides (the misfire policy is the caller's,
    ///   not the store's); `busy.elsewhere` counts the job's runs `running` in OTHER processes
    ///   (the caller knows its own) or waiting to be retried, and `busy.holder` names what holds
    ///   the job's exclusive group: a stored run (running or waiting to retry, in any process)
    ///   or a run an earlier job of the same batch starts. The store writes at most one run
    ///   per group: a plan that starts one takes the group for the rest of the transaction.
    ///   On PostgreSQL the claim holds each group's advisory lock until it commits.
    /// - A due job with the `wait` exclusive policy whose group is held is not due: it is
    ///   neither planned nor counted (nor is it the earliest next run) until the group frees. The store writes what it decided: one `missed` row, one
    ///   `skipped` row per skipped span, one `running` row (kind `scheduled`, owned by `owner`)
    ///   per run, and the job's new `next_run_at`.
    /// - All of a batch is one transaction: a crash at any instant leaves either the old
    ///   state or the new one.
    /// - An occurrence (job id, scheduled instant) gets at most one row, ever, whatever the
    ///   number of processes or handles claiming at once: one already having a row is not
    ///   inserted again and is not in the report.
    /// - A due job whose row cannot be read (a bad hand edit) is paused with an error logged,
    ///   rather than blocking the loop; its definition is left for the operator to fix.
    /// - An idle call (nothing due) takes no write lock.
    /// - The report's runs come in due order; `jobs` equal to `limit` means more may be due.
    pub async fn claim_due_until(
        &self,
        now: DateTime<Utc>,
        horizon: DateTime<Utc>,
        owner: &str,
        limit: u32,
        plan: impl FnMut(&Job, Busy<'_>) -> ClaimPlan,
    ) -> Result<ClaimReport, StoreError> {
        dispatch!(self, s => s.claim_due_until(now, horizon, owner, limit, plan).await)
    }

    /// Inserts a manual run (kind `manual`, `running`, owned by `owner`) of `job_id` to execute
    /// at once, audited `run` as `key_name`'s in the same transaction. Returns `None` when the
    /// job does not exist. The occurrence is `now`, moved on by a millisecond while that
    /// instant already has a row or is one the trigger itself fires at (it belongs to that
    /// occurrence).
    pub async fn insert_manual_run(
        &self,
        job_id: &str,
        now: DateTime<Utc>,
        owner: &str,
        key_name: &str,
    ) -> Result<Option<ClaimedRun>, StoreError> {
        dispatch!(self, s => s.insert_manual_run(job_id, now, owner, key_name).await)
    }

    /// Writes the outcomes of finished runs, in one round trip. Only rows still `running` or
    /// `interrupted` are changed: a row already marked `interrupted` (its owner was wrongly
    /// thought dead) still takes the real outcome; a finished row is never overwritten.
    pub async fn record_outcomes(&self, records: &[RunRecord]) -> Result<(), StoreError> {
        dispatch!(self, s => s.record_outcomes(records).await)
    }
}
