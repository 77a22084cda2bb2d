//! Timed pause (issue 14, item 3): a pause with a reason and an end shows who, why and until when
//! on the job, in the list and in the audit; it ends by itself with the next run computed from
//! its end (no burst), across a restart and with two processes serving (it ends once); and bad
//! bodies get a 422 naming the field.

use std::time::Duration;

use chrono::Utc;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::clock::{parse_ts, ts};
use crate::helpers::*;

crate::both_engines!(
    a_timed_pause_ends_by_itself_with_the_next_run_from_its_end,
    a_timed_pause_survives_a_restart_and_ends_once_with_two_processes,
    pause_bodies_are_checked_and_a_plain_pause_says_who,
);

/// The job `id` as `GET /jobs/{id}` answers it.
async fn job(app: &TestApp, id: &str) -> Value {
    let (status, body) = app.get(&format!("/jobs/{id}")).await;
    assert_eq!(status, 200, "{body}");
    body["data"].clone()
}

/// Waits until the job `id` is no longer paused.
async fn wait_until_resumed(app: &TestApp, id: &str, within: Duration) -> Value {
    wait_for("the timed pause ended", within, || async {
        let job = job(app, id).await;
        (job["paused"] == false).then_some(job)
    })
    .await
}

/// How many audit rows say the timed pause of `id` ended.
async fn pause_ends(app: &TestApp, id: &str) -> i64 {
    app.count(&format!(
        "SELECT count(*) FROM audit_log WHERE job_id = '{id}' AND action = 'resume' AND key_name = 'schedlite'"
    ))
    .await
}

