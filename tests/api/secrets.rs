//! Write-only header values (issue 12, item 5; DESIGN.md "Actions"): a header value is stored
//! but never shown again (responses say `"<redacted>"`), a PUT that sends the marker back keeps
//! the stored value, and `{"from_env": "NAME"}` sends the server's environment variable,
//! read when the request is made and never stored. Neither a stored value nor an environment
//! value reaches a response, the log or (for the environment) the database.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use axum::routing::any;
use serde_json::{Value, json};

use crate::helpers::child::{KEY, Server};
use crate::helpers::rows::open_pool;
use crate::helpers::wait_for;

const SECRET: &str = "Bearer s3cret-token-7f2a";
const ENV_SECRET: &str = "env-s3cret-9c41";

/// A target that keeps the `authorization` and `x-env` headers of every request.
async fn recording_target() -> (String, Arc<Mutex<Vec<(String, String)>>>) {
    let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let noted = seen.clone();
    let router = axum::Router::new().route(
        "/hook",
        any(move |headers: HeaderMap| async move {
            let get = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-")
                    .to_string()
            };
            noted
                .lock()
                .expect("seen")
                .push((get("authorization"), get("x-env")));
            "ok"
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
    (url, seen)
}

async fn call(
    server: &Server,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}/api/v1alpha1{path}", server.base()))
        .header("X-API-Key", KEY);
    if let Some(body) = body {
        request = request.json(body);
    }
    let resp = request.send().await.expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_values_are_write_only_and_from_env_is_read_at_run_time() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("secrets.db");
    let (url, seen) = recording_target().await;
    let server = Server::start_bin(
        env!("CARGO_BIN_EXE_schedlite"),
        &db,
        &[],
        &[("HOOK_TOKEN", ENV_SECRET)],
    )
    .await;
    let action = json!({"type": "http", "url": url, "headers": {
        "Authorization": SECRET, "X-Env": {"from_env": "HOOK_TOKEN"}}});
    let shown = json!({"Authorization": "<redacted>", "X-Env": {"from_env": "HOOK_TOKEN"}});
    let body =
        json!({"id": "hook", "trigger": {"type": "interval", "seconds": 3600}, "action": action});
    let (status, created) = call(&server, reqwest::Method::POST, "/jobs", Some(&body)).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        created["data"]["action"]["headers"], shown,
        "the create answer"
    );
    let (_, got) = call(&server, reqwest::Method::GET, "/jobs/hook", None).await;
    assert_eq!(got["data"]["action"]["headers"], shown, "GET");
    let (_, listed) = call(&server, reqwest::Method::GET, "/jobs", None).await;
    assert_eq!(
        listed["data"]["jobs"][0]["action"]["headers"], shown,
        "the listing"
    );

    // What a client read, sent back with a changed name: the stored value stays.
    let mut again = json!({"trigger": got["data"]["trigger"], "action": got["data"]["action"],
        "name": "renamed"});
    again["action"]["headers"]["Authorization"] = json!("<redacted>");
    let (status, put) = call(&server, reqwest::Method::PUT, "/jobs/hook", Some(&again)).await;
    assert_eq!(status, 200, "{put}");
    let pool = open_pool(&db).await;
    let stored: String = sqlx::query_scalar("SELECT action FROM jobs WHERE id = 'hook'")
        .fetch_one(&pool)
        .await
        .expect("row");
    let stored: Value = serde_json::from_str(&stored).expect("json");
    assert_eq!(
        stored["headers"],
        json!({"Authorization": SECRET, "X-Env": {"from_env": "HOOK_TOKEN"}}),
        "the stored value is kept, the environment's is never stored"
    );

    // The marker for a header the job does not have, or on a new job, is refused.
    let mut unknown = again.clone();
    unknown["action"]["headers"]["X-Other"] = json!("<redacted>");
    let (status, refused) = call(&server, reqwest::Method::PUT, "/jobs/hook", Some(&unknown)).await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["detail"]["code"], "VALIDATION_ERROR");
    assert_eq!(
        refused["detail"]["message"],
        "action.headers: \"X-Other\": \"<redacted>\" stands for a value this job already has, and it has none for this header"
    );
    let fresh = json!({"id": "new", "trigger": {"type": "interval", "seconds": 60}, "action": again["action"]});
    let (status, refused) = call(&server, reqwest::Method::POST, "/jobs", Some(&fresh)).await;
    assert_eq!(
        (status, &refused["detail"]["code"]),
        (422, &json!("VALIDATION_ERROR")),
        "{refused}"
    );
    let bad_env = json!({"id": "env", "trigger": {"type": "interval", "seconds": 60}, "action": {
        "type": "http", "url": url, "headers": {"X-Env": {"from_env": "9BAD-NAME"}}}});
    let (status, refused) = call(&server, reqwest::Method::POST, "/jobs", Some(&bad_env)).await;
    assert_eq!(status, 422, "{refused}");

    // At run time the target gets both values.
    let (status, run) = call(
        &server,
        reqwest::Method::POST,
        "/jobs/hook/run",
        Some(&json!({})),
    )
    .await;
    assert_eq!(status, 202, "{run}");
    wait_for("the hook called", Duration::from_secs(10), || async {
        (!seen.lock().expect("seen").is_empty()).then_some(())
    })
    .await;
    assert_eq!(
        seen.lock().expect("seen")[0],
        (SECRET.to_string(), ENV_SECRET.to_string())
    );
    let logs = server.logs();
    for secret in [SECRET, "s3cret-token", ENV_SECRET] {
        assert!(
            !logs.contains(secret),
            "{secret:?} must never be logged:\n{logs}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unset_variable_fails_the_run_naming_it() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("unset.db");
    let (url, seen) = recording_target().await;
    let server = Server::start(&db, &[]).await;
    let body = json!({"id": "hook", "trigger": {"type": "interval", "seconds": 3600}, "action": {
        "type": "http", "url": url, "headers": {"X-Env": {"from_env": "SCHEDLITE_TEST_UNSET_VAR"}}}});
    server.create_job(&body).await;
    let (status, _) = call(
        &server,
        reqwest::Method::POST,
        "/jobs/hook/run",
        Some(&json!({})),
    )
    .await;
    assert_eq!(status, 202);
    let pool = open_pool(&db).await;
    let (status, error) = wait_for("the run recorded", Duration::from_secs(10), || async {
        let row: Option<(String, Option<String>)> = sqlx::query_as(
            "SELECT status, error FROM job_runs WHERE job_id = 'hook' AND status <> 'running'",
        )
        .fetch_optional(&pool)
        .await
        .expect("row");
        row
    })
    .await;
    assert_eq!(status, "failed");
    assert_eq!(
        error.as_deref(),
        Some(
            "header \"X-Env\": the environment variable \"SCHEDLITE_TEST_UNSET_VAR\" is not set (or not UTF-8) on this server"
        )
    );
    assert!(seen.lock().expect("seen").is_empty(), "nothing was sent");
}
