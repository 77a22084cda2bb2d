//! The jobs part of the store contract: create, replace, read, page, pause/resume, delete.
//! Shared types of the job listing live here; each backend's SQL lives in its own module.

use super::{Gauges, JobCursor, JobFilter, JobOrder, JobPage, Store, StoreError};
use crate::model::{Job, JobEntry, NewJob, Run};
use chrono::{DateTime, Utc};

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
        dispatch!(self, s => s.insert_job(job, next_run_at, now, key_name).await)
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
        dispatch!(self, s => s.upsert_job(job, next_run_at, now, key_name).await)
    }

    /// Creates or replaces each job of `jobs` (with its `next_run_at`), all in one transaction:
    /// every one of them, or on any error none. Each is audited `create` or `replace` as
    /// `key_name`'s, as [`Store::upsert_job`] does. Returns, in order, whether each was created.
    pub async fn upsert_jobs(
        &self,
        jobs: &[(NewJob, Option<DateTime<Utc>>)],
        now: DateTime<Utc>,
        key_name: &str,
    ) -> Result<Vec<bool>, StoreError> {
        dispatch!(self, s => s.upsert_jobs(jobs, now, key_name).await)
    }

    /// The job with this id, if any.
    pub async fn get_job(&self, id: &str) -> Result<Option<Job>, StoreError> {
        dispatch!(self, s => s.get_job(id).await)
    }

    /// The job with this id and its newest run (by `scheduled_at`), read together: the hot
    /// path of `GET /jobs/{job_id}`, so a backend answers it in one round trip. A row that
    /// cannot be read comes back as [`JobEntry::Broken`], not as an error.
    pub async fn get_job_with_last_run(
        &self,
        id: &str,
    ) -> Result<Option<(JobEntry, Option<Run>, Option<DateTime<Utc>>)>, StoreError> {
        dispatch!(self, s => s.get_job_with_last_run(id).await)
    }

    /// Deletes the job and its run history, auditing it as `key_name`'s (the audit row outlives
    /// the job). Returns whether it existed; nothing is audited when it did not.
    pub async fn delete_job(
        &self,
        id: &str,
        now: DateTime<Utc>,
        key_name: &str,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.delete_job(id, now, key_name).await)
    }

    /// Up to `limit` jobs in `order`, after `after` (from the start when `None`; the caller
    /// checks that a cursor belongs to `order`). A row that cannot be read (a bad hand edit)
    /// is listed as [`JobEntry::Broken`] in its place, so one broken job hides no other.
    ///
    /// Keyset paging: a page starts strictly after the last key of the previous one, so jobs
    /// added or deleted between pages neither shift nor repeat the others. In id order that is
    /// all it takes. In next-run order, firing moves a job's key past the cursor; so the first
    /// page also reads a watermark, the largest `job_runs.id` in the same snapshot, and every
    /// page orders jobs by their next run AS OF THAT MOMENT: a job with a scheduled run above
    /// the watermark has been claimed since (every claim writes a row: run, missed or skipped),
    /// and its next run back then is the first occurrence of those rows (a coalesced or missed
    /// row's `scheduled_at` is its first occurrence); any other job has not moved. Manual runs
    /// move nothing and are ignored. So each job keeps one key for the whole listing and is
    /// served exactly once. What stays inexact is written in the README (*Listing jobs*): jobs
    /// changed through the API meanwhile, and rowid reuse after the newest runs are deleted.
    pub async fn list_jobs(
        &self,
        filter: &JobFilter,
        order: JobOrder,
        after: Option<&JobCursor>,
        limit: u32,
    ) -> Result<JobPage, StoreError> {
        dispatch!(self, s => s.list_jobs(filter, order, after, limit).await)
    }

    /// The gauges of `/metrics` in one round trip: jobs, paused jobs, runs running in every
    /// process, and jobs due at or before `now` that no pass has claimed yet (the backlog).
    pub async fn gauges(&self, now: DateTime<Utc>) -> Result<Gauges, StoreError> {
        dispatch!(self, s => s.gauges(now).await)
    }

    /// How many jobs are stored.
    pub async fn count_jobs(&self) -> Result<i64, StoreError> {
        dispatch!(self, s => s.count_jobs().await)
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
        dispatch!(self, s => s.set_paused(id, paused, next_run_at, now, key_name).await)
    }

    /// The earliest `next_run_at` of any job, which is when the scheduler must wake next.
    pub async fn earliest_next_run(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        dispatch!(self, s => s.earliest_next_run().await)
    }
}
