//! Revisions (issue 16, item 1): every create and replace keeps the definition it set, who set
//! it and when, listed newest first and paged; two revisions diff field by field; a restore
//! puts an old definition back (secret header values included, never shown) and is itself a
//! new revision and an audit row; they survive a restart and are pruned with the audit trail,
//! never a job's newest. Bad revision numbers and roles get exact errors.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::cli::{schedlite, stdout};
use crate::helpers::*;

crate::both_engines!(
    each_change_is_kept_diffed_and_restored_as_a_new_revision,
    revisions_are_pruned_with_the_audit_trail_but_never_the_newest,
    bad_revision_requests_are_refused_exactly,
);

/// The job `r` every `seconds` with a fixed anchor (so only what a test changes differs),
/// calling a URL with a secret header.
fn job(seconds: u64, token: &str) -> Value {
    json!({"trigger": {"type": "interval", "seconds": seconds,
                       "start_at": "2026-01-01T00:00:00Z"},
           "action": {"type": "http", "url": "http://127.0.0.1:9/hook",
                      "headers": {"X-Token": token}}})
}

/// The revisions of `r`, newest first: (revision, change, changed_by, restored_from).
async fn listed(app: &TestApp) -> Vec<(u64, String, String, Value)> {
    let (status, body) = app.get("/jobs/r/revisions").await;
    assert_eq!(status, 200, "{body}");
    body["data"]["revisions"]
        .as_array()
        .expect("revisions")
        .iter()
        .map(|r| {
            (
                r["revision"].as_u64().expect("revision"),
                r["change"].as_str().expect("change").to_string(),
                r["changed_by"].as_str().expect("by").to_string(),
                r["restored_from"].clone(),
            )
        })
        .collect()
}

/// Three changes by two keys are three revisions; the diff names exactly the changed fields
/// (a header's values redacted); restoring the first sets it back, secret included, as a
/// fourth revision audited as a replace; all of it survives a restart.
async fn each_change_is_kept_diffed_and_restored_as_a_new_revision(engine: Engine) {
    let app = spawn_app_on(engine).await;
    let ops = app.create_key("ops", "admin");
    let (status, _) = app.put("/jobs/r", &job(60, "secret-1")).await;
    assert_eq!(status, 201);
    let mut second = job(120, "secret-1");
    second["name"] = json!("two");
    let (status, _) = app.put("/jobs/r", &second).await;
    assert_eq!(status, 200);
    let (status, body) = app
        .call(
            Method::PUT,
            "/jobs/r",
            Some(&ops),
            Some(&job(120, "secret-2")),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        listed(&app).await,
        [
            (3, "replace".into(), "ops".into(), Value::Null),
            (2, "replace".into(), "env-admin".into(), Value::Null),
            (1, "create".into(), "env-admin".into(), Value::Null),
        ]
    );
    let (_, page) = app.get("/jobs/r/revisions?limit=2").await;
    let (first, next) = (&page["data"]["revisions"], &page["data"]["next_cursor"]);
    assert_eq!(first.as_array().map(Vec::len), Some(2));
    assert_eq!(
        first[0]["definition"]["action"]["headers"],
        json!({"X-Token": "<redacted>"}),
        "secrets are never shown"
    );
    let (_, rest) = app
        .get(&format!(
            "/jobs/r/revisions?limit=2&cursor={}",
            next.as_str().expect("cursor")
        ))
        .await;
    assert_eq!(rest["data"]["revisions"][0]["revision"], 1);
    assert_eq!(rest["data"]["next_cursor"], Value::Null);

    let (status, diff) = app.get("/jobs/r/revisions/1/diff/2").await;
    assert_eq!(status, 200, "{diff}");
    assert_eq!(
        diff["data"],
        json!({"from": 1, "to": 2, "changes": [
            {"field": "name", "from": null, "to": "two"},
            {"field": "trigger.seconds", "from": 60, "to": 120}]})
    );
    let (_, diff) = app.get("/jobs/r/revisions/2/diff/3").await;
    assert_eq!(
        diff["data"]["changes"],
        json!([{"field": "action.headers.X-Token", "from": "<redacted>", "to": "<redacted>"},
               {"field": "name", "from": "two", "to": null}])
    );

    let (status, restored) = app.post("/jobs/r/revisions/1/restore", &json!({})).await;
    assert_eq!(status, 200, "{restored}");
    assert_eq!(
        (
            &restored["data"]["trigger"]["seconds"],
            &restored["data"]["name"]
        ),
        (&json!(60), &Value::Null)
    );
    let secret = "SELECT count(*) FROM jobs WHERE CAST(action AS TEXT) LIKE '%secret-1%'";
    assert_eq!(
        app.count(secret).await,
        1,
        "the secret of revision 1 is back"
    );
    let (_, audit) = app.get("/audit?job_id=r&limit=1").await;
    assert_eq!(
        (
            &audit["data"]["entries"][0]["action"],
            &audit["data"]["entries"][0]["detail"]
        ),
        (&json!("replace"), &json!({"restored_from": 1}))
    );
    let app = app.restart(AppOptions::default()).await;
    assert_eq!(
        listed(&app).await[0],
        (4, "restore".into(), "env-admin".into(), json!(1)),
        "kept across a restart"
    );
    let (_, diff) = app.get("/jobs/r/revisions/1/diff/4").await;
    assert_eq!(
        diff["data"]["changes"],
        json!([]),
        "the restore is revision 1 again"
    );
}

