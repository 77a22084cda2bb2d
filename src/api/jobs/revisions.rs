//! `/jobs/{job_id}/revisions` (DESIGN.md, *Definitions you can trust*): what a job looked like
//! at each change, a field-by-field diff of two of its definitions, and a restore of one, which
//! is itself a new revision. Definitions are shown as `PUT` bodies with header values
//! redacted, as GET shows the job.

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::body::{JobBody, new_job};
use super::response::JobResponse;
use super::{existing_job_id, job_response, load_job_to_act, page_limit};
use crate::actions::{Action, REDACTED};
use crate::api::extract::{Admin, ApiQuery, Reader};
use crate::api::openapi::{Envelope, ErrorBody};
use crate::api::responses::{AdminOnly, BadQuery, ReadersOnly, Unavailable};
use crate::api::{ApiError, AppState, cursor, ok};
use crate::model::{Revision, revision_diff};
use crate::timestamp::Timestamp;

/// Query of `GET /jobs/{job_id}/revisions`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(in crate::api) struct RevisionParams {
    /// Page size, 1–1000 (default 100).
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    cursor: Option<String>,
}

/// One kept definition of a job.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::api) struct RevisionResponse {
    /// Its number, from 1, in the order of the changes.
    revision: u32,
    /// When the change was made.
    changed_at: Timestamp,
    /// The name of the key that made it.
    changed_by: String,
    /// `create`, `replace` or `restore`.
    change: &'static str,
    /// For a restore: the revision restored.
    restored_from: Option<u32>,
    /// The job as a `PUT /jobs/{job_id}` body, header values redacted.
    #[schema(value_type = Object)]
    definition: Value,
}

impl From<Revision> for RevisionResponse {
    fn from(r: Revision) -> RevisionResponse {
        RevisionResponse {
            revision: r.revision,
            changed_at: Timestamp::new(r.changed_at),
            changed_by: r.changed_by,
            change: r.change.as_str(),
            restored_from: r.restored_from,
            definition: redacted(r.definition),
        }
    }
}

/// A page of revisions, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::api) struct RevisionList {
    revisions: Vec<RevisionResponse>,
    /// Pass as `cursor` for the next page; null on the last page.
    next_cursor: Option<String>,
}

/// One field that differs.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::api) struct FieldChangeResponse {
    /// Its dotted path: `trigger.seconds`, `action.headers.X-Token`, …
    field: String,
    /// Its value in revision `from` (null: absent); header values redacted.
    #[schema(value_type = Object)]
    from: Value,
    /// Its value in revision `to`.
    #[schema(value_type = Object)]
    to: Value,
}

/// What changed from one revision to another.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::api) struct RevisionDiff {
    from: u32,
    to: u32,
    /// The fields that differ, in field order.
    changes: Vec<FieldChangeResponse>,
}

/// `definition` with every HTTP header value replaced by the redaction marker, read as an
/// action where it reads as one, else field by field.
fn redacted(mut definition: Value) -> Value {
    if let Some(action) = definition.get_mut("action") {
        match serde_json::from_value::<Action>(action.clone()) {
            Ok(parsed) => {
                if let Ok(value) = serde_json::to_value(parsed.redacted()) {
                    *action = value;
                }
            }
            Err(_) => {
                if let Some(Value::Object(headers)) = action.get_mut("headers") {
                    headers
                        .values_mut()
                        .for_each(|v| *v = Value::from(REDACTED));
                }
            }
        }
    }
    definition
}

/// Revision `n` of `job_id` as given in a path: 422 naming `revision` when it is not a number,
/// 404 `REVISION_NOT_FOUND` when it is not kept.
async fn revision(state: &AppState, job_id: &str, n: &str) -> Result<Revision, ApiError> {
    let number: u32 = n.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
        ApiError::validation(
            "revision",
            format!(
                "must be a revision number (1 or more), got `{}`",
                crate::api::truncate(n, 32)
            ),
        )
    })?;
    state
        .store
        .get_revision(job_id, number)
        .await?
        .ok_or_else(|| ApiError::RevisionNotFound {
            job_id: job_id.to_string(),
            revision: number,
        })
}

