//! The job resource itself: list, create, replace, read and delete (DESIGN.md, *API*).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::body::{JobBody, generated_id, new_job};
use super::health::{JobHealth, filtered_page};
use super::response::{JobResponse, ListedJob, Seen, TriggerType};
use super::{job_response, page_limit, validate_job_id};
use crate::api::extract::{Admin, ApiJson, ApiQuery, JobIdPath, Reader};
use crate::api::openapi::{Envelope, ErrorBody};
use crate::api::responses::{
    AdminOnly, BadJobBody, BadQuery, JobNotFound, ReadersOnly, Unavailable,
};
use crate::api::{ApiError, AppState, cursor, ok, truncate};
use crate::model::JobEntry;
use crate::schedule::TriggerKind;
use crate::store::{JobFilter, JobOrder, StoreError};
use crate::timestamp::Timestamp;

/// Query of `GET /jobs`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ListParams {
    /// Page size, 1–1000 (default 100).
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    cursor: Option<String>,
    /// Only paused (true) or only active (false) jobs.
    #[serde(default)]
    paused: Option<bool>,
    /// Only `date`, `interval` or `cron` jobs.
    #[serde(default)]
    #[param(inline)]
    trigger_type: Option<TriggerType>,
    /// `next_run` (default): by next run, paused and finished jobs last; the first page is the
    /// live view, and following its cursors lists every job that exists throughout exactly
    /// once, in the order as of the first page. `id`: by id, a complete and stable enumeration
    /// for exports and copies. A cursor continues only the order it came from.
    #[serde(default)]
    #[param(inline)]
    order: Option<ListOrder>,
    /// Only jobs with this health now. Health depends on the clock, so it is filtered as the
    /// pages are read: a filtered page may hold fewer than `limit` jobs, even none, while
    /// `next_cursor` is set; follow it until it is null.
    #[serde(default)]
    #[param(inline)]
    health: Option<JobHealth>,
}

/// The order of `GET /jobs`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(in crate::api) enum ListOrder {
    /// By next run time, paused and finished jobs last, then by id.
    #[default]
    NextRun,
    /// By id.
    Id,
}

impl From<ListOrder> for JobOrder {
    fn from(order: ListOrder) -> JobOrder {
        match order {
            ListOrder::NextRun => JobOrder::NextRun,
            ListOrder::Id => JobOrder::Id,
        }
    }
}

/// A page of jobs.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::api) struct JobList {
    /// The jobs; one whose stored row cannot be read is listed with `health: broken` and
    /// what is wrong with it.
    jobs: Vec<ListedJob>,
    /// Pass as `cursor` for the next page; null on the last page.
    next_cursor: Option<String>,
}

/// A confirmation.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::api) struct Message {
    message: String,
}

/// `GET /jobs`: jobs in next-run order (paused and finished last) or id order,
/// keyset-paginated; a listing in either order terminates (README, *Listing jobs*).
#[utoipa::path(
    get,
    path = "/jobs",
    tag = "jobs",
    params(ListParams),
    responses(
        (status = 200, description = "A page of jobs", body = Envelope<JobList>),
        ReadersOnly,
        BadQuery,
        Unavailable,
    )
)]
pub(super) async fn list_jobs(
    _reader: Reader,
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<impl IntoResponse, ApiError> {
    let limit = page_limit(params.limit)?;
    let order = JobOrder::from(params.order.unwrap_or_default());
    let after = params
        .cursor
        .as_deref()
        .map(cursor::decode_jobs)
        .transpose()?;
    if let Some(after) = &after
        && after.order() != order
    {
        return Err(ApiError::validation(
            "cursor",
            "belongs to a listing in another order: pass the same `order` as its first page",
        ));
    }
    let filter = JobFilter {
        paused: params.paused,
        trigger_type: params.trigger_type.map(TriggerKind::from),
    };
    let (jobs, next) = filtered_page(&state, &filter, order, after, limit, params.health).await?;
    Ok(ok(JobList {
        jobs,
        next_cursor: next.as_ref().map(cursor::encode_jobs),
    }))
}

/// `POST /jobs`: creates a job; 409 when the id exists.
#[utoipa::path(
    post,
    path = "/jobs",
    tag = "jobs",
    request_body = JobBody,
    responses(
        (status = 201, description = "Created", body = Envelope<JobResponse>),
        AdminOnly,
        BadJobBody,
        (status = 409, description = "JOB_ALREADY_EXISTS", body = ErrorBody),
        Unavailable,
    )
)]
pub(super) async fn create_job(
    Admin(who): Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<JobBody>,
) -> Result<impl IntoResponse, ApiError> {
    let now = Timestamp::now().get();
    let id = body.id.clone().unwrap_or_else(generated_id);
    let (job, next) = new_job(body, id, now, state.config.allow_command_jobs, None)?;
    let stored = state
        .store
        .insert_job(&job, next, now, &who.name)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::JobExists(id) => ApiError::JobExists(id),
            other => ApiError::from(other),
        })?;
    state.scheduler.wake();
    tracing::info!(job.id = %stored.id, key.name = %who.name, "job created");
    Ok((StatusCode::CREATED, ok(job_response(&state, stored).await?)))
}

