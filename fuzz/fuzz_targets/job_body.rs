//! Fuzzes the job request-body parser through the public router (`schedlite::api::router`),
//! in process: any bytes sent as a JSON body to `POST /jobs` or `PUT /jobs/{id}` get a 2xx or
//! a 4xx in the DESIGN.md error shape `{"detail":{"code","message"}}`, never a 5xx or a panic.
//! (The body types are private to the API, so the router is the narrowest public surface
//! that reaches them.)
//!
//! Run: `cargo +nightly fuzz run job_body` in `fuzz/` (see README.md).

#![no_main]

use std::sync::{Arc, LazyLock};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request};
use libfuzzer_sys::fuzz_target;
use schedlite::api::limits::AuthFailures;
use schedlite::api::{AppState, ERROR_CODES, router};
use schedlite::model::Role;
use schedlite::scheduler::SchedulerHandle;
use schedlite::{Config, apikey};
use serde_json::Value;
use tower::ServiceExt;

const KEY: &str = "fuzz-admin-key-0123456789";

/// One runtime, one database in a temp dir and one router for the whole fuzzing session.
struct Harness {
    runtime: tokio::runtime::Runtime,
    router: Router,
    _dir: tempfile::TempDir,
}

static HARNESS: LazyLock<Harness> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("BUG: runtime");
    let dir = tempfile::tempdir().expect("BUG: temp dir");
    let mut config = Config::new(dir.path().join("fuzz.db"));
    config.run_scheduler = false;
    let router = runtime.block_on(async {
        let store = schedlite::startup::open_and_migrate(&config)
            .await
            .expect("BUG: database");
        store
            .provision_key("fuzz", Role::Admin, &apikey::hash(KEY), chrono::Utc::now())
            .await
            .expect("BUG: key");
        router(AppState {
            store,
            config: Arc::new(config),
            scheduler: SchedulerHandle::new(),
            started: Instant::now(),
            auth_failures: Arc::new(AuthFailures::new(
                1_000_000,
                std::time::Duration::from_secs(60),
            )),
            key_cache: Arc::default(),
        })
    });
    Harness {
        runtime,
        router,
        _dir: dir,
    }
});

fn request(method: Method, path: &str, body: Vec<u8>) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(format!("/api/v1alpha1{path}"))
        .header("x-api-key", KEY)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .expect("BUG: request")
}

fuzz_target!(|data: &[u8]| {
    let harness = &*HARNESS;
    // The first byte picks the endpoint; the whole input is the body.
    let (method, path) = match data.first() {
        Some(b) if b % 2 == 1 => (Method::PUT, "/jobs/fuzz-put"),
        _ => (Method::POST, "/jobs"),
    };
    harness.runtime.block_on(async {
        let response = harness
            .router
            .clone()
            .oneshot(request(method.clone(), path, data.to_vec()))
            .await
            .expect("BUG: the router is infallible");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("BUG: body");
        assert!(
            !status.is_server_error(),
            "{method} {path} answered {status}: {}",
            String::from_utf8_lossy(&bytes)
        );
        let json: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{status}: not JSON ({e}): {bytes:?}"));
        if status.is_success() {
            // Keep the file small: remove what was created.
            let id = json["data"]["id"]
                .as_str()
                .expect("a created job has an id");
            let deleted = harness
                .router
                .clone()
                .oneshot(request(Method::DELETE, &format!("/jobs/{id}"), Vec::new()))
                .await
                .expect("BUG: the router is infallible");
            assert!(
                deleted.status().is_success(),
                "delete {id}: {}",
                deleted.status()
            );
        } else {
            let detail = &json["detail"];
            let code = detail["code"].as_str().unwrap_or_default();
            assert!(
                ERROR_CODES.contains(&code),
                "{status}: undocumented code in {json}"
            );
            assert!(
                detail["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{status}: no message in {json}"
            );
            assert_eq!(json.as_object().map(|o| o.len()), Some(1), "{json}");
            assert_eq!(detail.as_object().map(|o| o.len()), Some(2), "{json}");
        }
    });
});