/// `GET /jobs/{job_id}/revisions`: the job's kept definitions, newest first.
#[utoipa::path(
    get,
    path = "/jobs/{job_id}/revisions",
    tag = "jobs",
    params(("job_id" = String, Path, description = "The job id"), RevisionParams),
    responses(
        (status = 200, description = "Revisions, newest first", body = Envelope<RevisionList>),
        ReadersOnly,
        (status = 404, description = "JOB_NOT_FOUND", body = ErrorBody),
        BadQuery,
        Unavailable,
    )
)]
pub(super) async fn list_revisions(
    _reader: Reader,
    State(state): State<AppState>,
    Path(job_id): Path<String>,
    ApiQuery(params): ApiQuery<RevisionParams>,
) -> Result<impl IntoResponse, ApiError> {
    let limit = page_limit(params.limit)?;
    let before = params
        .cursor
        .as_deref()
        .map(cursor::decode_revisions)
        .transpose()?;
    let job_id = existing_job_id(&state, &job_id).await?;
    let mut revisions = state
        .store
        .list_revisions(&job_id, before, limit + 1)
        .await?;
    let more = revisions.len() > limit as usize;
    revisions.truncate(limit as usize);
    let next_cursor = more
        .then(|| {
            revisions
                .last()
                .map(|r| cursor::encode_revisions(r.revision))
        })
        .flatten();
    Ok(ok(RevisionList {
        revisions: revisions.into_iter().map(RevisionResponse::from).collect(),
        next_cursor,
    }))
}

/// `GET /jobs/{job_id}/revisions/{a}/diff/{b}`: the fields that differ from revision `a` to
/// revision `b` (either may be the older), header values redacted.
#[utoipa::path(
    get,
    path = "/jobs/{job_id}/revisions/{a}/diff/{b}",
    tag = "jobs",
    params(
        ("job_id" = String, Path, description = "The job id"),
        ("a" = u32, Path, description = "The revision compared from"),
        ("b" = u32, Path, description = "The revision compared to"),
    ),
    responses(
        (status = 200, description = "The fields that differ", body = Envelope<RevisionDiff>),
        ReadersOnly,
        (status = 404, description = "JOB_NOT_FOUND or REVISION_NOT_FOUND", body = ErrorBody),
        (status = 422, description = "VALIDATION_ERROR: a revision that is not a number", body = ErrorBody),
        Unavailable,
    )
)]
pub(super) async fn diff_revisions(
    _reader: Reader,
    State(state): State<AppState>,
    Path((job_id, a, b)): Path<(String, String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let job_id = existing_job_id(&state, &job_id).await?;
    let (a, b) = (
        revision(&state, &job_id, &a).await?,
        revision(&state, &job_id, &b).await?,
    );
    let changes = revision_diff(&a.definition, &b.definition)
        .into_iter()
        .map(|c| {
            let secret = c.field.starts_with("action.headers.");
            let hide = |v: Value| {
                if secret && !v.is_null() {
                    Value::from(REDACTED)
                } else {
                    v
                }
            };
            FieldChangeResponse {
                from: hide(c.from),
                to: hide(c.to),
                field: c.field,
            }
        })
        .collect();
    Ok(ok(RevisionDiff {
        from: a.revision,
        to: b.revision,
        changes,
    }))
}

/// `POST /jobs/{job_id}/revisions/{n}/restore`: the job is replaced by revision `n`'s
/// definition, checked as a `PUT` body is (a definition that can no longer fire, such as a date
/// in the past, is a 422), in one transaction with its audit row and a new revision
/// (`restore`). Answers the job.
#[utoipa::path(
    post,
    path = "/jobs/{job_id}/revisions/{n}/restore",
    tag = "jobs",
    params(
        ("job_id" = String, Path, description = "The job id"),
        ("n" = u32, Path, description = "The revision to restore"),
    ),
    responses(
        (status = 200, description = "Restored; a new revision records it", body = Envelope<JobResponse>),
        AdminOnly,
        (status = 404, description = "JOB_NOT_FOUND or REVISION_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "JOB_BROKEN: the job's stored definition cannot be read; a valid PUT repairs it", body = ErrorBody),
        (status = 422, description = "VALIDATION_ERROR or INVALID_TRIGGER: the revision number, or the definition no longer passes a PUT's checks", body = ErrorBody),
        Unavailable,
    )
)]
pub(super) async fn restore_revision(
    Admin(who): Admin,
    State(state): State<AppState>,
    Path((job_id, n)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let current = load_job_to_act(&state, &job_id).await?;
    let revision = revision(&state, &current.id, &n).await?;
    let body: JobBody = serde_json::from_value(revision.definition).map_err(|e| {
        ApiError::validation(
            "definition",
            format!(
                "revision {} cannot be read as a job: {e}",
                revision.revision
            ),
        )
    })?;
    let now = Timestamp::now().get();
    let (job, next) = new_job(
        body,
        current.id.clone(),
        now,
        state.config.allow_command_jobs,
        None,
    )?;
    let restored = state
        .store
        .restore_revision(&job, next, now, &who.name, revision.revision)
        .await?
        .ok_or_else(|| ApiError::JobNotFound(current.id.clone()))?;
    state.scheduler.wake();
    Ok(ok(job_response(&state, restored).await?))
}
