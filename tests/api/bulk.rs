//! `POST /jobs:bulk` (issue 15, item 3): up to 1,000 jobs created or replaced in one request and
//! one transaction, all or nothing, with every invalid job named by its place in the request;
//! the size bounds, the body limit and the role.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

crate::both_engines!(
    a_thousand_jobs_are_created_then_replaced_in_one_request,
    one_invalid_job_writes_nothing_and_each_is_named,
    bulk_requests_are_bounded_and_for_admins,
    a_bulk_replace_keeps_a_header_value_sent_back_redacted,
);

/// Every-`seconds` noop jobs `prefix-0` … `prefix-{n-1}`.
fn jobs(prefix: &str, n: usize, seconds: u64) -> Vec<Value> {
    (0..n)
        .map(|i| interval_job(&format!("{prefix}-{i}"), seconds))
        .collect()
}

async fn bulk(app: &TestApp, jobs: &[Value]) -> (u16, Value) {
    app.post("/jobs:bulk", &json!({"jobs": jobs})).await
}

/// 1,000 new jobs in one request: every one created, with its next run, audited; then 500 of
/// them replaced beside 500 new ones: the replaced keep their `created_at`.
async fn a_thousand_jobs_are_created_then_replaced_in_one_request(engine: Engine) {
    let app = spawn_app_on(engine).await;
    let (status, body) = bulk(&app, &jobs("a", 1000, 60)).await;
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    assert_eq!(
        (&data["created"], &data["replaced"]),
        (&json!(1000), &json!(0))
    );
    let items = data["jobs"].as_array().expect("items");
    assert_eq!(items.len(), 1000);
    assert_eq!(
        (&items[7]["id"], &items[7]["created"]),
        (&json!("a-7"), &json!(true))
    );
    assert!(
        items.iter().all(|i| i["next_run_time"].is_string()),
        "{}",
        items[0]
    );
    assert_eq!(app.count("SELECT count(*) FROM jobs").await, 1000);
    let creates = "SELECT count(*) FROM audit_log WHERE action = 'create'";
    assert_eq!(app.count(creates).await, 1000);
    let (_, first) = app.get("/jobs/a-0").await;
    let created_at = first["data"]["created_at"].clone();

    let mut second = jobs("a", 500, 120);
    second.extend(jobs("b", 500, 60));
    let (status, body) = bulk(&app, &second).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["data"]["created"], &body["data"]["replaced"]),
        (&json!(500), &json!(500))
    );
    assert_eq!(
        (
            &body["data"]["jobs"][0]["created"],
            &body["data"]["jobs"][500]["created"]
        ),
        (&json!(false), &json!(true))
    );
    assert_eq!(app.count("SELECT count(*) FROM jobs").await, 1500);
    let (_, replaced) = app.get("/jobs/a-0").await;
    assert_eq!(
        (
            &replaced["data"]["trigger"]["seconds"],
            &replaced["data"]["created_at"]
        ),
        (&json!(120), &created_at)
    );
    let replaces = "SELECT count(*) FROM audit_log WHERE action = 'replace'";
    assert_eq!(app.count(replaces).await, 500);
    // Each job's revisions: one per create, a second for each replace.
    let revisions = "SELECT count(*) FROM job_revisions WHERE revision = 1 AND change = 'create'";
    assert_eq!(app.count(revisions).await, 1500);
    let second = "SELECT count(*) FROM job_revisions WHERE revision = 2 AND change = 'replace'
                  AND job_id LIKE 'a-%'";
    assert_eq!(app.count(second).await, 500);
    assert_eq!(app.count("SELECT count(*) FROM job_revisions").await, 2000);
}

/// A job's GET shows its header values redacted; sent back so in a bulk replace they keep the
/// stored value (as a PUT does), while a new value replaces it.
async fn a_bulk_replace_keeps_a_header_value_sent_back_redacted(engine: Engine) {
    let app = spawn_app_on(engine).await;
    let mut job = interval_job("hook", 60);
    job["action"] = json!({"type": "http", "url": "http://127.0.0.1:9/hook",
                           "headers": {"X-Token": "s3cret-bulk"}});
    let (status, body) = bulk(&app, &[job]).await;
    assert_eq!(status, 200, "{body}");
    let (_, shown) = app.get("/jobs/hook").await;
    let mut again = shown["data"].clone();
    assert_eq!(again["action"]["headers"]["X-Token"], json!("<redacted>"));
    let mut back = json!({"id": "hook", "name": "renamed", "trigger": again["trigger"].take(),
                          "action": again["action"].take()});
    let (status, body) = bulk(&app, std::slice::from_ref(&back)).await;
    assert_eq!(status, 200, "{body}");
    let text = match engine {
        Engine::Sqlite => "action",
        Engine::Postgres => "action::text",
    };
    let kept =
        format!("SELECT count(*) FROM jobs WHERE name = 'renamed' AND {text} LIKE '%s3cret-bulk%'");
    assert_eq!(app.count(&kept).await, 1);
    back["action"]["headers"]["X-Token"] = json!("new-s3cret");
    let (status, body) = bulk(&app, &[back]).await;
    assert_eq!(status, 200, "{body}");
    let replaced = format!("SELECT count(*) FROM jobs WHERE {text} LIKE '%new-s3cret%'");
    assert_eq!(app.count(&replaced).await, 1);
}

