//! `POST /triggers/preview`: the next fire times of a trigger that is not saved yet, read and
//! checked exactly as `POST /jobs` reads its `trigger` (same field paths in the errors), so a
//! form can show them live while a job is typed. Writes nothing, but admin-only: it
//! serves the form that creates and edits jobs, which only an admin may do. Not under `/jobs/`, where `preview` would shadow a job of that id.

use axum::response::IntoResponse;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::body::{TriggerBody, build_trigger, parse_trigger};
use super::preview::{PreviewTime, fire_times};
use super::{MAX_PREVIEW, check_range};
use crate::api::extract::{Admin, ApiJson};
use crate::api::openapi::Envelope;
use crate::api::responses::{AdminOnly, BadJobBody, Unavailable};
use crate::api::{ApiError, ok};
use crate::timestamp::Timestamp;

/// Body of `POST /triggers/preview`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(in crate::api) struct TriggerPreviewRequest {
    /// A trigger as `POST /jobs` takes it.
    #[schema(value_type = TriggerBody)]
    trigger: Value,
    /// How many fire times, 1–1000 (default 10).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1000, default = 10)]
    count: Option<u32>,
}

/// Fire times of an unsaved trigger.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::api) struct TriggerPreview {
    /// The trigger's timezone (UTC for interval and date triggers).
    timezone: String,
    /// Times are strictly after this instant (now).
    from: Timestamp,
    times: Vec<PreviewTime>,
}

/// `POST /triggers/preview`: the next `count` fire times after now of the trigger given, or
/// the 422 that `POST /jobs` would answer for it.
#[utoipa::path(
    post,
    path = "/triggers/preview",
    tag = "jobs",
    request_body = TriggerPreviewRequest,
    responses(
        (status = 200, description = "The next fire times", body = Envelope<TriggerPreview>),
        AdminOnly,
        BadJobBody,
        Unavailable,
    )
)]
pub(super) async fn preview_trigger(
    _admin: Admin,
    ApiJson(request): ApiJson<TriggerPreviewRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let count = check_range("count", request.count, 1, MAX_PREVIEW, 10)?;
    let now = Utc::now();
    let trigger = build_trigger(parse_trigger(request.trigger)?, now)?;
    Ok(ok(TriggerPreview {
        timezone: trigger.timezone().name().to_string(),
        from: Timestamp::new(now),
        times: fire_times(&trigger, now, count),
    }))
}
