//! Job health (issue 14, item 1): each health reached with real time and short windows, shown
//! in GET and the list, filtered on, counted in the metrics, kept across a restart; a
//! hand-edited row shows `broken`, is never fired nor deleted, a valid PUT repairs it, and
//! pause, resume, run and skip refuse it with a 409 that writes nothing; and bad `expect` bodies get a 422 naming the field.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::clock::from_now;
use crate::helpers::*;

crate::both_engines!(
    a_failing_job_is_late_then_failing_and_its_counters_survive_a_restart,
    a_long_run_is_stuck_a_paused_job_paused_a_done_job_finished,
    a_hand_edited_row_is_broken_never_fired_and_repaired_by_put,
    a_broken_job_is_not_paused_resumed_run_skipped_or_previewed_but_can_be_deleted,
    expect_is_checked_and_the_health_filter_too,
);

/// The job `id` as `GET /jobs/{id}` answers it.
async fn job(app: &TestApp, id: &str) -> Value {
    let (status, body) = app.get(&format!("/jobs/{id}")).await;
    assert_eq!(status, 200, "{body}");
    body["data"].clone()
}

/// Waits until the job `id` has the health `wanted`, and returns it.
async fn wait_for_health(app: &TestApp, id: &str, wanted: &str, within: Duration) -> Value {
    wait_for(&format!("{id} to be {wanted}"), within, || async {
        let job = job(app, id).await;
        (job["health"] == wanted).then_some(job)
    })
    .await
}

