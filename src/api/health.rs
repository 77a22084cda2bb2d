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
/// 200 when the database answers and is writable, 503 otherwise; always a JSON report of the
/// parts, with the reason when something is wrong (read-only, full, file gone, busy).
async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let db = async {
        state.store.ping().await?;
        let version = state.store.schema_version().await?;
        let jobs = state.store.count_jobs().await?;
        Ok::<_, crate::store::StoreError>((version, jobs))
    }
    .await;
    let scheduler = state.scheduler.status();
    let problem = storage_problem(&state);
    let scheduler_json = json!({
        "state": if scheduler.running { "running" } else { "stopped" },
        "last_pass_at": scheduler.last_pass_at.map(timestamp::format),
        "instance_id": scheduler.instance_id,
    });
    match db {
        Ok((version, jobs)) => {
            let healthy = problem.is_none();
            (
                if healthy {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                },
                axum::Json(json!({
                    "status": if healthy { "ok" } else { "degraded" },
                    "data": {
                        "api": "ok",
                        "database": problem.unwrap_or_else(|| "ok".to_string()),
                        "schema_version": version,
                        "schema_latest_known": Store::latest_known_version(),
                        "job_count": jobs,
                        "scheduler": scheduler_json,
                        "uptime_seconds": state.started.elapsed().as_secs(),
                    }
                })),
            )
        }
        Err(e) => {
            tracing::warn!(error = %super::error_chain(&e), "health check: database failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({
                    "status": "error",
                    "data": {"api": "ok", "database": super::error_chain(&e), "scheduler": scheduler_json}
                })),
            )
        }
    }
}

/// Why the database cannot take writes right now, if it cannot: the file was deleted or
/// replaced, or the scheduler's last write (its heartbeat, every second) failed.
fn storage_problem(state: &AppState) -> Option<String> {
    if let Err(e) = state.store.check_file() {
        return Some(e.to_string());
    }
    state
        .scheduler
        .storage_problem()
        .map(|(at, message)| format!("{message} (since {})", timestamp::format(at)))
}

#[utoipa::path(get, path = "/readyz", tag = "health", security(()),
    responses((status = 200, description = "Ready to serve", body = Object),
        (status = 503, description = "Not ready (database, schema or storage)", body = Object)))]
/// 200 once the database answers, its schema is the one this binary expects, and it takes
/// writes.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let not_ready = |reason: String| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"status": "error", "data": {"ready": false, "reason": reason}})),
        )
    };
    match state.store.schema_version().await {
        Ok(v) if v == Store::latest_known_version() => match storage_problem(&state) {
            None => (
                StatusCode::OK,
                axum::Json(json!({"status": "ok", "data": {"ready": true}})),
            ),
            Some(problem) => not_ready(problem),
        },
        Ok(v) => not_ready(format!(
            "schema version {v} is not the expected {}",
            Store::latest_known_version()
        )),
        Err(e) => not_ready(e.to_string()),
    }
}