/// Revisions older than `--keep-audit-days` go with the audit trail, except each job's newest,
/// its current definition; a dry run counts exactly what the real run deletes.
async fn revisions_are_pruned_with_the_audit_trail_but_never_the_newest(engine: Engine) {
    let mut app = spawn_app_on(engine).await;
    for seconds in [60, 120, 180] {
        app.put("/jobs/r", &job(seconds, "s")).await;
    }
    app.put("/jobs/other", &job(60, "s")).await;
    let aged = app
        .pool
        .execute("UPDATE job_revisions SET changed_at = '2020-01-01T00:00:00.000Z'")
        .await;
    assert_eq!(aged, 4);
    app.stop().await;
    let db = app.db_path.clone();
    let dry = schedlite(&["prune", "--dry-run"], &db);
    assert_eq!(
        stdout(&dry),
        "would delete 0 run rows, 0 audit rows and 2 revisions\n"
    );
    let real = schedlite(&["prune"], &db);
    assert_eq!(
        stdout(&real),
        "deleted 0 run rows, 0 audit rows and 2 revisions\n"
    );
    let app = start_on(db, AppOptions::default()).await;
    assert_eq!(
        listed(&app).await,
        [(3, "replace".into(), "env-admin".into(), Value::Null)]
    );
    let (status, body) = app.get("/jobs/r/revisions/1/diff/3").await;
    assert_eq!(
        (status, &body["detail"]["code"]),
        (404, &json!("REVISION_NOT_FOUND"))
    );
    assert_eq!(
        app.count("SELECT count(*) FROM job_revisions WHERE job_id = 'other'")
            .await,
        1
    );
}

/// A revision that is not a number is a 422 naming `revision`; one never made a 404; an
/// unknown job a 404; a viewer reads but may not restore; a restore that fails changes nothing.
async fn bad_revision_requests_are_refused_exactly(engine: Engine) {
    let app = spawn_app_on(engine).await;
    app.put("/jobs/r", &job(60, "s")).await;
    let cases = [
        (
            "/jobs/r/revisions/x/diff/1",
            422,
            json!({"code": "VALIDATION_ERROR",
                   "message": "revision: must be a revision number (1 or more), got `x`"}),
        ),
        (
            "/jobs/r/revisions/1/diff/0",
            422,
            json!({"code": "VALIDATION_ERROR",
                   "message": "revision: must be a revision number (1 or more), got `0`"}),
        ),
        (
            "/jobs/r/revisions/1/diff/7",
            404,
            json!({"code": "REVISION_NOT_FOUND", "message": "Job 'r' has no revision 7"}),
        ),
        (
            "/jobs/nope/revisions",
            404,
            json!({"code": "JOB_NOT_FOUND", "message": "Job 'nope' not found"}),
        ),
        (
            "/jobs/r/revisions?limit=0",
            422,
            json!({"code": "VALIDATION_ERROR",
                   "message": "limit: must be between 1 and 1000, got 0"}),
        ),
    ];
    for (path, status, detail) in cases {
        let (got, body) = app.get(path).await;
        assert_eq!((got, &body["detail"]), (status, &detail), "{path}");
    }
    let (status, body) = app.post("/jobs/r/revisions/7/restore", &json!({})).await;
    assert_eq!(
        (status, &body["detail"]["code"]),
        (404, &json!("REVISION_NOT_FOUND"))
    );
    let viewer = app.create_key("looker", "viewer");
    let (status, _) = app
        .call(Method::GET, "/jobs/r/revisions", Some(&viewer), None)
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .call(
            Method::POST,
            "/jobs/r/revisions/1/restore",
            Some(&viewer),
            None,
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        app.count("SELECT count(*) FROM job_revisions").await,
        1,
        "nothing refused made a revision"
    );
}
