//! The revisions part of the store contract (DESIGN.md, *Definitions you can trust*): every
//! definition a job had, kept by the change that set it (`insert_job`, `upsert_job`,
//! `upsert_jobs` and `restore_revision` write them in their own transactions), read back,
//! restored, and pruned with the audit trail.

use super::{PruneStep, Store, StoreError};
use crate::model::{Job, NewJob, Revision};
use chrono::{DateTime, Utc};

impl Store {
    /// Up to `limit` revisions of `job_id`, newest first, below `before` when given.
    pub async fn list_revisions(
        &self,
        job_id: &str,
        before: Option<u32>,
        limit: u32,
    ) -> Result<Vec<Revision>, StoreError> {
        dispatch!(self, s => s.list_revisions(job_id, before, limit).await)
    }

    /// Revision `revision` of `job_id`, if it is kept.
    pub async fn get_revision(
        &self,
        job_id: &str,
        revision: u32,
    ) -> Result<Option<Revision>, StoreError> {
        dispatch!(self, s => s.get_revision(job_id, revision).await)
    }

    /// Replaces the job with `job` (the definition of revision `from`, checked as a PUT is)
    /// in one transaction with its audit row (`replace`, detail `restored_from`) and its new
    /// revision (`restore`). `None` when the job does not exist.
    pub async fn restore_revision(
        &self,
        job: &NewJob,
        next_run_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        key_name: &str,
        from: u32,
    ) -> Result<Option<Job>, StoreError> {
        dispatch!(self, s => s.restore_revision(job, next_run_at, now, key_name, from).await)
    }

    /// Deletes up to [`super::PRUNE_BATCH`] revisions changed before `before`, oldest first,
    /// never a job's newest (its current definition); `next` is set while more may be left.
    /// With `dry_run` it counts them all instead.
    pub async fn prune_revisions(
        &self,
        before: DateTime<Utc>,
        dry_run: bool,
    ) -> Result<PruneStep<()>, StoreError> {
        dispatch!(self, s => s.prune_revisions(before, dry_run).await)
    }
}
