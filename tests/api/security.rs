//! Security promises (issue 5, item 7): failed authentication is rate-limited per client,
//! oversized requests are refused before they cost memory, the default address is loopback,
//! and no key reaches the logs.

use std::net::IpAddr;

use serde_json::json;

use crate::helpers::child::{free_port, terminate_and_collect};
use crate::helpers::*;

fn client_from(ip: &str) -> reqwest::Client {
    let ip: IpAddr = ip.parse().expect("ip");
    reqwest::Client::builder()
        .local_address(ip)
        .build()
        .expect("client")
}

async fn me(
    app: &TestApp,
    client: &reqwest::Client,
    key: &str,
) -> (u16, Option<String>, serde_json::Value) {
    let resp = client
        .get(app.url("/auth/me"))
        .header("X-API-Key", key)
        .send()
        .await
        .expect("sent");
    let retry = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (status, body) = parse(resp).await;
    (status, retry, body)
}

/// After 20 wrong keys a client gets 429 with Retry-After, even for a right key; another
/// client address is not affected; requests without a key do not count.
#[tokio::test]
async fn failed_authentication_is_rate_limited_per_client() {
    let app = spawn_app().await;
    let guesser = client_from("127.0.0.1");
    for _ in 0..30 {
        let resp = guesser.get(app.url("/auth/me")).send().await.expect("sent");
        assert_eq!(resp.status().as_u16(), 401, "no key: 401, not counted");
    }
    for i in 0..20 {
        let (status, _, _) = me(&app, &guesser, &format!("sl_wrong_{i}")).await;
        assert_eq!(status, 401, "guess {i}");
    }
    let (status, retry, body) = me(&app, &guesser, "sl_wrong_again").await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["detail"]["code"], "RATE_LIMITED");
    let retry: u64 = retry.expect("Retry-After").parse().expect("seconds");
    assert!((1..=60).contains(&retry), "{retry}");
    let (status, _, _) = me(&app, &guesser, ADMIN_KEY).await;
    assert_eq!(
        status, 429,
        "a blocked client learns nothing, even with a right key"
    );
    let other = client_from("127.0.0.2");
    let (status, _, body) = me(&app, &other, ADMIN_KEY).await;
    assert_eq!(status, 200, "another address is not blocked: {body}");
}

/// A request target over 8 KiB gets 414, and too many header bytes or headers get 431, in
/// the error shape.
#[tokio::test]
async fn oversized_uris_and_headers_are_refused() {
    let app = spawn_app().await;
    let long = format!("/jobs?cursor={}", "a".repeat(9000));
    let (status, body) = app.get(&long).await;
    assert_eq!(status, 414, "{body}");
    assert_eq!(body["detail"]["code"], "URI_TOO_LONG");

    let resp = app
        .client
        .get(app.url("/jobs"))
        .header("X-API-Key", ADMIN_KEY)
        .header("X-Padding", "p".repeat(20_000))
        .send()
        .await
        .expect("sent");
    let (status, body) = parse(resp).await;
    assert_eq!(status, 431, "{body}");
    assert_eq!(body["detail"]["code"], "HEADERS_TOO_LARGE");

    let mut req = app
        .client
        .get(app.url("/jobs"))
        .header("X-API-Key", ADMIN_KEY);
    for i in 0..80 {
        req = req.header(format!("x-h-{i}"), "v");
    }
    let (status, body) = parse(req.send().await.expect("sent")).await;
    assert_eq!(status, 431, "{body}");

    let (status, body) = app
        .post("/jobs", &json!({"trigger": {"type": "interval", "seconds": 5}, "action": {"type": "noop"}, "name": "x".repeat(200_000)}))
        .await;
    assert_eq!(
        (status, body["detail"]["code"].clone()),
        (413, json!("PAYLOAD_TOO_LARGE"))
    );
}

/// The default listen address is loopback, so a fresh install is not reachable from the
/// network.
#[test]
fn the_default_listen_address_is_loopback() {
    let config = schedlite::Config::new("x.db");
    assert!(config.listen.ip().is_loopback(), "{}", config.listen);
    assert!(
        !config.allow_command_jobs,
        "command jobs are off by default"
    );
}

/// Neither a provisioned key, nor a right key used, nor a wrong key tried appears in the logs,
/// even at debug level.
#[tokio::test]
async fn keys_never_reach_the_logs() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("logs.db");
    let port = free_port();
    let admin = "sl_provisioned_admin_key_for_log_test";
    let wrong = "sl_wrong_key_that_must_not_be_logged";
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_schedlite"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("SCHEDLITE_DB", &db)
        .env("SCHEDLITE_ADMIN_KEY", admin)
        .env("RUST_LOG", "debug")
        // Files, not pipes: debug logs outgrow a pipe's 64 KiB before the test reads them,
        // and a server blocked writing its log answers nothing.
        .stdout(std::fs::File::create(dir.path().join("out.log")).expect("out.log"))
        .stderr(std::fs::File::create(dir.path().join("err.log")).expect("err.log"))
        .spawn()
        .expect("spawn");
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}/api/v1alpha1");
    wait_for("server up", std::time::Duration::from_secs(10), || async {
        client
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            .ok()
    })
    .await;
    for key in [admin, wrong] {
        client
            .get(format!("{base}/jobs"))
            .header("X-API-Key", key)
            .send()
            .await
            .expect("sent");
        client
            .get(format!("{base}/auth/me"))
            .bearer_auth(key)
            .send()
            .await
            .expect("sent");
    }
    let created = client
        .post(format!("{base}/jobs"))
        .header("X-API-Key", admin)
        .header("content-type", "application/json")
        .body(json!({"id": "j", "trigger": {"type": "interval", "seconds": 1}, "action": {"type": "noop"}}).to_string())
        .send()
        .await
        .expect("sent");
    assert_eq!(created.status().as_u16(), 201);
    let output = terminate_and_collect(child).await;
    assert!(output.status.success(), "{:?}", output.status);
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).expect("log");
    let logs = format!("{}{}", read("out.log"), read("err.log"));
    assert!(
        logs.contains("job created"),
        "debug logs were captured: {logs}"
    );
    for key in [admin, wrong] {
        assert!(!logs.contains(key), "{key} appears in the logs");
        assert!(
            !logs.contains(&key[3..]),
            "part of {key} appears in the logs"
        );
    }
}
