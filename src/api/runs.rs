//! `GET /jobs/{job_id}/runs`: a job's run history, newest first, keyset-paginated; and the run
//! as it is sent on the wire, which job responses and manual runs embed too.

use axum::extract::State;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiQuery, JobIdPath, Reader};
use super::jobs::{existing_job_id, page_limit};
use super::openapi::Envelope;
use super::responses::{BadQuery, JobNotFound, ReadersOnly, Unavailable};
use super::{ApiError, AppState, cursor, ok};
use crate::model::Run;
use crate::store::RunCursor;
use crate::timestamp::Timestamp;

/// Routes of this module, with their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_runs))
}

/// One run as sent on the wire.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct RunResponse {
    id: i64,
    job_id: String,
    kind: &'static str,
    status: &'static str,
    scheduled_at: Timestamp,
    last_scheduled_at: Option<Timestamp>,
    occurrences: i64,
    started_at: Option<Timestamp>,
    finished_at: Option<Timestamp>,
    duration_ms: Option<i64>,
    instance_id: Option<String>,
    http_status: Option<i64>,
    exit_code: Option<i64>,
    output: Option<String>,
    error: Option<String>,
    /// Which attempt at the occurrence this is, from 1 (the job's `retry` policy).
    attempt: u32,
    /// When the next attempt starts, while one is pending after this one.
    retry_at: Option<Timestamp>,
}

impl From<Run> for RunResponse {
    fn from(run: Run) -> RunResponse {
        RunResponse {
            id: run.id,
            job_id: run.job_id,
            kind: run.kind.as_str(),
            status: run.status.as_str(),
            scheduled_at: run.scheduled_at.into(),
            last_scheduled_at: run.last_scheduled_at.map(Timestamp::new),
            occurrences: run.occurrences,
            started_at: run.started_at.map(Timestamp::new),
            finished_at: run.finished_at.map(Timestamp::new),
            duration_ms: run.duration_ms,
            instance_id: run.owner_id,
            http_status: run.http_status,
            exit_code: run.exit_code,
            output: run.output,
            error: run.error,
            attempt: run.attempt,
            retry_at: run.retry_at.map(Timestamp::new),
        }
    }
}

/// A page of runs.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct RunList {
    runs: Vec<RunResponse>,
    /// Pass as `cursor` for the next page; null on the last page.
    next_cursor: Option<String>,
}

/// Query of `GET /jobs/{job_id}/runs`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct RunsParams {
    /// Page size, 1–1000 (default 100).
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    cursor: Option<String>,
}

/// `GET /jobs/{job_id}/runs`: run history, newest first, keyset-paginated.
#[utoipa::path(
    get,
    path = "/jobs/{job_id}/runs",
    tag = "jobs",
    params(JobIdPath, RunsParams),
    responses(
        (status = 200, description = "Run history, newest first", body = Envelope<RunList>),
        ReadersOnly,
        JobNotFound,
        BadQuery,
        Unavailable,
    )
)]
async fn list_runs(
    _reader: Reader,
    State(state): State<AppState>,
    JobIdPath(job_id): JobIdPath,
    ApiQuery(params): ApiQuery<RunsParams>,
) -> Result<impl IntoResponse, ApiError> {
    let job_id = existing_job_id(&state, &job_id).await?;
    let limit = page_limit(params.limit)?;
    let before = params
        .cursor
        .as_deref()
        .map(cursor::decode_runs)
        .transpose()?;
    let runs = state.store.list_runs(&job_id, before, limit).await?;
    let next_cursor = if runs.len() as u32 == limit {
        runs.last().map(|r| {
            cursor::encode_runs(RunCursor {
                scheduled_at: r.scheduled_at,
                attempt: r.attempt,
            })
        })
    } else {
        None
    };
    let runs: Vec<RunResponse> = runs.into_iter().map(RunResponse::from).collect();
    Ok(ok(RunList { runs, next_cursor }))
}
