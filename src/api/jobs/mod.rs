//! `/jobs` (DESIGN.md, *API*): the job resource, split by what each part does: [`crud`]
//! (list, create, replace, read, delete), [`bulk`] (up to 1,000 at once), [`health`] (the health field and filter), [`manage`] (pause, resume, run now), [`skip`]
//! (skip the next occurrences), [`preview`]
//! (next fire times), [`body`] (the request body, parsed once into [`crate::model::NewJob`]) and
//! [`response`] (the wire shape, built from domain types by explicit conversions, so no
//! struct serves both the file and the wire). Run history is [`crate::api::runs`].
//! Reads take an admin or viewer key, changes an admin key; a monitor key gets 403 on all.

mod body;
mod bulk;
mod catch_up;
mod crud;
mod exclusive;
mod health;
mod manage;
mod preview;
mod response;
mod retry;
mod revisions;
mod skip;
mod trigger_preview;

use chrono::{DateTime, Utc};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, AppState, truncate};
use std::collections::HashMap;

use crate::model::{Awaiting, CatchUp, Job};
use crate::schedule::Trigger;
use crate::store::StoreError;
use crate::timestamp::Timestamp;
pub(in crate::api) use health::JobHealth;
use response::{JobResponse, Seen};

/// Largest page for `GET /jobs` and run history.
pub const MAX_PAGE: u32 = 1000;
/// Default page size.
pub const DEFAULT_PAGE: u32 = 100;
/// Most fire times one preview returns.
pub const MAX_PREVIEW: u32 = 1000;
/// Upper bound of `misfire_grace_seconds` (one week).
pub const MAX_GRACE_SECONDS: u32 = 7 * 24 * 3600;
/// Upper bound of `max_instances`.
pub const MAX_INSTANCES: u32 = 1000;
/// Upper bound of `jitter_seconds` (one day).
pub const MAX_JITTER_SECONDS: u32 = 24 * 3600;
/// Upper bound of a job name's length, in characters.
pub const MAX_NAME_CHARS: usize = 256;
/// Upper bound of a pause's or skip's reason, in characters (the columns' CHECK).
pub const MAX_REASON_CHARS: usize = 1000;

/// Routes of this module, with their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(crud::list_jobs, crud::create_job))
        .routes(routes!(crud::get_job, crud::put_job, crud::delete_job))
        .routes(routes!(preview::preview_job))
        .routes(routes!(trigger_preview::preview_trigger))
        .routes(routes!(manage::pause_job))
        .routes(routes!(manage::resume_job))
        .routes(routes!(manage::run_job))
        .routes(routes!(skip::skip_job))
        .routes(routes!(catch_up::catch_up_job))
        .routes(routes!(revisions::list_revisions))
        .routes(routes!(revisions::diff_revisions))
        .routes(routes!(revisions::restore_revision))
        .merge(OpenApiRouter::new().routes(routes!(bulk::bulk_jobs)).layer(
            axum::extract::DefaultBodyLimit::max(crate::api::extract::BULK_BODY_BYTES),
        ))
}

/// Checks a job id: `[A-Za-z0-9._-]{1,128}`, not only dots (so it is a safe path segment).
pub fn validate_job_id(id: &str) -> Result<(), ApiError> {
    if id.is_empty() || id.len() > 128 {
        return Err(ApiError::validation("id", "must be 1 to 128 characters"));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(ApiError::validation(
            "id",
            "may contain only letters, digits, `.`, `_` and `-`",
        ));
    }
    if id.bytes().all(|b| b == b'.') {
        return Err(ApiError::validation("id", "may not consist only of dots"));
    }
    Ok(())
}

pub(super) fn check_range(
    field: &str,
    value: Option<u32>,
    min: u32,
    max: u32,
    default: u32,
) -> Result<u32, ApiError> {
    let v = value.unwrap_or(default);
    if v < min || v > max {
        return Err(ApiError::validation(
            field,
            format!("must be between {min} and {max}, got {v}"),
        ));
    }
    Ok(v)
}

