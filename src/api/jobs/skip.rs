//! `POST /jobs/{job_id}/skip` (DESIGN.md, *Job health, alerts, pause, skip, catch-up*): the next
//! N occurrences are recorded `skipped` with a reason instead of being run.

use axum::extract::State;
use axum::response::IntoResponse;
use serde::Deserialize;
use utoipa::ToSchema;

use super::manage::checked_reason;
use super::response::JobResponse;
use super::{job_response, load_job_to_act};
use crate::api::extract::{Admin, ApiJson, JobIdPath};
use crate::api::openapi::{Envelope, ErrorBody};
use crate::api::responses::{AdminOnly, BadBody, JobBroken, JobNotFound, Unavailable};
use crate::api::{ApiError, AppState, ok, truncate};
use crate::timestamp::Timestamp;

/// Most occurrences one skip request may skip.
pub const MAX_SKIP: i64 = 100_000;

/// The body of `POST /jobs/{job_id}/skip`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(in crate::api) struct SkipBody {
    /// How many of the next occurrences to skip; 0 cancels the rest of an earlier request.
    /// Replaces any earlier request.
    #[schema(minimum = 0, maximum = 100_000)]
    count: i64,
    /// Written on each skipped run.
    #[schema(max_length = 1000)]
    reason: Option<String>,
}

/// `POST /jobs/{job_id}/skip`: the next `count` occurrences are recorded `skipped` with the
/// reason (a run standing for several coalesced occurrences uses up that many; missed ones use
/// none). `count` 0 cancels. Audited `skip`. Answers the job, whose `skip` shows what is left.
#[utoipa::path(
    post,
    path = "/jobs/{job_id}/skip",
    tag = "jobs",
    params(JobIdPath),
    request_body = SkipBody,
    responses(
        (status = 200, description = "Recorded; `skip` on the job shows what is left", body = Envelope<JobResponse>),
        AdminOnly,
        BadBody,
        JobNotFound,
        JobBroken,
        (
            status = 422,
            description = "VALIDATION_ERROR: `count` negative or too large, `reason` too long, an unknown field",
            body = ErrorBody
        ),
        Unavailable,
    )
)]
pub(super) async fn skip_job(
    Admin(who): Admin,
    State(state): State<AppState>,
    JobIdPath(job_id): JobIdPath,
    ApiJson(body): ApiJson<SkipBody>,
) -> Result<impl IntoResponse, ApiError> {
    let count = u32::try_from(body.count)
        .ok()
        .filter(|c| i64::from(*c) <= MAX_SKIP)
        .ok_or_else(|| {
            ApiError::validation(
                "count",
                format!("must be between 0 and {MAX_SKIP}, got {}", body.count),
            )
        })?;
    let reason = checked_reason(body.reason)?;
    let job = load_job_to_act(&state, &job_id).await?;
    let now = Timestamp::now().get();
    let changed = state
        .store
        .set_skip(&job.id, count, reason.as_deref(), now, &who.name)
        .await?
        .ok_or_else(|| ApiError::JobNotFound(truncate(&job_id, 128)))?;
    Ok(ok(job_response(&state, changed).await?))
}