/// The ids `GET /jobs?health=…` lists (one page of at most 1000: these tests hold a few jobs).
async fn ids_with_health(app: &TestApp, health: &str) -> Vec<String> {
    let (status, body) = app.get(&format!("/jobs?health={health}&limit=1000")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["next_cursor"], Value::Null, "{body}");
    let mut ids: Vec<String> = body["data"]["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .map(|j| j["id"].as_str().expect("id").to_string())
        .collect();
    ids.sort();
    ids
}

/// The value of `schedlite_jobs_by_health{health="…"}` in `GET /metrics`.
async fn health_gauge(app: &TestApp, health: &str) -> i64 {
    let resp = app
        .client
        .get(app.url("/metrics"))
        .header("X-API-Key", ADMIN_KEY)
        .send()
        .await
        .expect("metrics");
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.expect("text");
    let line = format!("schedlite_jobs_by_health{{health=\"{health}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&line))
        .unwrap_or_else(|| panic!("no {line:?} in {text}"))
        .parse()
        .expect("a number")
}

/// A 1 s job whose HTTP action always fails, expected to succeed within 1 s and to fail at
/// most 3 times in a row: `late` once 1 s passed without a success, `failing` at the third
/// failure; the counters and the health survive a restart; a PUT to a succeeding action
/// brings it back to `ok` with the counters reset by its first success.
async fn a_failing_job_is_late_then_failing_and_its_counters_survive_a_restart(engine: Engine) {
    let app = spawn_app_on_with(engine, scheduler_on()).await;
    let failing = json!({"id": "f", "trigger": {"type": "interval", "seconds": 1},
        "action": {"type": "http", "method": "GET", "url": "http://127.0.0.1:9/", "timeout_seconds": 1},
        "expect": {"success_within_seconds": 1, "max_consecutive_failures": 3}});
    let created = app.create_job(&failing).await;
    assert_eq!(
        (
            &created["health"],
            &created["expect"],
            &created["consecutive_failures"],
            &created["last_success_at"]
        ),
        (
            &json!("ok"),
            &json!({"success_within_seconds": 1, "max_consecutive_failures": 3, "max_run_seconds": null, "alert_webhook": null}),
            &json!(0),
            &Value::Null
        )
    );
    app.create_job(&interval_job("calm", 3600)).await;
    let late = wait_for_health(&app, "f", "late", Duration::from_secs(10)).await;
    let failures = late["consecutive_failures"].as_u64().expect("count");
    assert!(failures < 3, "late before failing: {late}");
    assert_eq!(ids_with_health(&app, "late").await, ["f"]);
    assert_eq!(ids_with_health(&app, "ok").await, ["calm"]);
    let failing_now = wait_for_health(&app, "f", "failing", Duration::from_secs(10)).await;
    assert!(failing_now["consecutive_failures"].as_u64().expect("count") >= 3);
    assert_eq!(ids_with_health(&app, "failing").await, ["f"]);
    assert_eq!(health_gauge(&app, "failing").await, 1);
    assert_eq!(health_gauge(&app, "ok").await, 1);
    let stored = "SELECT consecutive_failures FROM jobs WHERE id = 'f'";
    let counted =
        "SELECT count(*) FROM job_runs WHERE job_id = 'f' AND status IN ('failed', 'timed_out')";
    // No outcome may land between the two reads: stop the loop first (a restart without it).
    let app = app.restart(AppOptions::default()).await;
    assert_eq!(
        app.count(stored).await,
        app.count(counted).await,
        "the counter is the failures since the last (no) success"
    );
    let after = job(&app, "f").await;
    assert_eq!(
        (&after["health"], &after["consecutive_failures"]),
        (&json!("failing"), &json!(app.count(counted).await)),
        "kept across the restart"
    );

    let app = app.restart(scheduler_on()).await;
    let mut fixed = failing.clone();
    fixed["action"] = json!({"type": "noop"});
    let (status, body) = app.put("/jobs/f", &fixed).await;
    assert_eq!(status, 200, "{body}");
    let ok = wait_for("f to succeed", Duration::from_secs(10), || async {
        let job = job(&app, "f").await;
        (job["last_success_at"] != Value::Null).then_some(job)
    })
    .await;
    assert_eq!(
        (&ok["health"], &ok["consecutive_failures"]),
        (&json!("ok"), &json!(0))
    );
}

/// A command running 5 s with `max_run_seconds` 1 is `stuck` after a second (and keeps running:
/// alerted, not killed), which outranks its date trigger being done; a paused job is `paused`;
/// a date job that ran is `finished`.
async fn a_long_run_is_stuck_a_paused_job_paused_a_done_job_finished(engine: Engine) {
    let app = spawn_app_on_with(engine, scheduler_with_commands()).await;
    let soon = from_now(chrono::Duration::milliseconds(300));
    app.create_job(
        &json!({"id": "slow", "trigger": {"type": "date", "run_at": soon},
        "action": {"type": "command", "program": "sleep", "args": ["5"], "timeout_seconds": 30},
        "expect": {"max_run_seconds": 1}}),
    )
    .await;
    app.create_job(
        &json!({"id": "once", "trigger": {"type": "date", "run_at": soon},
        "action": {"type": "noop"}}),
    )
    .await;
    app.create_job(&interval_job("held", 3600)).await;
    let (status, _) = app.post("/jobs/held/pause", &json!({})).await;
    assert_eq!(status, 200);

    let stuck = wait_for_health(&app, "slow", "stuck", Duration::from_secs(10)).await;
    assert_eq!(
        stuck["last_run"]["status"], "running",
        "not killed: {stuck}"
    );
    assert_eq!(
        wait_for_health(&app, "once", "finished", Duration::from_secs(10)).await["last_run"]["status"],
        "succeeded"
    );
    assert_eq!(job(&app, "held").await["health"], "paused");
    assert_eq!(ids_with_health(&app, "stuck").await, ["slow"]);
    assert_eq!(ids_with_health(&app, "paused").await, ["held"]);
    assert_eq!(ids_with_health(&app, "finished").await, ["once"]);
    for (health, n) in [("stuck", 1), ("paused", 1), ("finished", 1), ("ok", 0)] {
        assert_eq!(health_gauge(&app, health).await, n, "{health}");
    }
    let running = "SELECT count(*) FROM job_runs WHERE job_id = 'slow' AND status = 'running'";
    assert_eq!(app.count(running).await, 1, "still running");
}

/// A cron job whose stored timezone is hand-edited to one that does not exist, and made due:
/// GET and the list show it `broken` with the problem, beside the readable jobs; the loop
/// never fires it (it pauses it) and never deletes it; a valid PUT repairs it, and it fires.
async fn a_hand_edited_row_is_broken_never_fired_and_repaired_by_put(engine: Engine) {
    let app = spawn_app_on_with(engine, scheduler_on()).await;
    let body = json!({"id": "b", "trigger": {"type": "cron", "expr": "* * * * * *"},
        "action": {"type": "noop"}});
    // Created paused: an every-second job created active could fire before a pause lands.
    let mut paused = body.clone();
    paused["paused"] = json!(true);
    app.create_job(&paused).await;
    app.create_job(&interval_job("fine", 3600)).await;
    let edited = app
        .pool
        .execute(
            "UPDATE jobs SET timezone = 'Mars/Olympus', paused = false,
                next_run_at = '2020-01-01T00:00:00.000Z' WHERE id = 'b'",
        )
        .await;
    assert_eq!(edited, 1);

    let broken = json!({"id": "b", "health": "broken",
        "problem": "unknown timezone `Mars/Olympus`: expected an IANA name such as `Europe/Berlin` or `UTC`"});
    assert_eq!(job(&app, "b").await, broken);
    let (status, list) = app.get("/jobs?order=id").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["data"]["jobs"][0], broken);
    assert_eq!(list["data"]["jobs"][1]["id"], "fine");
    assert_eq!(ids_with_health(&app, "broken").await, ["b"]);
    wait_for(
        "the loop to set b aside",
        Duration::from_secs(10),
        || async {
            let sql = "SELECT count(*) FROM jobs WHERE id = 'b' AND next_run_at IS NULL";
            (app.count(sql).await == 1).then_some(())
        },
    )
    .await;
    assert_eq!(app.run_count("b").await, 0, "never fired");
    assert_eq!(job(&app, "b").await, broken, "never deleted, still broken");

    let (status, repaired) = app.put("/jobs/b", &body).await;
    assert_eq!(status, 200, "{repaired}");
    assert_eq!(
        (&repaired["data"]["health"], &repaired["data"]["paused"]),
        (&json!("ok"), &json!(false))
    );
    wait_for(
        "the repaired job to fire",
        Duration::from_secs(10),
        || async { (app.succeeded_count("b").await >= 1).then_some(()) },
    )
    .await;
}

/// A job whose stored timezone is hand-edited to one that does not exist: pause (with a body),
/// resume, run and skip each answer 409 `JOB_BROKEN` naming the job, its problem (as GET shows
/// it) and the PUT that repairs it, and write nothing: the row is as it was, with no run and no
/// new audit row. Its preview is refused the same way; its run history still reads. DELETE
/// still removes it.
async fn a_broken_job_is_not_paused_resumed_run_skipped_or_previewed_but_can_be_deleted(
    engine: Engine,
) {
    let app = spawn_app_on(engine).await;
    app.create_job(&cron_job("b", "0 3 * * *", "UTC")).await;
    let edited = app
        .pool
        .execute("UPDATE jobs SET timezone = 'Mars/Olympus' WHERE id = 'b'")
        .await;
    assert_eq!(edited, 1);
    app.pool
        .execute("CREATE TABLE jobs_before AS SELECT * FROM jobs")
        .await;
    let audited = app.count("SELECT count(*) FROM audit_log").await;

    let refused = json!({"detail": {"code": "JOB_BROKEN", "message": "Job 'b' is broken (unknown \
        timezone `Mars/Olympus`: expected an IANA name such as `Europe/Berlin` or `UTC`): a valid \
        PUT /jobs/b repairs it"}});
    for (path, body) in [
        ("/jobs/b/pause", json!({"reason": "maintenance"})),
        ("/jobs/b/resume", json!({})),
        ("/jobs/b/run", json!({})),
        ("/jobs/b/skip", json!({"count": 2, "reason": "holiday"})),
    ] {
        let (status, answer) = app.post(path, &body).await;
        assert_eq!((status, &answer), (409, &refused), "POST {path}");
    }
    let changed = "SELECT count(*) FROM
        (SELECT * FROM jobs EXCEPT SELECT * FROM jobs_before) AS changed";
    assert_eq!(app.count(changed).await, 0, "the row is unchanged");
    assert_eq!(app.count("SELECT count(*) FROM jobs").await, 1);
    assert_eq!(app.run_count("b").await, 0, "never run");
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log").await,
        audited,
        "nothing audited"
    );

    // Its fire times cannot be told without its definition; its history is still its own.
    let (status, preview) = app.get("/jobs/b/preview").await;
    assert_eq!((status, &preview), (409, &refused), "GET preview");
    let (status, runs) = app.get("/jobs/b/runs").await;
    assert_eq!(
        (status, &runs),
        (
            200,
            &json!({"status": "ok", "data": {"runs": [], "next_cursor": null}})
        ),
        "GET runs"
    );

    let (status, deleted) = app.delete("/jobs/b").await;
    assert_eq!(
        (status, &deleted),
        (
            200,
            &json!({"status": "ok", "data": {"message": "Job 'b' deleted"}})
        )
    );
    app.assert_job_gone("b").await;
}

