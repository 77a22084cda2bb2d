//! The HTTP API (DESIGN.md, *API*): router, shared state, and one module per resource. Handlers
//! parse input into domain types, call the store, and answer in the `{"status":"ok","data":…}`
//! envelope; every failure is an [`ApiError`].

mod admin;
mod alerts;
mod audit;
mod auth;
mod cursor;
mod error;
mod extract;
mod health;
mod jobs;
pub mod key_cache;
pub mod limits;
mod metrics;
mod middleware;
mod objects;
mod openapi;
mod responses;
mod runs;
mod ui;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub use error::{ApiError, ERROR_CODES};
pub use openapi::Envelope;

use crate::config::Config;
use crate::scheduler::{SchedulerHandle, StorageNote, Writer};
use crate::store::Store;

/// URL prefix of every versioned route.
pub const PREFIX: &str = "/api/v1alpha1";

/// What every handler can reach; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The SQLite store.
    pub store: Store,
    /// Service configuration.
    pub config: Arc<Config>,
    /// Wakes the scheduler when jobs change, and reports its state.
    pub scheduler: SchedulerHandle,
    /// When this process started serving.
    pub started: Instant,
    /// Failed authentications per client, for rate limiting.
    pub auth_failures: Arc<limits::AuthFailures>,
    /// Keys that authenticated in the last second.
    pub key_cache: Arc<key_cache::KeyCache>,
}

/// Wraps `data` in the success envelope.
pub fn ok<T: Serialize>(data: T) -> axum::Json<Envelope<T>> {
    axum::Json(Envelope { status: "ok", data })
}

/// The whole router: versioned routes under [`PREFIX`], health probes at the root, the
/// OpenAPI document, and JSON answers for unknown routes (404) and wrong methods (405).
pub fn router(state: AppState) -> Router {
    let (router, _) = router_and_openapi(state);
    router
}

/// The router and the OpenAPI document describing it, built from the same route list.
pub fn router_and_openapi(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let limit = state.config.max_body_bytes;
    let timeout = state.config.request_timeout;
    let api = OpenApiRouter::new()
        .merge(jobs::router())
        .merge(runs::router())
        .merge(auth::router())
        .merge(audit::router())
        .merge(alerts::router())
        .merge(admin::router())
        .merge(metrics::router());
    let (routes, openapi) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .nest(PREFIX, api)
        .merge(health::router())
        .split_for_parts();
    let document = openapi::OpenApiJson(Arc::new(openapi::with_links(
        serde_json::to_value(&openapi).unwrap_or_default(),
    )));
    let doc_route = Router::new()
        .route(
            &format!("{PREFIX}/openapi.json"),
            get(openapi::openapi_json),
        )
        .with_state(document);
    let router = routes
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            state.scheduler.clone(),
            observe_answer,
        ))
        .with_state(state)
        .merge(doc_route)
        .merge(ui::router())
        .layer(axum::middleware::from_fn(limits::enforce_sizes));
    let router = middleware::around(router, timeout);
    (router, openapi)
}

/// Records every answer: HTTP metrics by route template, method and status; storage failures
/// in the metrics; and, for `/healthz`, writes the storage refused (disk full, read-only, file
/// gone), cleared when a later write succeeds (the probes also re-check them themselves).
/// Applied per route, so the matched route template is known (never the raw path: job ids
/// would make one series per job).
async fn observe_answer(
    axum::extract::State(scheduler): axum::extract::State<SchedulerHandle>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let began = Instant::now();
    let method = request.method().clone();
    let route: Arc<str> = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .into();
    let is_write = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
    let response = next.run(request).await;
    let metrics = scheduler.metrics();
    if let Some(failure) = response.extensions().get::<error::StorageFailure>() {
        metrics.database_error("unavailable");
        let note = StorageNote::now(failure.message.clone(), failure.condition);
        scheduler.note(Writer::Api, Some(note));
    } else if response.extensions().get::<error::DatabaseBusy>().is_some() {
        metrics.database_error("busy");
    } else if is_write && response.status().is_success() {
        scheduler.note(Writer::Api, None);
    }
    metrics.http_request(
        route,
        method.as_str(),
        response.status().as_u16(),
        began.elapsed(),
    );
    response
}

async fn route_not_found(uri: Uri) -> Response {
    ApiError::RouteNotFound(truncate(uri.path(), 200)).into_response()
}

async fn method_not_allowed(method: Method) -> Response {
    ApiError::MethodNotAllowed(method.to_string()).into_response()
}

/// Cuts text echoed back to a client to at most `max` characters.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut cut: String = text.chars().take(max).collect();
        cut.push('…');
        cut
    }
}
