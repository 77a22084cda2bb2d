//! `GET /audit`: who changed which job, newest first. Admin or viewer keys.

use axum::extract::State;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiQuery, Reader};
use super::openapi::Envelope;
use super::responses::{BadQuery, ReadersOnly, Unavailable};
use super::{ApiError, AppState, cursor, ok};
use crate::timestamp::Timestamp;

/// Routes of this module, with their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit))
}

/// Query of `GET /audit`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AuditParams {
    /// Page size, 1–1000 (default 100).
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    cursor: Option<String>,
    /// Only changes of this job.
    #[serde(default)]
    job_id: Option<String>,
}

/// One change made through the API.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct AuditEntryResponse {
    id: i64,
    at: Timestamp,
    /// The name of the API key that made the change.
    key_name: String,
    /// `create`, `replace`, `pause`, `resume`, `run`, `delete`, `skip` or `catch_up`.
    action: String,
    job_id: String,
    /// Details, such as the run id of a manual run.
    #[schema(value_type = Option<Object>)]
    detail: Option<Value>,
}

/// A page of audit entries.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct AuditList {
    entries: Vec<AuditEntryResponse>,
    /// Pass as `cursor` for the next page; null on the last page.
    next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/audit", tag = "audit", params(AuditParams),
    responses((status = 200, description = "Changes, newest first", body = Envelope<AuditList>),
        ReadersOnly, BadQuery, Unavailable))]
/// Audit rows newest first; `job_id` filters, `limit` (1–1000, default 100) and `cursor` page.
async fn list_audit(
    _reader: Reader,
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> Result<impl IntoResponse, ApiError> {
    let limit = params.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::validation(
            "limit",
            format!("must be between 1 and 1000, got {limit}"),
        ));
    }
    let before = params
        .cursor
        .as_deref()
        .map(cursor::decode_audit)
        .transpose()?;
    let entries = state
        .store
        .list_audit(params.job_id.as_deref(), before, limit)
        .await?;
    let next_cursor = (entries.len() as u32 == limit)
        .then(|| entries.last().map(|e| cursor::encode_audit(e.id)))
        .flatten();
    let entries = entries
        .into_iter()
        .map(|e| AuditEntryResponse {
            id: e.id,
            at: Timestamp::new(e.at),
            key_name: e.key_name,
            action: e.action.to_string(),
            job_id: e.job_id,
            detail: e
                .detail
                .and_then(|d| serde_json::from_str::<Value>(&d).ok()),
        })
        .collect();
    Ok(ok(AuditList {
        entries,
        next_cursor,
    }))
}
