//! Management actions on one job: pause, resume, and run now (DESIGN.md, *API*). Each is
//! audited under the key's name and wakes the scheduler.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::response::JobResponse;
use super::{MAX_REASON_CHARS, job_response, load_job_to_act};
use crate::api::extract::{Admin, JobIdPath, OptionalJson};
use crate::api::openapi::{Envelope, ErrorBody};
use crate::api::responses::{AdminOnly, BadBody, JobBroken, JobNotFound, Unavailable};
use crate::api::runs::RunResponse;
use crate::api::{ApiError, AppState, ok, truncate};
use crate::model::PauseNote;
use crate::store::StoreError;
use crate::timestamp::Timestamp;

/// The run started by `POST /jobs/{job_id}/run`.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::api) struct RunNow {
    run: Option<RunResponse>,
}

/// The optional body of `POST /jobs/{job_id}/pause`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(in crate::api) struct PauseRequest {
    /// When the pause ends by itself (must be in the future); the next run is then the first
    /// occurrence at or after it. Absent: paused until resumed.
    until: Option<Timestamp>,
    /// Why, shown on the job and in the audit trail.
    #[schema(max_length = 1000)]
    reason: Option<String>,
}

/// `POST /jobs/{job_id}/pause`: the job keeps its definition and history but does not fire
/// until resumed, or until `until` when given (DESIGN.md, *Job health, alerts, pause, skip,
/// catch-up*). Who paused it, why and until when are kept on the job and in the audit trail.
/// Without a body, pausing a paused job changes nothing; with one, it replaces the pause's
/// reason and end.
#[utoipa::path(
    post,
    path = "/jobs/{job_id}/pause",
    tag = "jobs",
    params(JobIdPath),
    request_body(
        content = Option<PauseRequest>,
        description = "Optional: when the pause ends by itself, and why"
    ),
    responses(
        (status = 200, description = "Paused (or already paused)", body = Envelope<JobResponse>),
        AdminOnly,
        BadBody,
        JobNotFound,
        JobBroken,
        (
            status = 422,
            description = "VALIDATION_ERROR: `until` not in the future or malformed, `reason` too long, an unknown field",
            body = ErrorBody
        ),
        Unavailable,
    )
)]
pub(super) async fn pause_job(
    Admin(who): Admin,
    State(state): State<AppState>,
    JobIdPath(job_id): JobIdPath,
    OptionalJson(body): OptionalJson<PauseRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let job = load_job_to_act(&state, &job_id).await?;
    let now = Timestamp::now().get();
    let note = match body {
        None if job.paused => return Ok(ok(job_response(&state, job).await?)),
        None => PauseNote {
            by: who.name,
            at: now,
            reason: None,
            until: None,
        },
        Some(body) => body.into_note(who.name, now)?,
    };
    let paused = state
        .store
        .pause_job(&job.id, &note, now)
        .await?
        .ok_or_else(|| ApiError::JobNotFound(truncate(&job_id, 128)))?;
    state.scheduler.wake();
    Ok(ok(job_response(&state, paused).await?))
}

impl PauseRequest {
    /// Checks the request and makes it the note of a pause by `by` at `now`.
    fn into_note(self, by: String, now: DateTime<Utc>) -> Result<PauseNote, ApiError> {
        if let Some(until) = self.until
            && until.get() <= now
        {
            return Err(ApiError::validation(
                "until",
                format!("{until} is not in the future"),
            ));
        }
        Ok(PauseNote {
            by,
            at: now,
            reason: checked_reason(self.reason)?,
            until: self.until.map(Timestamp::get),
        })
    }
}

/// A pause's or skip's reason: at most [`MAX_REASON_CHARS`] characters.
pub(super) fn checked_reason(reason: Option<String>) -> Result<Option<String>, ApiError> {
    match reason {
        Some(r) if r.chars().count() > MAX_REASON_CHARS => Err(ApiError::validation(
            "reason",
            format!("must be at most {MAX_REASON_CHARS} characters"),
        )),
        other => Ok(other),
    }
}

