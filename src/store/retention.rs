//! The history-pruning part of the store contract. Each method does one small step (at most
//! [`super::PRUNE_BATCH`] rows per transaction) and returns where to resume, so the caller paces the
//! work and firing never waits behind a long delete. Which rows may go is decided here, the
//! same for every backend: never a `running` row, never the newest run of a job.

use super::{AgeCutoffs, PruneStep, Store, StoreError};
use chrono::{DateTime, Utc};

use crate::model::HistoryLimits;

impl Store {
    /// Deletes the runs, among the next [`super::PRUNE_BATCH`] rows in insertion order after row
    /// `after`, whose last occurrence is older than their status's cut-off, except `running`
    /// rows, each job's newest run and the runs of jobs with limits of their own. Rows are inserted in about time order, so the walk
    /// stops (`next: None`) at the first window whose oldest row is newer than both cut-offs.
    /// With `dry_run` nothing is deleted and `removed` counts what would be.
    pub async fn prune_runs_by_age(
        &self,
        after: i64,
        cutoffs: AgeCutoffs,
        dry_run: bool,
    ) -> Result<PruneStep<i64>, StoreError> {
        dispatch!(self, s => s.prune_runs_by_age(after, cutoffs, dry_run).await)
    }

    /// For the next [`super::PRUNE_JOBS_PER_STEP`] jobs by id after `after`, deletes the runs beyond
    /// each job's `keep_runs` newest (never a `running` one; never of a job with limits of its
    /// own), at most [`super::PRUNE_BATCH`] per
    /// transaction. With `dry_run` it counts them instead, leaving out rows the age rule of
    /// `cutoffs` already counts, so a dry run's total equals what a real run deletes.
    pub async fn prune_runs_over_count(
        &self,
        after: Option<&str>,
        keep_runs: u32,
        cutoffs: AgeCutoffs,
        dry_run: bool,
    ) -> Result<PruneStep<String>, StoreError> {
        dispatch!(self, s => s.prune_runs_over_count(after, keep_runs, cutoffs, dry_run).await)
    }

    /// The next [`super::PRUNE_JOBS_PER_STEP`] jobs by id after `after` that have history
    /// limits of their own, with those limits; `None` for a job whose `history` column cannot be
    /// read (a bad hand edit), whose runs are then left alone until a PUT repairs it. The passes
    /// above leave every one of these jobs out: [`Store::prune_job_runs`] prunes each by its own
    /// limits.
    pub async fn jobs_with_own_history(
        &self,
        after: Option<&str>,
    ) -> Result<Vec<(String, Option<HistoryLimits>)>, StoreError> {
        dispatch!(self, s => s.jobs_with_own_history(after).await)
    }

    /// Deletes `job`'s runs older than their status's cut-off or beyond its `keep_runs` newest,
    /// never a `running` row nor its newest run, at most [`super::PRUNE_BATCH`] per transaction;
    /// returns how many went. With `dry_run` it counts them instead.
    pub async fn prune_job_runs(
        &self,
        job: &str,
        cutoffs: AgeCutoffs,
        keep_runs: u32,
        dry_run: bool,
    ) -> Result<u64, StoreError> {
        dispatch!(self, s => s.prune_job_runs(job, cutoffs, keep_runs, dry_run).await)
    }

    /// Deletes up to [`super::PRUNE_BATCH`] audit rows older than `before`, oldest first; `next` is
    /// `Some` while more may remain. With `dry_run` it counts them all in one step instead.
    pub async fn prune_audit(
        &self,
        before: DateTime<Utc>,
        dry_run: bool,
    ) -> Result<PruneStep<()>, StoreError> {
        dispatch!(self, s => s.prune_audit(before, dry_run).await)
    }
}
