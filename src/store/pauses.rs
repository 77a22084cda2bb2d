//! The pause and skip part of the store contract (DESIGN.md, *Job health, alerts, pause, skip,
//! catch-up*): a pause that says who, why and until when; the end of a timed pause, once
//! whatever the number of processes or nodes; and the next occurrences skipped on request.
//! When a pause ends and what the next run is are the scheduler's decisions, not the store's.

use super::{Store, StoreError};
use crate::model::{Job, PauseNote};
use chrono::{DateTime, Utc};

impl Store {
    /// Pauses a job (no next run) with `note`, audited `pause` as `note.by`'s with the reason and
    /// end as detail. Pausing a paused job replaces its note. Returns the updated job, or `None`
    /// when no job has this id (nothing audited).
    pub async fn pause_job(
        &self,
        id: &str,
        note: &PauseNote,
        now: DateTime<Utc>,
    ) -> Result<Option<Job>, StoreError> {
        dispatch!(self, s => s.pause_job(id, note, now).await)
    }

    /// Jobs on a timed pause whose end is at or before `now`, earliest end first, at most
    /// `limit`.
    pub async fn ended_pauses(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Job>, StoreError> {
        dispatch!(self, s => s.ended_pauses(now, limit).await)
    }

    /// Ends the timed pause of `id` that ends at `until`: the job is active again with
    /// `next_run_at`, its note cleared, audited `resume` by
    /// [`schedlite_core::store::pauses::PAUSE_ENDED_BY`] with `{"pause_ended": until}`. Only
    /// that pause ends: when the job was resumed, re-paused or deleted meanwhile, or another
    /// process or node ended it first, nothing changes and this returns `false`. So a pause
    /// ends once, and is audited once, however many are looking.
    pub async fn end_pause(
        &self,
        id: &str,
        until: DateTime<Utc>,
        next_run_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.end_pause(id, until, next_run_at, now).await)
    }

    /// Skips the next `count` occurrences of `id` (each recorded `skipped` with `reason` by the
    /// claims), replacing any earlier request; `count` 0 cancels the rest. Audited `skip` as
    /// `key_name`'s with `{"count", "reason"}`. Returns the updated job, or `None` when no job
    /// has this id.
    pub async fn set_skip(
        &self,
        id: &str,
        count: u32,
        reason: Option<&str>,
        now: DateTime<Utc>,
        key_name: &str,
    ) -> Result<Option<Job>, StoreError> {
        dispatch!(self, s => s.set_skip(id, count, reason, now, key_name).await)
    }
}
