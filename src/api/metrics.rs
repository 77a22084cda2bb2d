//! `GET /metrics`: Prometheus text exposition of what this process's scheduler has done since
//! it started (counters) and of the file's state (gauges). Monitor or admin keys.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use std::fmt::Write;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::Authenticated;
use super::openapi::ErrorBody;
use super::{ApiError, AppState};
use crate::scheduler::Counters;

/// Routes of this module, with their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(metrics))
}

#[utoipa::path(get, path = "/metrics", tag = "auth",
    responses((status = 200, description = "Prometheus text format (version 0.0.4)", body = String, content_type = "text/plain"),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 503, description = "DATABASE_BUSY or DATABASE_UNAVAILABLE", body = ErrorBody)))]
/// Counters and gauges in the Prometheus text format.
async fn metrics(
    _who: Authenticated,
    State(state): State<AppState>,
) -> Result<impl IntoResponse, ApiError> {
    let (jobs, paused, running) = state.store.gauges().await?;
    let c = state.scheduler.counters();
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    };
    metric(
        "schedlite_jobs",
        "gauge",
        "Jobs in the database.",
        jobs.max(0) as u64,
    );
    metric(
        "schedlite_jobs_paused",
        "gauge",
        "Paused jobs.",
        paused.max(0) as u64,
    );
    metric(
        "schedlite_runs_running",
        "gauge",
        "Runs now running, in all processes.",
        running.max(0) as u64,
    );
    metric(
        "schedlite_runs_started_total",
        "counter",
        "Runs this process started.",
        Counters::get(&c.started),
    );
    metric(
        "schedlite_runs_succeeded_total",
        "counter",
        "Runs that succeeded.",
        Counters::get(&c.succeeded),
    );
    metric(
        "schedlite_runs_failed_total",
        "counter",
        "Runs that failed.",
        Counters::get(&c.failed),
    );
    metric(
        "schedlite_runs_timed_out_total",
        "counter",
        "Runs that timed out.",
        Counters::get(&c.timed_out),
    );
    metric(
        "schedlite_occurrences_missed_total",
        "counter",
        "Occurrences recorded missed.",
        Counters::get(&c.missed),
    );
    metric(
        "schedlite_occurrences_skipped_total",
        "counter",
        "Occurrences recorded skipped.",
        Counters::get(&c.skipped),
    );
    metric(
        "schedlite_pruned_runs_total",
        "counter",
        "Run rows deleted by the retention policy.",
        Counters::get(&c.pruned_runs),
    );
    metric(
        "schedlite_pruned_audit_total",
        "counter",
        "Audit rows deleted by the retention policy.",
        Counters::get(&c.pruned_audit),
    );
    metric(
        "schedlite_scheduler_passes_total",
        "counter",
        "Claim passes of the loop.",
        Counters::get(&c.passes),
    );
    Ok(([(CONTENT_TYPE, "text/plain; version=0.0.4")], out))
}