/// `POST /jobs/{job_id}/resume`: the next run is the first occurrence after now, so a long
/// pause causes no burst of misfires; a timed pause is ended early. Resuming an active job
/// changes nothing.
#[utoipa::path(
    post,
    path = "/jobs/{job_id}/resume",
    tag = "jobs",
    params(JobIdPath),
    responses(
        (status = 200, description = "Resumed; next run computed from now", body = Envelope<JobResponse>),
        AdminOnly,
        JobNotFound,
        JobBroken,
        Unavailable,
    )
)]
pub(super) async fn resume_job(
    Admin(who): Admin,
    State(state): State<AppState>,
    JobIdPath(job_id): JobIdPath,
) -> Result<impl IntoResponse, ApiError> {
    let job = load_job_to_act(&state, &job_id).await?;
    if !job.paused {
        return Ok(ok(job_response(&state, job).await?));
    }
    let now = Timestamp::now().get();
    let next = job
        .trigger
        .next_fire_after(now)
        .map(|f| Timestamp::new(f.at).get());
    let changed = state
        .store
        .set_paused(&job.id, false, next, now, &who.name)
        .await?
        .ok_or_else(|| ApiError::JobNotFound(truncate(&job_id, 128)))?;
    state.scheduler.wake();
    Ok(ok(job_response(&state, changed).await?))
}

/// `POST /jobs/{job_id}/run`: one extra occurrence now, recorded in the history like any
/// other (kind `manual`); the schedule and the paused state are unchanged. Answers 202 with
/// the run, which is `running` until its outcome is recorded.
#[utoipa::path(
    post,
    path = "/jobs/{job_id}/run",
    tag = "jobs",
    params(JobIdPath),
    responses(
        (status = 202, description = "A manual run was started", body = Envelope<RunNow>),
        AdminOnly,
        JobNotFound,
        (
            status = 409,
            description = "JOB_BROKEN: the job's stored definition cannot be read; EXCLUSIVE_GROUP_BUSY: another run holds the job's exclusive group (the message names it)",
            body = ErrorBody
        ),
        (
            status = 503,
            description = "SCHEDULER_NOT_RUNNING, DATABASE_BUSY or DATABASE_UNAVAILABLE",
            body = ErrorBody
        ),
    )
)]
pub(super) async fn run_job(
    Admin(who): Admin,
    State(state): State<AppState>,
    JobIdPath(job_id): JobIdPath,
) -> Result<impl IntoResponse, ApiError> {
    let job = load_job_to_act(&state, &job_id).await?;
    let status = state.scheduler.status();
    let instance = status
        .instance_id
        .filter(|_| status.running)
        .ok_or(ApiError::SchedulerNotRunning)?;
    let now = Timestamp::now().get();
    // Inserting the run and handing it to the loop happen in a task of their own: a client
    // that disconnects mid-request drops this handler, and a committed run row that never
    // reached the loop would stay `running` for as long as this process lives.
    let started = {
        let state = state.clone();
        let job_id = job.id.clone();
        let key_name = who.name.clone();
        tokio::spawn(async move {
            let claimed = state
                .store
                .insert_manual_run(&job_id, now, &instance, &key_name)
                .await
                .map_err(|e| match e {
                    StoreError::GroupBusy { job_id, reason } => {
                        ApiError::GroupBusy { job_id, reason }
                    }
                    other => ApiError::from(other),
                })?
                .ok_or_else(|| ApiError::JobNotFound(truncate(&job_id, 128)))?;
            let run_id = claimed.run_id;
            if !state.scheduler.submit(claimed) {
                // The loop stopped between the check and the hand-over.
                state
                    .store
                    .interrupt_runs(
                        &[run_id],
                        crate::timestamp::now(),
                        "the scheduler stopped before the run could start",
                    )
                    .await?;
                return Err(ApiError::SchedulerNotRunning);
            }
            Ok(run_id)
        })
    };
    let run_id = started.await.map_err(|_| ApiError::SchedulerNotRunning)??;
    let run = state.store.get_run(run_id).await?;
    Ok((
        StatusCode::ACCEPTED,
        ok(RunNow {
            run: run.map(RunResponse::from),
        }),
    ))
}
