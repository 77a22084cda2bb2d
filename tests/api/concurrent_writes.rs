//! Concurrent single writes (issue 15, item 2: on SQLite they share transactions, group
//! commit): however requests are grouped, each gets its own answer, a create of a taken id is
//! refused alone, writes of one id apply one after the other, and each write's rows carry its
//! own instant and key.

use reqwest::Method;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::helpers::*;

crate::both_engines!(concurrent_creates_and_replaces_each_get_their_own_answer,);

/// 40 requests at once: 20 creates of distinct ids, 10 creates of one id and 10 PUTs of
/// another. Exactly one create of the shared id is 201 and nine are 409; one PUT creates (201)
/// and nine replace (200), leaving ten revisions in order and the job as the last of them;
/// every audit row is at its own job's `created_at` or `updated_at`, by the admin key.
async fn concurrent_creates_and_replaces_each_get_their_own_answer(engine: Engine) {
    let app = spawn_app_on(engine).await;
    let mut requests = JoinSet::new();
    let mut send = |method: Method, path: String, body: Value| {
        let req = app
            .client
            .request(method, app.url(&path))
            .header("X-API-Key", ADMIN_KEY)
            .json(&body);
        requests.spawn(async move { parse(req.send().await.expect("sent")).await });
    };
    for i in 0..20 {
        send(
            Method::POST,
            "/jobs".into(),
            interval_job(&format!("c-{i}"), 60),
        );
    }
    for _ in 0..10 {
        send(Method::POST, "/jobs".into(), interval_job("dup", 60));
    }
    for i in 0..10 {
        let mut job = interval_job("put", 60);
        job["name"] = json!(format!("n-{i}"));
        send(Method::PUT, "/jobs/put".into(), job);
    }
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    while let Some(answer) = requests.join_next().await {
        let (status, body) = answer.expect("request task");
        if status == 409 {
            assert_eq!(
                body["detail"],
                json!({"code": "JOB_ALREADY_EXISTS", "message": "Job 'dup' already exists"}),
                "{body}"
            );
        }
        *statuses.entry(status).or_default() += 1;
    }
    assert_eq!(
        statuses,
        [(200, 9), (201, 22), (409, 9)].into_iter().collect()
    );
    assert_eq!(app.count("SELECT count(*) FROM jobs").await, 22);
    let creates = "SELECT count(*) FROM audit_log WHERE action = 'create'";
    assert_eq!(app.count(creates).await, 22);
    let replaces = "SELECT count(*) FROM audit_log WHERE action = 'replace' AND job_id = 'put'";
    assert_eq!(app.count(replaces).await, 9);
    let dup = "SELECT count(*) FROM job_revisions WHERE job_id = 'dup'";
    assert_eq!(app.count(dup).await, 1);
    // The PUTs' revisions are 1 … 10, the first a create, and the job is the last one.
    let (status, page) = app.get("/jobs/put/revisions?limit=100").await;
    assert_eq!(status, 200, "{page}");
    let revisions = page["data"]["revisions"].as_array().expect("revisions");
    let numbers: Vec<i64> = revisions
        .iter()
        .map(|r| r["revision"].as_i64().expect("number"))
        .collect();
    assert_eq!(numbers, (1..=10).rev().collect::<Vec<i64>>());
    assert_eq!(revisions[9]["change"], json!("create"), "{}", revisions[9]);
    let (_, put) = app.get("/jobs/put").await;
    assert_eq!(put["data"]["name"], revisions[0]["definition"]["name"]);
    // Each write's own instant: a created job's row and its audit row agree.
    let apart = "SELECT count(*) FROM jobs AS j JOIN audit_log AS a ON a.job_id = j.id
                 WHERE a.action = 'create' AND a.at <> j.created_at";
    assert_eq!(app.count(apart).await, 0);
    let by_others = "SELECT count(*) FROM audit_log
                     WHERE action IN ('create', 'replace') AND key_name <> 'env-admin'";
    assert_eq!(app.count(by_others).await, 0);
}
