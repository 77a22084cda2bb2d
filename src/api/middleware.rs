//! Per-request plumbing around every route, from tower-http and tower: a request id
//! (`X-Request-Id`, generated unless the client sent a usable one, echoed on the response), a
//! tracing span per request naming the method, the matched route and that id (so every log line
//! a request causes can be found by its id), and a deadline answered in the API's error shape.
//!
//! The span records no headers and no raw URI: `X-API-Key` and `Authorization` never reach a
//! log. tower-http's own request/response events stay at DEBUG; its per-failure ERROR event is
//! off because [`ApiError`] already logs what a failure needs, once.

use std::time::Duration;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{MatchedPath, Request};
use axum::http::HeaderName;
use axum::response::IntoResponse;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tracing::Span;

use super::ApiError;

/// The header carrying the request id, both ways.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Longest client-supplied request id kept as is; a longer one (or one with characters other than
/// visible ASCII) is replaced by a generated id, so logs stay readable and bounded.
pub const MAX_REQUEST_ID_CHARS: usize = 128;

/// Wraps every route of `router` (and its fallbacks) in the request id, trace and deadline layers.
/// A request still running after `timeout` is abandoned (its handler dropped, so an open
/// transaction rolls back) and answered 503 `REQUEST_TIMEOUT`.
///
/// The layers are composed into ONE stack applied by one `Router::layer`: each call boxes every
/// route's service again, and a boxed service is cloned and its future boxed on every request.
/// Outermost first: drop an unusable client id, set one, echo it, trace, then the deadline.
pub fn around(router: Router, timeout: Duration) -> Router {
    let header = HeaderName::from_static(REQUEST_ID_HEADER);
    router.layer(
        ServiceBuilder::new()
            .map_request(drop_unusable_request_id)
            .layer(SetRequestIdLayer::new(header.clone(), MakeRequestUuid))
            .layer(PropagateRequestIdLayer::new(header))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(span_for)
                    .on_failure(()),
            )
            .layer(HandleErrorLayer::new(
                move |_: tower::BoxError| async move {
                    ApiError::RequestTimeout(timeout).into_response()
                },
            ))
            .timeout(timeout),
    )
}

/// The span of one request: method, matched route (never the raw URI) and request id.
fn span_for<B>(request: &axum::http::Request<B>) -> Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("(no route)", MatchedPath::as_str);
    let id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!("request", method = %request.method(), route, request_id = id)
}

/// Removes a client-supplied request id that is empty, too long or not visible ASCII, so a fresh
/// one is generated instead of logging and echoing it. Synchronous (tower's `map_request`), so
/// it adds no boxed future to each request.
fn drop_unusable_request_id(mut request: Request) -> Request {
    let usable = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .map(|v| usable_request_id(v.as_bytes()));
    if usable == Some(false) {
        request.headers_mut().remove(REQUEST_ID_HEADER);
    }
    request
}

fn usable_request_id(id: &[u8]) -> bool {
    !id.is_empty() && id.len() <= MAX_REQUEST_ID_CHARS && id.iter().all(u8::is_ascii_graphic)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_visible_ascii_ids_are_kept() {
        assert!(usable_request_id(b"abc-123_X.y"));
        assert!(usable_request_id(&[b'a'; MAX_REQUEST_ID_CHARS]));
        assert!(!usable_request_id(&[b'a'; MAX_REQUEST_ID_CHARS + 1]));
        assert!(!usable_request_id(b""));
        assert!(!usable_request_id(b"has space"));
        assert!(!usable_request_id("caf\u{e9}".as_bytes()));
    }
}