pub(super) fn page_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    check_range("limit", limit, 1, MAX_PAGE, DEFAULT_PAGE)
}

/// The first occurrence at or after `now` (an occurrence exactly now is due at once).
pub fn first_run(trigger: &Trigger, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    trigger
        .next_fire_after(now - chrono::Duration::milliseconds(1))
        .map(|f| Timestamp::new(f.at).get())
}

/// Loads a job or answers 404 `JOB_NOT_FOUND` (also for ids that cannot exist).
pub(super) async fn load_job(state: &AppState, job_id: &str) -> Result<Job, ApiError> {
    let not_found = || ApiError::JobNotFound(truncate(job_id, 128));
    if validate_job_id(job_id).is_err() {
        return Err(not_found());
    }
    state.store.get_job(job_id).await?.ok_or_else(not_found)
}

/// A job that exists but whose row cannot be read: `Ok(Err((id, problem)))`; a readable job is
/// `Ok(Ok(job))`. 404 as [`load_job`]. The one place that tells a broken job from a store fault.
async fn load_job_or_broken(
    state: &AppState,
    job_id: &str,
) -> Result<Result<Job, (String, String)>, ApiError> {
    match load_job(state, job_id).await {
        Ok(job) => Ok(Ok(job)),
        Err(ApiError::Store(StoreError::Corrupt {
            table: "jobs",
            key,
            reason,
        })) if key == job_id => Ok(Err((key, reason))),
        Err(e) => Err(e),
    }
}

/// Loads a job to pause, resume, run, skip or preview it: 404 as [`load_job`], and 409
/// `JOB_BROKEN` when its row cannot be read. Such a row is a hand edit, not a server fault (so
/// not a 500), and acting on a definition nobody can read would be a guess; GET shows its
/// problem and a valid PUT replaces it.
pub(super) async fn load_job_to_act(state: &AppState, job_id: &str) -> Result<Job, ApiError> {
    load_job_or_broken(state, job_id)
        .await?
        .map_err(|(id, problem)| ApiError::JobBroken { id, problem })
}

/// The id of an existing job, readable or not: a broken job's run history is still its own
/// (only its definition cannot be read). 404 as [`load_job`].
pub(super) async fn existing_job_id(state: &AppState, job_id: &str) -> Result<String, ApiError> {
    Ok(match load_job_or_broken(state, job_id).await? {
        Ok(job) => job.id,
        Err((id, _problem)) => id,
    })
}

/// The job with its newest run, as sent on the wire.
async fn job_response(state: &AppState, job: Job) -> Result<JobResponse, ApiError> {
    let last = state.store.last_run(&job.id).await?;
    let next_retry_at = state.store.next_retries(&[&job.id]).await?.remove(&job.id);
    let awaiting = awaiting_approval(state, [&job]).await?.remove(&job.id);
    let seen = Seen {
        last_run: last,
        next_retry_at,
        awaiting,
    };
    Ok(JobResponse::new(job, seen, crate::timestamp::now()))
}

/// What awaits a catch-up decision, for those of `jobs` that ask for one: one query, and
/// none when no job asks (the hot path of `GET /jobs/{job_id}` stays one query). A job replaced
/// away from `ask` keeps its waiting stretches, decided as before but shown once it asks again.
pub(super) async fn awaiting_approval<'a>(
    state: &AppState,
    jobs: impl IntoIterator<Item = &'a Job>,
) -> Result<HashMap<String, Awaiting>, ApiError> {
    let asking: Vec<&str> = jobs
        .into_iter()
        .filter(|j| j.settings.catch_up == CatchUp::Ask)
        .map(|j| j.id.as_str())
        .collect();
    if asking.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(state.store.awaiting_approval(&asking).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_are_checked() {
        for good in ["a", "nightly-backup", "A.b_c-9", &"x".repeat(128)] {
            assert!(validate_job_id(good).is_ok(), "{good:?} should be accepted");
        }
        for bad in ["", ".", "..", "a/b", "a b", "é", &"x".repeat(129), "a%2Fb"] {
            assert!(validate_job_id(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
