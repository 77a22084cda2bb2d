//! The jobs part of the store contract: create, replace, read, page, pause/resume, delete.
//! Shared types of the job listing live here; each backend's SQL lives in its own module.

use chrono::{DateTime, Utc};

use super::{Store, StoreError};
use crate::model::{Job, NewJob, Run};

/// Filters for [`Store::list_jobs`]; `None` means any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    /// Only paused (`true`) or only active (`false`) jobs.
    pub paused: Option<bool>,
    /// Only jobs with this trigger type (`date`, `interval`, `cron`).
    pub trigger_type: Option<String>,
}

/// A position in next-run order: jobs sort by `next_run_at` with NULLs last, then by id.
/// The cursor of `GET /jobs` encodes the last key of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSortKey {
    /// `next_run_at` text, or `~` (sorts after every timestamp) when NULL.
    pub next_run: String,
    /// The job id.
    pub id: String,
}

impl JobSortKey {
    /// The sort key of a job.
    pub fn of(job: &Job) -> JobSortKey {
        JobSortKey {
            next_run: job
                .next_run_at
                .map(crate::timestamp::format)
                .unwrap_or_else(|| "~".to_string()),
            id: job.id.clone(),
        }
    }
}

/// One page of jobs and the key to continue after, if there may be more.
#[derive(Debug, Clone)]
pub struct JobPage {
    /// The jobs, in next-run order.
    pub jobs: Vec<Job>,
    /// Set when the page was full.
    pub next: Option<JobSortKey>,
}

impl Store {
    /// Inserts a new job with its `next_run_at`, audited `create` as `key_name`'s in the same
    /// transaction. A job with the same id gives [`StoreError::JobExists`] and changes nothing.
    pub async fn insert_job(
        &self,
        job: &NewJob,
        next_run_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        key_name: &str,
    ) -> Result<Job, StoreError> {
        match self {
            Store::Sqlite(s) => s.insert_job(job, next_run_at, now, key_name).await,
        }
    }

    /// Creates or replaces the job with `job.id`, audited `create` or `replace` as `key_name`'s
    /// in the same transaction. A replaced job keeps its `created_at` and its run history.
    /// Returns the job and whether it was created.
    pub async fn upsert_job(
        &self,
        job: &NewJob,
        next_run_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        key_name: &str,
    ) -> Result<(Job, bool), StoreError> {
        match self {
            Store::Sqlite(s) => s.upsert_job(job, next_run_at, now, key_name).await,
        }
    }

    /// The job with this id, if any.
    pub async fn get_job(&self, id: &str) -> Result<Option<Job>, StoreError> {
        match self {
            Store::Sqlite(s) => s.get_job(id).await,
        }
    }

    /// The job with this id and its newest run (by `scheduled_at`), read together: the hot
    /// path of `GET /jobs/{job_id}`, so a backend answers it in one round trip.
    pub async fn get_job_with_last_run(
        &self,
        id: &str,
    ) -> Result<Option<(Job, Option<Run>)>, StoreError> {
        match self {
            Store::Sqlite(s) => s.get_job_with_last_run(id).await,
        }
    }

    /// Deletes the job and its run history, auditing it as `key_name`'s (the audit row outlives
    /// the job). Returns whether it existed; nothing is audited when it did not.
    pub async fn delete_job(
        &self,
        id: &str,
        now: DateTime<Utc>,
        key_name: &str,
    ) -> Result<bool, StoreError> {
        match self {
            Store::Sqlite(s) => s.delete_job(id, now, key_name).await,
        }
    }

    /// Up to `limit` jobs after `after` in next-run order (NULLs last, then id).
    ///
    /// Keyset paging: a page starts strictly after the last key of the previous one, so jobs
    /// added or deleted between pages neither shift nor repeat the others.
    pub async fn list_jobs(
        &self,
        filter: &JobFilter,
        after: Option<&JobSortKey>,
        limit: u32,
    ) -> Result<JobPage, StoreError> {
        match self {
            Store::Sqlite(s) => s.list_jobs(filter, after, limit).await,
        }
    }

    /// Jobs stored, paused jobs, and runs now `running` (in every process), for metrics.
    pub async fn gauges(&self) -> Result<(i64, i64, i64), StoreError> {
        match self {
            Store::Sqlite(s) => s.gauges().await,
        }
    }

    /// How many jobs are stored.
    pub async fn count_jobs(&self) -> Result<i64, StoreError> {
        match self {
            Store::Sqlite(s) => s.count_jobs().await,
        }
    }

    /// Pauses (`next_run_at` should then be `None`) or resumes (with the next occurrence) a job,
    /// audited `pause` or `resume` as `key_name`'s. Returns the updated job, or `None` when no
    /// job has this id (nothing audited).
    pub async fn set_paused(
        &self,
        id: &str,
        paused: bool,
        next_run_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        key_name: &str,
    ) -> Result<Option<Job>, StoreError> {
        match self {
            Store::Sqlite(s) => s.set_paused(id, paused, next_run_at, now, key_name).await,
        }
    }

    /// The earliest `next_run_at` of any job, which is when the scheduler must wake next.
    pub async fn earliest_next_run(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        match self {
            Store::Sqlite(s) => s.earliest_next_run().await,
        }
    }
}
