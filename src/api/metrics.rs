//! `GET /metrics`: the process's metrics (`scheduler::metrics`: what the loop, the pruner and
//! the API did since start) and the database's gauges, in the OpenMetrics text format that
//! Prometheus scrapes. Any key (monitor, viewer or admin).

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::Authenticated;
use super::openapi::ErrorBody;
use super::{ApiError, AppState};

/// Routes of this module, with their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(metrics))
}

#[utoipa::path(get, path = "/metrics", tag = "auth",
    responses((status = 200, description = "OpenMetrics text (version 1.0.0)", body = String,
            content_type = "application/openmetrics-text"),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 503, description = "DATABASE_BUSY or DATABASE_UNAVAILABLE", body = ErrorBody)))]
/// Every metric of this process (runs by outcome, lateness and duration histograms, claim
/// batches, loop passes, database errors, HTTP requests, pruned rows) and the database's
/// gauges (jobs, paused, running, due backlog, jobs by health), in the OpenMetrics text format that
/// Prometheus scrapes. Any key.
async fn metrics(
    _who: Authenticated,
    State(state): State<AppState>,
) -> Result<impl IntoResponse, ApiError> {
    let now = crate::timestamp::now();
    let gauges = state.store.gauges(now).await?;
    let by_health = state.store.jobs_by_health(now).await?;
    let text = state.scheduler.metrics().encode(gauges, &by_health);
    Ok((
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    ))
}