/// A 1 s job paused for about 2.5 s comes back by itself at the pause's end: the pause is shown
/// on the job, in the list and in the audit meanwhile; nothing is run or recorded for the
/// occurrences inside it; the first run after it is the first occurrence from its end.
async fn a_timed_pause_ends_by_itself_with_the_next_run_from_its_end(engine: Engine) {
    let app = spawn_app_on_with(engine, scheduler_on()).await;
    app.create_job(&interval_job("tick", 1)).await;
    wait_for("a first run", Duration::from_secs(5), || async {
        (app.run_count("tick").await >= 1).then_some(())
    })
    .await;
    let until = ts(Utc::now() + chrono::Duration::milliseconds(2_500));
    let (status, body) = app
        .post(
            "/jobs/tick/pause",
            &json!({"until": until, "reason": "db upgrade"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let paused_at = body["data"]["pause"]["at"]
        .as_str()
        .expect("at")
        .to_string();
    let wanted =
        json!({"by": "env-admin", "at": paused_at, "reason": "db upgrade", "until": until});
    assert_eq!(
        (
            &body["data"]["paused"],
            &body["data"]["next_run_time"],
            &body["data"]["pause"]
        ),
        (&json!(true), &Value::Null, &wanted)
    );
    let (_, list) = app.get("/jobs").await;
    assert_eq!(list["data"]["jobs"][0]["pause"], wanted, "{list}");
    let (_, audit) = app.get("/audit?job_id=tick").await;
    assert_eq!(
        (
            &audit["data"]["entries"][0]["action"],
            &audit["data"]["entries"][0]["detail"]
        ),
        (
            &json!("pause"),
            &json!({"reason": "db upgrade", "until": until})
        )
    );

    let resumed = wait_until_resumed(&app, "tick", Duration::from_secs(10)).await;
    assert_eq!(resumed["pause"], Value::Null);
    let until_at = parse_ts(&until);
    assert!(
        Utc::now() >= until_at,
        "the pause did not end before its end"
    );
    wait_for("a run after the pause", Duration::from_secs(5), || async {
        let sql = format!(
            "SELECT count(*) FROM job_runs WHERE job_id = 'tick' AND scheduled_at >= '{until}' AND status = 'succeeded'"
        );
        (app.count(&sql).await >= 1).then_some(())
    })
    .await;
    // Claims look 20 ms ahead: an occurrence due that close to the pause ran before it.
    let inside = format!(
        "SELECT count(*) FROM job_runs WHERE job_id = 'tick' AND scheduled_at > '{}' AND scheduled_at < '{until}'",
        ts(parse_ts(&paused_at) + chrono::Duration::milliseconds(100))
    );
    assert_eq!(
        app.count(&inside).await,
        0,
        "nothing recorded inside the pause"
    );
    let first_after = format!(
        "SELECT count(*) FROM job_runs WHERE job_id = 'tick' AND scheduled_at >= '{until}' AND scheduled_at < '{}'",
        ts(until_at + chrono::Duration::seconds(1))
    );
    assert_eq!(
        app.count(&first_after).await,
        1,
        "the first occurrence from the end ran"
    );
    let burst = "SELECT count(*) FROM job_runs WHERE job_id = 'tick' AND (status IN ('missed', 'skipped') OR occurrences > 1)";
    assert_eq!(app.count(burst).await, 0, "no burst, no missed rows");
    assert_eq!(pause_ends(&app, "tick").await, 1);
    let (_, audit) = app.get("/audit?job_id=tick").await;
    assert_eq!(
        audit["data"]["entries"][0]["detail"],
        json!({"pause_ended": until})
    );
}

/// A timed pause outlives a restart (its note too), and with two processes serving the same
/// database it ends once: one audit row, one resume.
async fn a_timed_pause_survives_a_restart_and_ends_once_with_two_processes(engine: Engine) {
    let app = spawn_app_on_with(engine, scheduler_on()).await;
    app.create_job(&interval_job("tick", 1)).await;
    let until = ts(Utc::now() + chrono::Duration::seconds(3));
    let (status, body) = app
        .post(
            "/jobs/tick/pause",
            &json!({"until": until, "reason": "window"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let app = app.restart(scheduler_on()).await;
    let second = start_on(app.db_path.clone(), scheduler_on()).await;
    let after = job(&second, "tick").await;
    assert_eq!(
        (
            &after["paused"],
            &after["pause"]["until"],
            &after["pause"]["reason"]
        ),
        (&json!(true), &json!(until), &json!("window")),
        "the pause survived the restart"
    );
    wait_until_resumed(&app, "tick", Duration::from_secs(10)).await;
    // Two more runs: both processes have looked for ended pauses at least once since.
    wait_for("runs after the pause", Duration::from_secs(10), || async {
        let sql = format!(
            "SELECT count(*) FROM job_runs WHERE job_id = 'tick' AND scheduled_at >= '{until}'"
        );
        (app.count(&sql).await >= 3).then_some(())
    })
    .await;
    assert_eq!(pause_ends(&app, "tick").await, 1, "the pause ended once");
    let burst = "SELECT count(*) FROM job_runs WHERE job_id = 'tick' AND (status IN ('missed', 'skipped') OR occurrences > 1)";
    assert_eq!(app.count(burst).await, 0, "no burst, no missed rows");
    let mut second = second;
    second.stop().await;
}

/// Bad pause bodies get 422 naming the field and change nothing; a pause without a body says who
/// paused; pausing a paused job without a body changes nothing; resume and PUT clear the note.
async fn pause_bodies_are_checked_and_a_plain_pause_says_who(engine: Engine) {
    let app = spawn_app_on(engine).await;
    app.create_job(&interval_job("j", 60)).await;
    let cases = [
        (
            json!({"until": "2020-01-01T00:00:00Z"}),
            "until: 2020-01-01T00:00:00.000Z is not in the future",
        ),
        (json!({"until": "tomorrow"}), "until: "),
        (json!({"until": 5}), "until: "),
        (
            json!({"reason": "x".repeat(1001)}),
            "reason: must be at most 1000 characters",
        ),
        (json!({"reason": 1}), "reason: "),
        (
            json!({"until_when": "2030-01-01T00:00:00Z"}),
            "unknown field `until_when`",
        ),
    ];
    for (body, message) in cases {
        let (status, answer) = app.post("/jobs/j/pause", &body).await;
        assert_eq!(
            (status, &answer["detail"]["code"]),
            (422, &json!("VALIDATION_ERROR")),
            "{body}: {answer}"
        );
        let text = answer["detail"]["message"].as_str().expect("message");
        assert!(text.contains(message), "{body}: {text}");
    }
    let sql = "SELECT count(*) FROM audit_log WHERE job_id = 'j' AND action = 'pause'";
    assert_eq!(app.count(sql).await, 0, "refused pauses leave no trace");
    assert_eq!(job(&app, "j").await["paused"], false);

    let (status, body) = app
        .call(Method::POST, "/jobs/j/pause", Some(ADMIN_KEY), None)
        .await;
    assert_eq!(status, 200, "{body}");
    let note = body["data"]["pause"].clone();
    assert_eq!(
        (&note["by"], &note["reason"], &note["until"]),
        (&json!("env-admin"), &Value::Null, &Value::Null)
    );
    let (_, again) = app
        .call(Method::POST, "/jobs/j/pause", Some(ADMIN_KEY), None)
        .await;
    assert_eq!(
        again["data"]["pause"], note,
        "a bare pause of a paused job changes nothing"
    );
    assert_eq!(app.count(sql).await, 1);
    let (status, body) = app
        .call(Method::POST, "/jobs/j/resume", Some(ADMIN_KEY), None)
        .await;
    assert_eq!((status, &body["data"]["pause"]), (200, &Value::Null));
    let until = ts(Utc::now() + chrono::Duration::hours(1));
    let (status, _) = app.post("/jobs/j/pause", &json!({"until": until})).await;
    assert_eq!(status, 200);
    let (status, body) = app.put("/jobs/j", &interval_job("j", 60)).await;
    assert_eq!(
        (status, &body["data"]["paused"], &body["data"]["pause"]),
        (200, &json!(false), &Value::Null),
        "PUT declares the job anew"
    );
    let (status, body) = app.post("/jobs/nope/pause", &json!({"until": until})).await;
    assert_eq!(
        (status, &body["detail"]["code"]),
        (404, &json!("JOB_NOT_FOUND"))
    );
}
