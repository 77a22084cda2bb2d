//! `GET /healthz` (liveness with details) and `GET /readyz` (ready to serve). No key needed:
//! load balancers and orchestrators call them. Neither reveals job contents.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, AppState};
use crate::error_chain::error_chain;
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
async fn healthz(State(state): State<AppState>) -> axum::response::Response {
    let db = async {
        state.store.ping().await?;
        let version = state.store.schema_version().await?;
        let jobs = state.store.count_jobs().await?;
        Ok::<_, crate::store::StoreError>((version, jobs))
    }
    .await;
    let scheduler = state.scheduler.status();
    let problem = storage_problem(&state).await;
    let scheduler_json = json!({
        "state": if scheduler.running { "running" } else { "stopped" },
        "last_pass_at": scheduler.last_pass_at.map(timestamp::format),
        "instance_id": scheduler.instance_id,
    });
    let (version, jobs) = match db {
        Ok(figures) => figures,
        // Busy is the error shape's DATABASE_BUSY with Retry-After: wait, nothing is broken.
        Err(e @ crate::store::StoreError::Busy) => return ApiError::from(e).into_response(),
        Err(e) => {
            tracing::warn!(error = %error_chain(&e), "health check: database failed");
            // A file deleted or replaced underneath explains a failing query best.
            let message = problem.unwrap_or_else(|| error_chain(&e));
            let mut response = (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({
                    "status": "error",
                    "detail": {"code": "DATABASE_UNAVAILABLE", "message": message},
                    "data": {"api": "ok", "database": message, "scheduler": scheduler_json}
                })),
            )
                .into_response();
            retry_later(&mut response);
            return response;
        }
    };
    let body = |database: String| {
        json!({
            "api": "ok",
            "database": database,
            "schema_version": version,
            "schema_latest_known": Store::latest_known_version(),
            "job_count": jobs,
            "scheduler": scheduler_json,
            "uptime_seconds": state.started.elapsed().as_secs(),
        })
    };
    match problem {
        None => (
            StatusCode::OK,
            axum::Json(json!({"status": "ok", "data": body("ok".into())})),
        )
            .into_response(),
        Some(problem) => {
            let mut response = (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({
                    "status": "degraded",
                    "detail": {"code": "DATABASE_UNAVAILABLE", "message": problem},
                    "data": body(problem.clone()),
                })),
            )
                .into_response();
            retry_later(&mut response);
            response
        }
    }
}

/// Marks a 503 of the probes as worth retrying shortly.
fn retry_later(response: &mut axum::response::Response) {
    response.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from_static("1"),
    );
}

/// Why the database cannot take writes right now, if it cannot: the file was deleted or
/// replaced, or a write of the loop or the API failed and its cause still holds. Each
/// remembered failure is re-checked here (a full disk for room, a read-only file for write
/// access), so the probes judge the present: a disk cleared while no writer writes brings them
/// back to 200 without waiting for the next write.
async fn storage_problem(state: &AppState) -> Option<String> {
    if let Err(e) = state.store.check_file() {
        return Some(e.to_string());
    }
    for (writer, note) in state.scheduler.storage_notes() {
        if let Some(condition) = note.condition
            && !state.store.condition_persists(condition).await
        {
            state.scheduler.forget_note(writer, note.at);
            continue;
        }
        return Some(format!(
            "{} (since {})",
            note.message,
            timestamp::format(note.at)
        ));
    }
    None
}

#[utoipa::path(get, path = "/readyz", tag = "health", security(()),
    responses((status = 200, description = "Ready to serve", body = Object),
        (status = 503, description = "Not ready (database, schema or storage)", body = Object)))]
/// 200 once the database answers, its schema is the one this binary expects, and it takes
/// writes.
async fn readyz(State(state): State<AppState>) -> axum::response::Response {
    let not_ready = |reason: String| {
        let mut response = (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({
                "status": "error",
                "detail": {"code": "DATABASE_UNAVAILABLE", "message": reason},
                "data": {"ready": false, "reason": reason},
            })),
        )
            .into_response();
        retry_later(&mut response);
        response
    };
    match state.store.schema_version().await {
        Ok(v) if v == Store::latest_known_version() => match storage_problem(&state).await {
            None => (
                StatusCode::OK,
                axum::Json(json!({"status": "ok", "data": {"ready": true}})),
            )
                .into_response(),
            Some(problem) => not_ready(problem),
        },
        Ok(v) => not_ready(format!(
            "schema version {v} is not the expected {}",
            Store::latest_known_version()
        )),
        Err(e @ crate::store::StoreError::Busy) => ApiError::from(e).into_response(),
        Err(e) => not_ready(
            storage_problem(&state)
                .await
                .unwrap_or_else(|| e.to_string()),
        ),
    }
}
