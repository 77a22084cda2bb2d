//! `POST /jobs/{job_id}/catch-up` (DESIGN.md, *Job health, alerts, pause, skip, catch-up*): a
//! decision on the occurrences of a `catch_up: "ask"` job that were missed beyond grace and wait
//! for approval (`awaiting_approval` on the job).

use axum::extract::State;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::load_job_to_act;
use super::manage::checked_reason;
use crate::api::extract::{Admin, ApiJson, JobIdPath};
use crate::api::openapi::{Envelope, ErrorBody};
use crate::api::responses::{AdminOnly, BadBody, JobNotFound, Unavailable};
use crate::api::{ApiError, AppState, ok, truncate};
use crate::model::CatchUpDecision;
use crate::timestamp::Timestamp;

/// The body of `POST /jobs/{job_id}/catch-up`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(in crate::api) struct CatchUpBody {
    /// `all`: run every waiting occurrence, oldest first, at most `max_instances` at a time;
    /// `latest`: run the latest once, record the others `missed`; `none`: record them all
    /// `missed`.
    #[schema(value_type = String, pattern = "^(all|latest|none)$")]
    decision: String,
    /// Kept in the audit, and on the `missed` rows the decision writes.
    #[schema(max_length = 1000)]
    reason: Option<String>,
}

/// What a decision did.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::api) struct CatchUpResponse {
    /// The job.
    job_id: String,
    /// The decision taken.
    decision: String,
    /// Occurrences that were awaiting approval.
    occurrences: i64,
    /// Of those, how many run (in order, from now).
    to_run: i64,
    /// Of those, how many were recorded `missed`.
    missed: i64,
}

/// `POST /jobs/{job_id}/catch-up`: decides on every stretch of the job awaiting approval, in
/// one transaction with its audit row (`catch_up`). Approved occurrences start in order, each
/// with its own run row and `Idempotency-Key`, at most `max_instances` at a time, across
/// restarts and processes.
#[utoipa::path(
    post,
    path = "/jobs/{job_id}/catch-up",
    tag = "jobs",
    params(JobIdPath),
    request_body = CatchUpBody,
    responses(
        (status = 200, description = "Decided", body = Envelope<CatchUpResponse>),
        AdminOnly,
        BadBody,
        JobNotFound,
        (
            status = 409,
            description = "NOTHING_TO_APPROVE: no missed occurrences await approval (or another request decided them first); JOB_BROKEN: the job's stored definition cannot be read",
            body = ErrorBody
        ),
        (
            status = 422,
            description = "VALIDATION_ERROR: `decision` is not all, latest or none, `reason` too long, an unknown field",
            body = ErrorBody
        ),
        Unavailable,
    )
)]
pub(super) async fn catch_up_job(
    Admin(who): Admin,
    State(state): State<AppState>,
    JobIdPath(job_id): JobIdPath,
    ApiJson(body): ApiJson<CatchUpBody>,
) -> Result<impl IntoResponse, ApiError> {
    let decision: CatchUpDecision = body.decision.parse().map_err(|_| {
        ApiError::validation(
            "decision",
            format!(
                "must be `all`, `latest` or `none`, got `{}`",
                truncate(&body.decision, 64)
            ),
        )
    })?;
    let reason = checked_reason(body.reason)?;
    let job = load_job_to_act(&state, &job_id).await?;
    let now = Timestamp::now().get();
    let outcome = state
        .store
        .decide_catch_up(&job.id, decision, now, &who.name, reason.as_deref())
        .await?
        .ok_or_else(|| ApiError::JobNotFound(truncate(&job_id, 128)))?;
    if outcome.occurrences == 0 {
        return Err(ApiError::NothingToApprove(job.id));
    }
    state.scheduler.wake();
    Ok(ok(CatchUpResponse {
        job_id: job.id,
        decision: decision.as_str().to_string(),
        occurrences: outcome.occurrences,
        to_run: outcome.to_run,
        missed: outcome.missed,
    }))
}