/// Among valid jobs, one with a bad trigger, one without an id, one not JSON object and an id
/// given twice: 422 naming each by index, and nothing at all is written, not even the valid
/// ones.
async fn one_invalid_job_writes_nothing_and_each_is_named(engine: Engine) {
    let app = spawn_app_on(engine).await;
    let mut list = jobs("ok", 3, 60);
    list.push(
        json!({"id": "bad", "trigger": {"type": "interval", "seconds": 0},
                     "action": {"type": "noop"}}),
    );
    list.push(json!({"trigger": {"type": "interval", "seconds": 5}, "action": {"type": "noop"}}));
    list.push(json!(7));
    list.push(interval_job("ok-1", 30));
    let (status, body) = bulk(&app, &list).await;
    let errors = body["detail"]["errors"].clone();
    assert_eq!(
        (status, &body["detail"]["code"], &body["detail"]["message"]),
        (
            422,
            &json!("VALIDATION_ERROR"),
            &json!("4 of 7 jobs are invalid; nothing was changed")
        ),
        "{body}"
    );
    let found: Vec<(Value, Value, Value)> = errors
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| (e["index"].clone(), e["id"].clone(), e["code"].clone()))
        .collect();
    assert_eq!(
        found,
        [
            (json!(3), json!("bad"), json!("INVALID_TRIGGER")),
            (json!(4), Value::Null, json!("VALIDATION_ERROR")),
            (json!(5), Value::Null, json!("VALIDATION_ERROR")),
            (json!(6), json!("ok-1"), json!("VALIDATION_ERROR")),
        ]
    );
    assert_eq!(errors[1]["message"], "id: is required in a bulk request");
    assert_eq!(errors[3]["message"], "id: `ok-1` appears more than once");
    assert!(
        errors[2]["message"]
            .as_str()
            .expect("text")
            .starts_with("body: "),
        "{}",
        errors[2]
    );
    for table in ["jobs", "audit_log"] {
        let sql = format!("SELECT count(*) FROM {table}");
        assert_eq!(app.count(&sql).await, 0, "{table}: all or nothing");
    }
}

/// No jobs, or more than 1,000, are refused naming `jobs`; a body over 8 MiB gets 413; a bulk
/// request with a command job on a server without them is refused; a viewer may not.
async fn bulk_requests_are_bounded_and_for_admins(engine: Engine) {
    let app = spawn_app_on(engine).await;
    for (n, got) in [(0, "got 0"), (1001, "got 1001")] {
        let (status, body) = bulk(&app, &jobs("x", n, 60)).await;
        assert_eq!(
            (status, &body["detail"]["message"]),
            (
                422,
                &json!(format!("jobs: must hold 1 to 1000 jobs, {got}"))
            ),
        );
    }
    let mut fat = interval_job("fat", 60);
    fat["name"] = json!("x".repeat(200));
    let huge: Vec<Value> = (0..30_000).map(|_| fat.clone()).collect();
    let (status, body) = bulk(&app, &huge).await;
    assert_eq!(
        (status, &body["detail"]),
        (
            413,
            &json!({"code": "PAYLOAD_TOO_LARGE",
                    "message": "request body is larger than 8388608 bytes"})
        ),
    );
    let command = json!({"id": "cmd", "trigger": {"type": "interval", "seconds": 60},
                         "action": {"type": "command", "program": "true"}});
    let (status, body) = bulk(&app, &[command]).await;
    assert_eq!(
        (status, &body["detail"]["errors"][0]["code"]),
        (422, &json!("COMMAND_JOBS_DISABLED")),
        "{body}"
    );
    let viewer = app.create_key("looker", "viewer");
    let (status, _) = app
        .call(
            Method::POST,
            "/jobs:bulk",
            Some(viewer.as_str()),
            Some(&json!({"jobs": jobs("v", 1, 60)})),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(app.count("SELECT count(*) FROM jobs").await, 0);
}
