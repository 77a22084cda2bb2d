//! Skip (issue 14, item 4): the next N occurrences are recorded `skipped` with the reason, then
//! the job runs again; `count` 0 cancels; a negative count gets a 422 naming the field.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;

crate::both_engines!(
    the_next_occurrences_are_skipped_with_the_reason_then_it_runs_again,
    a_count_of_zero_cancels_and_bad_counts_are_refused,
);

/// How many rows of `job` were recorded skipped on request with the reason `holiday`.
async fn skipped_on_request(app: &TestApp, job: &str) -> i64 {
    app.count(&format!(
        "SELECT count(*) FROM job_runs WHERE job_id = '{job}' AND status = 'skipped' AND error = 'skipped on request: holiday'"
    ))
    .await
}

/// A 1 s job asked to skip two occurrences records two `skipped` rows with the reason, each for
/// one occurrence, then runs again; the request is used up and the change audited.
async fn the_next_occurrences_are_skipped_with_the_reason_then_it_runs_again(engine: Engine) {
    let app = spawn_app_on_with(engine, scheduler_on()).await;
    app.create_job(&interval_job("tick", 1)).await;
    wait_for("a first run", Duration::from_secs(5), || async {
        (app.run_count("tick").await >= 1).then_some(())
    })
    .await;
    let (status, body) = app
        .post("/jobs/tick/skip", &json!({"count": 2, "reason": "holiday"}))
        .await;
    assert_eq!(
        (status, &body["data"]["skip"]),
        (200, &json!({"count": 2, "reason": "holiday"})),
        "{body}"
    );
    wait_for(
        "two skipped occurrences",
        Duration::from_secs(10),
        || async { (skipped_on_request(&app, "tick").await == 2).then_some(()) },
    )
    .await;
    let after = "SELECT count(*) FROM job_runs WHERE job_id = 'tick' AND status = 'succeeded'
         AND scheduled_at > (SELECT max(scheduled_at) FROM job_runs WHERE job_id = 'tick' AND status = 'skipped')";
    wait_for(
        "a run after the skipped ones",
        Duration::from_secs(5),
        || async { (app.count(after).await >= 1).then_some(()) },
    )
    .await;
    assert_eq!(
        skipped_on_request(&app, "tick").await,
        2,
        "no more than asked"
    );
    let sql = "SELECT count(*) FROM job_runs WHERE job_id = 'tick' AND status = 'skipped' AND occurrences = 1";
    assert_eq!(app.count(sql).await, 2, "one row per occurrence");
    let (_, job) = app.get("/jobs/tick").await;
    assert_eq!(job["data"]["skip"], Value::Null, "the request is used up");
    let sql =
        "SELECT count(*) FROM jobs WHERE id = 'tick' AND skip_count = 0 AND skip_reason IS NULL";
    assert_eq!(app.count(sql).await, 1);
    let (_, audit) = app.get("/audit?job_id=tick").await;
    assert_eq!(
        (
            &audit["data"]["entries"][0]["action"],
            &audit["data"]["entries"][0]["detail"]
        ),
        (&json!("skip"), &json!({"count": 2, "reason": "holiday"}))
    );
}

/// `count` 0 cancels what is left; a negative, too large or missing count gets a 422 naming
/// `count`, and changes nothing.
async fn a_count_of_zero_cancels_and_bad_counts_are_refused(engine: Engine) {
    let app = spawn_app_on(engine).await;
    app.create_job(&interval_job("j", 3600)).await;
    let (status, body) = app.post("/jobs/j/skip", &json!({"count": 3})).await;
    assert_eq!(
        (status, &body["data"]["skip"]),
        (200, &json!({"count": 3, "reason": null}))
    );
    let (status, body) = app.post("/jobs/j/skip", &json!({"count": 0})).await;
    assert_eq!((status, &body["data"]["skip"]), (200, &Value::Null));
    let cases = [
        (
            json!({"count": -1}),
            "count: must be between 0 and 100000, got -1",
        ),
        (
            json!({"count": 100_001}),
            "count: must be between 0 and 100000, got 100001",
        ),
    ];
    for (bad, message) in cases {
        let (status, body) = app.post("/jobs/j/skip", &bad).await;
        assert_eq!(
            (status, body),
            (
                422,
                json!({"detail": {"code": "VALIDATION_ERROR", "message": message}})
            ),
            "{bad}"
        );
    }
    let (status, body) = app.post("/jobs/j/skip", &json!({"reason": "x"})).await;
    assert_eq!(status, 422, "{body}");
    let message = body["detail"]["message"].as_str().expect("message");
    assert!(message.contains("count"), "{message}");
    let sql = "SELECT count(*) FROM audit_log WHERE job_id = 'j' AND action = 'skip'";
    assert_eq!(app.count(sql).await, 2, "refusals are not audited");
    let (_, job) = app.get("/jobs/j").await;
    assert_eq!(job["data"]["skip"], Value::Null);
    let (status, body) = app.post("/jobs/nope/skip", &json!({"count": 1})).await;
    assert_eq!(
        (status, &body["detail"]["code"]),
        (404, &json!("JOB_NOT_FOUND"))
    );
}
