//! `POST /jobs:bulk` (issue 15, item 3): creates or replaces up to 1,000 jobs in one request and
//! one transaction, all or nothing. Each job is checked as `PUT /jobs/{id}` checks it; when any
//! is invalid, none is written and the 422 names every invalid one with its place in the
//! request. Why a custom method on the collection (`:bulk`) rather than `/jobs/bulk`: a job may
//! be called `bulk`, and `/jobs/bulk` would hide it; a job id cannot contain `:`.

use std::collections::HashSet;

use axum::extract::State;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::ToSchema;

use super::body::{JobBody, new_job};
use crate::api::error::BulkItemError;
use crate::api::extract::{Admin, BulkJson, parse_json};
use crate::api::openapi::{Envelope, ErrorBody};
use crate::api::responses::{AdminOnly, BadJobBody, Unavailable};
use crate::api::{ApiError, AppState, ok};
use crate::model::NewJob;
use crate::store::StoreError;
use crate::timestamp::Timestamp;

/// Most jobs one bulk request may hold.
pub(super) const MAX_BULK_JOBS: usize = 1000;

/// Body of `POST /jobs:bulk`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct BulkBody {
    /// 1 to 1,000 jobs, each as the body of `PUT /jobs/{id}` with its `id` (required here).
    #[schema(value_type = Vec<JobBody>, min_items = 1, max_items = 1000)]
    jobs: Vec<Box<RawValue>>,
}

/// What became of one job of the request.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct BulkItem {
    id: String,
    /// True when it was created, false when it replaced a job (whose history is kept).
    created: bool,
    /// Its next run; null when paused or its trigger is finished.
    next_run_time: Option<Timestamp>,
}

/// What a bulk request did, one item per job in the request's order.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct BulkResponse {
    created: usize,
    replaced: usize,
    jobs: Vec<BulkItem>,
}

/// An invalid job of the request: where it is, its id if readable, and the error.
fn item_error(index: usize, id: Option<String>, e: &ApiError) -> BulkItemError {
    BulkItemError {
        index,
        id,
        code: e.code(),
        message: e.to_string(),
    }
}

/// Parses and checks one job of the request; the outer error is the request's (the store
/// failed), the inner one this job's.
async fn check(
    state: &AppState,
    raw: &RawValue,
    now: DateTime<Utc>,
    seen: &mut HashSet<String>,
) -> Result<Result<(NewJob, Option<DateTime<Utc>>), (Option<String>, ApiError)>, ApiError> {
    let body: JobBody = match parse_json(raw.get().as_bytes()) {
        Ok(body) => body,
        Err(e) => return Ok(Err((None, e))),
    };
    let Some(id) = body.id.clone() else {
        let e = ApiError::validation("id", "is required in a bulk request");
        return Ok(Err((None, e)));
    };
    if !seen.insert(id.clone()) {
        let e = ApiError::validation("id", format!("`{id}` appears more than once"));
        return Ok(Err((Some(id), e)));
    }
    // As PUT: header values read back redacted mean "keep", so the stored action is needed
    // (and read only then: a bulk create must not cost a read per job); a broken row is
    // replaced like a missing one.
    let current = if keeps_a_redacted_header(&body) {
        match state.store.get_job(&id).await {
            Err(StoreError::Corrupt { .. }) => None,
            other => other?,
        }
    } else {
        None
    };
    let stored = current.as_ref().map(|j| &j.action);
    Ok(new_job(
        body,
        id.clone(),
        now,
        state.config.allow_command_jobs,
        stored,
    )
    .map_err(|e| (Some(id), e)))
}

/// Whether a header value of the body's action is the redaction marker a GET shows, which
/// means "keep the stored value": only then is the stored action needed.
fn keeps_a_redacted_header(body: &JobBody) -> bool {
    body.action
        .get("headers")
        .and_then(serde_json::Value::as_object)
        .is_some_and(|headers| headers.values().any(|v| v == crate::actions::REDACTED))
}

#[utoipa::path(
    post,
    path = "/jobs:bulk",
    tag = "jobs",
    request_body = BulkBody,
    responses(
        (status = 200, description = "Every job created or replaced", body = Envelope<BulkResponse>),
        AdminOnly,
        BadJobBody,
        (status = 413, description = "PAYLOAD_TOO_LARGE: more than 8 MiB", body = ErrorBody),
        Unavailable,
    )
)]
/// Creates or replaces 1 to 1,000 jobs in one transaction: all of them, or none. A 422 lists
/// every invalid job in `detail.errors` (`index`, `id`, `code`, `message`).
pub(super) async fn bulk_jobs(
    Admin(who): Admin,
    State(state): State<AppState>,
    BulkJson(body): BulkJson<BulkBody>,
) -> Result<impl IntoResponse, ApiError> {
    let total = body.jobs.len();
    if !(1..=MAX_BULK_JOBS).contains(&total) {
        return Err(ApiError::validation(
            "jobs",
            format!("must hold 1 to {MAX_BULK_JOBS} jobs, got {total}"),
        ));
    }
    let now = Timestamp::now().get();
    let mut seen = HashSet::with_capacity(total);
    let (mut ready, mut errors) = (Vec::with_capacity(total), Vec::new());
    for (index, raw) in body.jobs.iter().enumerate() {
        match check(&state, raw, now, &mut seen).await? {
            Ok(job) => ready.push(job),
            Err((id, e)) => errors.push(item_error(index, id, &e)),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::BulkInvalid { total, errors });
    }
    let created = state.store.upsert_jobs(&ready, now, &who.name).await?;
    state.scheduler.wake();
    let new = created.iter().filter(|c| **c).count();
    tracing::info!(jobs = total, created = new, key.name = %who.name, "jobs put in bulk");
    let jobs = ready
        .into_iter()
        .zip(created)
        .map(|((job, next), created)| BulkItem {
            id: job.id,
            created,
            next_run_time: next.map(Timestamp::new),
        })
        .collect();
    Ok(ok(BulkResponse {
        created: new,
        replaced: total - new,
        jobs,
    }))
}