/// `PUT /jobs/{job_id}`: creates (201) or replaces (200) the job. A replaced job keeps its run
/// history; its next run is recomputed from the new trigger.
#[utoipa::path(
    put,
    path = "/jobs/{job_id}",
    tag = "jobs",
    params(JobIdPath),
    request_body = JobBody,
    responses(
        (status = 200, description = "Replaced (history kept)", body = Envelope<JobResponse>),
        (status = 201, description = "Created", body = Envelope<JobResponse>),
        AdminOnly,
        BadJobBody,
        Unavailable,
    )
)]
pub(super) async fn put_job(
    Admin(who): Admin,
    State(state): State<AppState>,
    JobIdPath(job_id): JobIdPath,
    ApiJson(body): ApiJson<JobBody>,
) -> Result<impl IntoResponse, ApiError> {
    validate_job_id(&job_id)?;
    if let Some(id) = &body.id
        && id != &job_id
    {
        return Err(ApiError::validation(
            "id",
            "must equal the id in the path (or be left out)",
        ));
    }
    let now = Timestamp::now().get();
    // A broken row (a bad hand edit) is what a PUT repairs: it is replaced like a missing one,
    // with no stored header values to keep.
    let current = match state.store.get_job(&job_id).await {
        Err(StoreError::Corrupt { .. }) => None,
        other => other?,
    };
    let stored = current.as_ref().map(|j| &j.action);
    let (job, next) = new_job(body, job_id, now, state.config.allow_command_jobs, stored)?;
    let (stored, created) = state.store.upsert_job(&job, next, now, &who.name).await?;
    state.scheduler.wake();
    tracing::info!(job.id = %stored.id, created, key.name = %who.name, "job put");
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, ok(job_response(&state, stored).await?)))
}

/// `GET /jobs/{job_id}`: the job with its definition, next run and last run.
#[utoipa::path(
    get,
    path = "/jobs/{job_id}",
    tag = "jobs",
    params(JobIdPath),
    responses(
        (status = 200, description = "The job with its last run and health (or, when its stored row cannot be read, `health: broken` and what is wrong)", body = Envelope<ListedJob>),
        ReadersOnly,
        JobNotFound,
        Unavailable,
    )
)]
pub(super) async fn get_job(
    _reader: Reader,
    State(state): State<AppState>,
    JobIdPath(job_id): JobIdPath,
) -> Result<impl IntoResponse, ApiError> {
    let not_found = || ApiError::JobNotFound(truncate(&job_id, 128));
    if validate_job_id(&job_id).is_err() {
        return Err(not_found());
    }
    let (job, last_run, next_retry_at) = state
        .store
        .get_job_with_last_run(&job_id)
        .await?
        .ok_or_else(not_found)?;
    let awaiting = match &job {
        JobEntry::Readable(readable) => super::awaiting_approval(&state, [readable])
            .await?
            .remove(&readable.id),
        JobEntry::Broken(_) => None,
    };
    let seen = Seen {
        last_run,
        next_retry_at,
        awaiting,
    };
    Ok(ok(ListedJob::new(job, seen, crate::timestamp::now())))
}

/// `DELETE /jobs/{job_id}`: removes the job and its history (seed story AC 2 and 3).
#[utoipa::path(
    delete,
    path = "/jobs/{job_id}",
    tag = "jobs",
    params(JobIdPath),
    responses(
        (status = 200, description = "Deleted, with its history", body = Envelope<Message>),
        AdminOnly,
        JobNotFound,
        Unavailable,
    )
)]
pub(super) async fn delete_job(
    Admin(who): Admin,
    State(state): State<AppState>,
    JobIdPath(job_id): JobIdPath,
) -> Result<impl IntoResponse, ApiError> {
    let not_found = || ApiError::JobNotFound(truncate(&job_id, 128));
    if validate_job_id(&job_id).is_err()
        || !state
            .store
            .delete_job(&job_id, crate::timestamp::now(), &who.name)
            .await?
    {
        return Err(not_found());
    }
    state.scheduler.wake();
    tracing::info!(job.id = %job_id, key.name = %who.name, "job deleted");
    Ok(ok(Message {
        message: format!("Job '{job_id}' deleted"),
    }))
}
