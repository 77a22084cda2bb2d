//! `GET /alerts`: the changes of job health, newest first, each with where its delivery to a
//! webhook stands (DESIGN.md, *Job health, alerts, pause, skip, catch-up*). Admin or viewer
//! keys. The webhook's URL is not shown: its path often holds the receiver's token.

use axum::extract::State;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiQuery, Reader};
use super::jobs::JobHealth;
use super::openapi::Envelope;
use super::responses::{BadQuery, ReadersOnly, Unavailable};
use super::{ApiError, AppState, cursor, ok};
use crate::model::{Alert, Delivery};
use crate::timestamp::Timestamp;

/// Routes of this module, with their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_alerts))
}

/// Query of `GET /alerts`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AlertParams {
    /// Page size, 1–1000 (default 100).
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    cursor: Option<String>,
    /// Only alerts of this job.
    #[serde(default)]
    job_id: Option<String>,
}

/// Where an alert's delivery stands.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum DeliveryState {
    /// To be sent at `next_attempt_at`.
    Pending,
    /// Its webhook answered 2xx at `sent_at`.
    Sent,
    /// Given up after 20 attempts; `last_error` says why.
    Failed,
    /// Recorded only: neither the job nor the server had a webhook.
    None,
}

impl From<Delivery> for DeliveryState {
    fn from(d: Delivery) -> DeliveryState {
        match d {
            Delivery::Pending => DeliveryState::Pending,
            Delivery::Sent => DeliveryState::Sent,
            Delivery::Failed => DeliveryState::Failed,
            Delivery::None => DeliveryState::None,
        }
    }
}

/// The delivery of one alert to its webhook.
#[derive(Debug, Serialize, ToSchema)]
struct DeliveryResponse {
    state: DeliveryState,
    /// Attempts made so far.
    attempts: u32,
    /// When it is tried next; null unless pending.
    next_attempt_at: Option<Timestamp>,
    /// When its webhook took it.
    sent_at: Option<Timestamp>,
    /// Why the last attempt failed.
    last_error: Option<String>,
}

/// One change of a job's health.
#[derive(Debug, Serialize, ToSchema)]
struct AlertResponse {
    /// Increasing with the order alerts were recorded in; the webhook's `Idempotency-Key` is
    /// `schedlite-alert-<id>`.
    id: i64,
    job_id: String,
    /// The health alerted before (`ok` when none was).
    from: JobHealth,
    /// The health now.
    to: JobHealth,
    /// Why, in words.
    reason: String,
    /// When the change was seen.
    at: Timestamp,
    delivery: DeliveryResponse,
}

impl From<Alert> for AlertResponse {
    fn from(a: Alert) -> AlertResponse {
        AlertResponse {
            id: a.id,
            job_id: a.alert.job_id,
            from: a.alert.from.into(),
            to: a.alert.to.into(),
            reason: a.alert.reason,
            at: Timestamp::new(a.alert.at),
            delivery: DeliveryResponse {
                state: a.delivery.into(),
                attempts: a.attempts,
                next_attempt_at: a.next_attempt_at.map(Timestamp::new),
                sent_at: a.sent_at.map(Timestamp::new),
                last_error: a.last_error,
            },
        }
    }
}

/// A page of alerts.
#[derive(Debug, Serialize, ToSchema)]
struct AlertList {
    alerts: Vec<AlertResponse>,
    /// Pass as `cursor` for the next page; null on the last page.
    next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/alerts", tag = "alerts", params(AlertParams),
    responses((status = 200, description = "Changes of job health, newest first", body = Envelope<AlertList>),
        ReadersOnly, BadQuery, Unavailable))]
/// Alerts newest first; `job_id` filters, `limit` (1–1000, default 100) and `cursor` page.
async fn list_alerts(
    _reader: Reader,
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<AlertParams>,
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
        .map(cursor::decode_alerts)
        .transpose()?;
    let alerts = state
        .store
        .list_alerts(params.job_id.as_deref(), before, limit)
        .await?;
    let next_cursor = (alerts.len() as u32 == limit)
        .then(|| alerts.last().map(|a| cursor::encode_alerts(a.id)))
        .flatten();
    Ok(ok(AlertList {
        alerts: alerts.into_iter().map(AlertResponse::from).collect(),
        next_cursor,
    }))
}
