//! The run-history part of the store contract: reads. Writing runs (claims, outcomes,
//! recovery) is in `claims.rs` and `instances.rs`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{RunCursor, Store, StoreError};
use crate::model::Run;

impl Store {
    /// Up to `limit` runs of a job, newest occurrence first and, within one occurrence, newest
    /// attempt first; strictly after `before` in that order when given: keyset paging on the
    /// unique (job_id, scheduled_at, attempt) key.
    pub async fn list_runs(
        &self,
        job_id: &str,
        before: Option<RunCursor>,
        limit: u32,
    ) -> Result<Vec<Run>, StoreError> {
        dispatch!(self, s => s.list_runs(job_id, before, limit).await)
    }

    /// One run by row id.
    pub async fn get_run(&self, run_id: i64) -> Result<Option<Run>, StoreError> {
        dispatch!(self, s => s.get_run(run_id).await)
    }

    /// The newest run (by `scheduled_at`, then `attempt`) of each of `job_ids` that has one,
    /// keyed by job id, in one round trip (a page of jobs would otherwise cost a query per job).
    pub async fn last_runs(&self, job_ids: &[&str]) -> Result<HashMap<String, Run>, StoreError> {
        dispatch!(self, s => s.last_runs(job_ids).await)
    }

    /// When the earliest pending retry of each of `job_ids` that has one starts, keyed by job
    /// id, in one round trip (a job's `next_retry_at`).
    pub async fn next_retries(
        &self,
        job_ids: &[&str],
    ) -> Result<HashMap<String, DateTime<Utc>>, StoreError> {
        dispatch!(self, s => s.next_retries(job_ids).await)
    }

    /// The newest run of a job, if it has any.
    pub async fn last_run(&self, job_id: &str) -> Result<Option<Run>, StoreError> {
        Ok(self.list_runs(job_id, None, 1).await?.into_iter().next())
    }
}