/// `expect` takes positive integers within bounds and no other field, refused with a 422 naming
/// `expect.<field>`; an empty `expect` stores nothing; the health filter takes only a known
/// health.
async fn expect_is_checked_and_the_health_filter_too(engine: Engine) {
    let app = spawn_app_on(engine).await;
    let cases = [
        (
            json!({"max_run_seconds": 0}),
            "expect.max_run_seconds: must be between 1 and 31622400, got 0",
        ),
        (
            json!({"success_within_seconds": 31_622_401}),
            "expect.success_within_seconds: must be between 1 and 31622400, got 31622401",
        ),
        (
            json!({"max_consecutive_failures": 1001}),
            "expect.max_consecutive_failures: must be between 1 and 1000, got 1001",
        ),
        (json!({"max_run_seconds": -1}), "expect.max_run_seconds: "),
        (json!({"max_run_seconds": "5"}), "expect.max_run_seconds: "),
        (json!({"max_run_seconds": 1.5}), "expect.max_run_seconds: "),
        (json!({"max_runtime": 5}), "unknown field `max_runtime`"),
        (json!(5), "expect: "),
        (
            json!([5]),
            "expect: invalid type: sequence, expected an object",
        ),
    ];
    for (expect, message) in cases {
        let mut body = interval_job("e", 60);
        body["expect"] = expect.clone();
        let (status, answer) = app.post("/jobs", &body).await;
        assert_eq!(
            (status, &answer["detail"]["code"]),
            (422, &json!("VALIDATION_ERROR")),
            "{expect}: {answer}"
        );
        let text = answer["detail"]["message"].as_str().expect("message");
        assert!(text.contains(message), "{expect}: {text}");
    }
    assert_eq!(app.count("SELECT count(*) FROM jobs").await, 0);
    let mut body = interval_job("e", 60);
    body["expect"] = json!({});
    let created = app.create_job(&body).await;
    assert_eq!(
        (&created["expect"], &created["health"]),
        (&Value::Null, &json!("ok"))
    );
    assert_eq!(
        app.count("SELECT count(*) FROM jobs WHERE expect IS NULL")
            .await,
        1
    );

    let (status, answer) = app.get("/jobs?health=sick").await;
    assert_eq!(
        (status, &answer["detail"]["code"]),
        (422, &json!("VALIDATION_ERROR")),
        "{answer}"
    );
    let text = answer["detail"]["message"].as_str().expect("message");
    assert!(text.contains("health"), "{text}");
}
