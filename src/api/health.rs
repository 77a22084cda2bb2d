//! `GET /healthz` (liveness with details) and `GET /readyz` (ready to serve). No key needed:
//! load balancers and orchestrators call them. Neither reveals job contents.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use crate::store::Store;
use crate::timestamp;

/// Routes of this module, with their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

#[utoipa::path(get, path = "/healthz", tag = "health", security(()),
    responses((status = 200, description = "API, database and scheduler report", body = Object),
        (status = 503, description = "The database does not answer", body = Object)))]
/// 200 when the database answers, 503 otherwise; always a JSON report of the parts.
async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let db = async {
        state.store.ping().await?;
        let version = state.store.schema_version().await?;
        let jobs = state.store.count_jobs().await?;
        Ok::<_, crate::store::StoreError>((version, jobs))
    }
    .await;
    let scheduler = state.scheduler.status();
    let scheduler_json = json!({
        "state": if scheduler.running { "running" } else { "stopped" },
        "last_pass_at": scheduler.last_pass_at.map(timestamp::format),
        "instance_id": scheduler.instance_id,
    });
    match db {
        Ok((version, jobs)) => (
            StatusCode::OK,
            axum::Json(json!({
                "status": "ok",
                "data": {
                    "api": "ok",
                    "database": "ok",
                    "schema_version": version,
                    "schema_latest_known": Store::latest_known_version(),
                    "job_count": jobs,
                    "scheduler": scheduler_json,
                    "uptime_seconds": state.started.elapsed().as_secs(),
                }
            })),
        ),
        Err(e) => {
            tracing::warn!(error = %super::error_chain(&e), "health check: database failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({
                    "status": "error",
                    "data": {"api": "ok", "database": e.to_string(), "scheduler": scheduler_json}
                })),
            )
        }
    }
}

#[utoipa::path(get, path = "/readyz", tag = "health", security(()),
    responses((status = 200, description = "Ready to serve", body = Object),
        (status = 503, description = "Not ready (database or schema)", body = Object)))]
/// 200 once the database answers and its schema is the one this binary expects.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.schema_version().await {
        Ok(v) if v == Store::latest_known_version() => (
            StatusCode::OK,
            axum::Json(json!({"status": "ok", "data": {"ready": true}})),
        ),
        Ok(v) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(
                json!({"status": "error", "data": {"ready": false, "reason": format!("schema version {v} is not the expected {}", Store::latest_known_version())}}),
            ),
        ),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(
                json!({"status": "error", "data": {"ready": false, "reason": e.to_string()}}),
            ),
        ),
    }
}
