//! An HTTP target on 127.0.0.1 owned by the test: it notes the `Idempotency-Key` of every
//! request it gets, so a test can see an occurrence sent twice or never.
//!
//! Routes (any method): `/ok` answers 200 `fine`, `/fail` 500 `boom`, `/slow` 200 after 5 s,
//! `/sleep/{ms}` 200 `done` after `ms` milliseconds, `/flaky/{n}` 503 to the first `n`
//! requests with a key and 200 to the rest, `/fail-after/{ms}` 500 after `ms` milliseconds,
//! `/alternate` 500 and 200 in turn (a job that flaps). It notes `Schedlite-Attempt` too, so
//! retries can be told apart.
//!
//! It is also an alert webhook: `/hook/{n}` answers 503 to the first `n` requests with a key and
//! 200 to the rest, and keeps every request's key, JSON body and arrival time ([`Stub::hooks`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::any;

/// One request the stub got: its route (`ok`, `fail`, `slow`, `sleep`, `flaky`, `fail-after`), its key and
/// its attempt (`-` when it had none).
type Seen = Arc<Mutex<Vec<(&'static str, String, String)>>>;

/// One request to `/hook/{n}`: its `Idempotency-Key`, its body, when it arrived, and the status
/// it was answered.
#[derive(Debug, Clone)]
pub(crate) struct Hook {
    pub key: String,
    pub body: serde_json::Value,
    pub at: std::time::Instant,
    pub status: u16,
}

/// The running stub; stops serving on drop.
pub(crate) struct Stub {
    base: String,
    seen: Seen,
    hooks: Arc<Mutex<Vec<Hook>>>,
    task: tokio::task::JoinHandle<()>,
}

/// A header's value, `-` when absent or not text.
fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string()
}

/// Notes `route` and the request's `Idempotency-Key` and `Schedlite-Attempt`.
fn note(seen: &Seen, route: &'static str, headers: &HeaderMap) {
    let key = header(headers, "idempotency-key");
    let attempt = header(headers, "schedlite-attempt");
    seen.lock().expect("keys").push((route, key, attempt));
}

impl Stub {
    /// Binds a free port and serves until dropped.
    pub(crate) async fn start() -> Stub {
        let seen: Seen = Arc::default();
        // Requests to `/flaky/{n}` so far, by key. A map of its own: counting in `seen` would
        // scan every request so far on each one, which slows a long torture's stub to a crawl.
        let flaky: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let (s1, s2, s3, s4, s5, s6) = (
            seen.clone(),
            seen.clone(),
            seen.clone(),
            seen.clone(),
            seen.clone(),
            seen.clone(),
        );
        let hooks: Arc<Mutex<Vec<Hook>>> = Arc::default();
        let (h1, turns) = (
            hooks.clone(),
            Arc::new(std::sync::atomic::AtomicU64::new(0)),
        );
        let router = axum::Router::new()
            .route(
                "/hook/{n}",
                any(
                    move |Path(n): Path<usize>, headers: HeaderMap, body: String| async move {
                        let mut hooks = h1.lock().expect("hooks");
                        let key = header(&headers, "idempotency-key");
                        let before = hooks.iter().filter(|h| h.key == key).count();
                        let status = if before < n { 503 } else { 200 };
                        hooks.push(Hook {
                            key,
                            body: serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
                            at: std::time::Instant::now(),
                            status,
                        });
                        StatusCode::from_u16(status).expect("status")
                    },
                ),
            )
            .route(
                "/alternate",
                any(move || async move {
                    let turn = turns.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if turn % 2 == 0 {
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::OK
                    }
                }),
            )
            .route(
                "/ok",
                any(move |headers: HeaderMap| async move {
                    note(&s1, "ok", &headers);
                    "fine"
                }),
            )
            .route(
                "/fail",
                any(move |headers: HeaderMap| async move {
                    note(&s2, "fail", &headers);
                    (StatusCode::INTERNAL_SERVER_ERROR, "boom")
                }),
            )
            .route(
                "/slow",
                any(move |headers: HeaderMap| async move {
                    note(&s3, "slow", &headers);
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "late"
                }),
            )
            .route(
                "/sleep/{ms}",
                any(move |Path(ms): Path<u64>, headers: HeaderMap| async move {
                    note(&s4, "sleep", &headers);
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    "done"
                }),
            )
            .route(
                "/flaky/{n}",
                any(move |Path(n): Path<usize>, headers: HeaderMap| async move {
                    note(&s5, "flaky", &headers);
                    let before = {
                        let mut counts = flaky.lock().expect("flaky counts");
                        let count = counts
                            .entry(header(&headers, "idempotency-key"))
                            .or_default();
                        *count += 1;
                        *count - 1
                    };
                    if before < n {
                        (StatusCode::SERVICE_UNAVAILABLE, "not yet")
                    } else {
                        (StatusCode::OK, "fine")
                    }
                }),
            )
            .route(
                "/fail-after/{ms}",
                any(move |Path(ms): Path<u64>, headers: HeaderMap| async move {
                    note(&s6, "fail-after", &headers);
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    (StatusCode::INTERNAL_SERVER_ERROR, "boom")
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("stub binds");
        let port = listener.local_addr().expect("stub addr").port();
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.expect("stub serves");
        });
        Stub {
            base: format!("http://127.0.0.1:{port}"),
            seen,
            hooks,
            task,
        }
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The requests to `/hook/{n}` so far, in arrival order.
    pub(crate) fn hooks(&self) -> Vec<Hook> {
        self.hooks.lock().expect("hooks").clone()
    }

    /// The keys of the requests to `route`, in arrival order.
    pub(crate) fn keys(&self, route: &str) -> Vec<String> {
        let seen = self.seen.lock().expect("keys");
        seen.iter()
            .filter(|(r, _, _)| *r == route)
            .map(|(_, k, _)| k.clone())
            .collect()
    }

    /// The key and attempt of each request to `route`, in arrival order.
    pub(crate) fn attempts(&self, route: &str) -> Vec<(String, String)> {
        let seen = self.seen.lock().expect("keys");
        seen.iter()
            .filter(|(r, _, _)| *r == route)
            .map(|(_, k, a)| (k.clone(), a.clone()))
            .collect()
    }

    /// How many requests arrived with each key, over every route.
    pub(crate) fn key_counts(&self) -> HashMap<String, u32> {
        let mut counts: HashMap<String, u32> = HashMap::new();
        for (_, key, _) in self.seen.lock().expect("keys").iter() {
            *counts.entry(key.clone()).or_default() += 1;
        }
        counts
    }

    /// Keys received more than once (an occurrence sent twice), as `key xN`.
    pub(crate) fn duplicate_keys(&self) -> Vec<String> {
        let mut twice: Vec<String> = self
            .key_counts()
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(k, n)| format!("{k} x{n}"))
            .collect();
        twice.sort();
        twice
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.task.abort();
    }
}
