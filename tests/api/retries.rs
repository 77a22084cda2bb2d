//! Retries (issue 12, item 1; DESIGN.md, *Retries*): each attempt at an occurrence is a run row
//! of its own, sent with the occurrence's one `Idempotency-Key` and its number in
//! `Schedlite-Attempt`; the next attempt waits the policy's delay after the one before ended,
//! shows as `next_retry_at` meanwhile, and happens after a restart; bad policies get a 422
//! naming the field.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::helpers::clock::from_now;
use crate::helpers::stub::Stub;
use crate::helpers::*;

crate::both_engines!(
    a_failing_target_gets_every_attempt_with_one_key_then_gives_up,
    an_attempt_that_succeeds_ends_the_retries,
    a_pending_retry_of_an_interrupted_attempt_happens_after_a_restart,
    a_policy_is_shown_changed_and_refused_field_by_field,
    lowering_max_attempts_drops_the_retries_it_no_longer_allows,
);

/// An instant the API sent.
fn instant(v: &Value) -> DateTime<Utc> {
    let text = v.as_str().unwrap_or_else(|| panic!("an instant, got {v}"));
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .with_timezone(&Utc)
}

/// A date job due in 300 ms POSTing to `url`, with `retry`.
fn once(id: &str, url: &str, retry: Value) -> Value {
    json!({"id": id, "trigger": {"type": "date", "run_at": from_now(chrono::Duration::milliseconds(300))},
           "action": {"type": "http", "method": "POST", "url": url, "timeout_seconds": 10},
           "retry": retry})
}

/// The runs of `job` as the API lists them, newest first (one page of 100).
async fn runs(app: &TestApp, job: &str) -> Vec<Value> {
    let (status, body) = app.get(&format!("/jobs/{job}/runs")).await;
    assert_eq!(status, 200, "{body}");
    body["data"]["runs"].as_array().expect("runs").clone()
}

/// Waits until `job` has a run row whose status is not `running` for attempt `attempt`.
async fn wait_for_ended_attempt(app: &TestApp, job: &str, attempt: u32, within: Duration) {
    let sql = format!(
        "SELECT count(*) FROM job_runs WHERE job_id = '{job}' AND attempt = {attempt} AND status <> 'running'"
    );
    wait_for(
        &format!("attempt {attempt} of {job} to end"),
        within,
        || async { (app.count(&sql).await == 1).then_some(()) },
    )
    .await;
}

/// Three attempts at one occurrence against a target that always fails: three requests with
/// the same key and attempts 1, 2, 3, three `failed` rows for the same instant, each retry a
/// second after the attempt before ended, `next_retry_at` shown while one is pending and gone
/// after the last; then nothing more. The loop's idle poll is a minute, so only its wake-up at
/// a pending retry's instant lets the retries happen within the test's wait.
async fn a_failing_target_gets_every_attempt_with_one_key_then_gives_up(engine: Engine) {
    let stub = Stub::start().await;
    let (db, guard) = engine::fresh(engine).await;
    let mut config = test_config(&db, &scheduler_on());
    config.scheduler_max_idle = Duration::from_secs(60);
    let mut app = start_with(config).await;
    app.dir = Some(guard);
    let policy =
        json!({"max_attempts": 3, "initial_delay_seconds": 1, "multiplier": 1.0, "jitter": false});
    app.create_job(&once("flop", &stub.url("/fail"), policy))
        .await;

    let pending = wait_for("a pending retry", Duration::from_secs(10), || async {
        let (_, job) = app.get("/jobs/flop").await;
        let next = job["data"]["next_retry_at"].clone();
        (next != Value::Null).then_some(next)
    })
    .await;
    let first = runs(&app, "flop").await;
    assert_eq!(first.len(), 1, "{first:?}");
    let decided = "SELECT count(*) FROM job_runs WHERE job_id = 'flop' AND attempt = 1 AND retry_delay_ms = 1000";
    assert_eq!(app.count(decided).await, 1, "the claim decided the delay");
    assert_eq!(
        (
            &first[0]["attempt"],
            &first[0]["status"],
            &first[0]["retry_at"]
        ),
        (&json!(1), &json!("failed"), &pending)
    );
    assert_eq!(
        instant(&pending) - instant(&first[0]["finished_at"]),
        chrono::Duration::seconds(1),
        "the retry is due a second after the attempt ended"
    );

    wait_for_ended_attempt(&app, "flop", 3, Duration::from_secs(15)).await;
    let all = runs(&app, "flop").await;
    let attempts: Vec<(&Value, &Value, &Value)> = all
        .iter()
        .map(|r| (&r["attempt"], &r["status"], &r["retry_at"]))
        .collect();
    let failed = json!("failed");
    assert_eq!(
        attempts,
        [
            (&json!(3), &failed, &Value::Null),
            (&json!(2), &failed, &Value::Null),
            (&json!(1), &failed, &Value::Null)
        ]
    );
    assert!(
        all.iter()
            .all(|r| r["scheduled_at"] == all[0]["scheduled_at"]),
        "one occurrence: {all:?}"
    );
    for pair in all.windows(2) {
        let (later, earlier) = (&pair[0], &pair[1]);
        let waited = instant(&later["started_at"]) - instant(&earlier["finished_at"]);
        assert!(
            waited >= chrono::Duration::seconds(1),
            "attempt {} started {waited} after attempt {} ended",
            later["attempt"],
            earlier["attempt"]
        );
    }
    let key = format!(
        "flop@{}",
        instant(&all[0]["scheduled_at"]).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    );
    let sent: Vec<(String, String)> = ["1", "2", "3"]
        .iter()
        .map(|a| (key.clone(), a.to_string()))
        .collect();
    assert_eq!(stub.attempts("fail"), sent);
    let used = "SELECT count(*) FROM job_runs WHERE job_id = 'flop' AND retry_delay_ms IS NULL";
    assert_eq!(
        app.count(used).await,
        3,
        "the last has none, the others' were used"
    );
    let (_, job) = app.get("/jobs/flop").await;
    assert_eq!(
        (
            &job["data"]["next_retry_at"],
            &job["data"]["consecutive_failures"]
        ),
        (&Value::Null, &json!(3))
    );
    // The runs page by attempt within the occurrence.
    let mut paged = Vec::new();
    let mut path = "/jobs/flop/runs?limit=1".to_string();
    for _ in 0..4 {
        let (status, page) = app.get(&path).await;
        assert_eq!(status, 200, "{page}");
        paged.extend(
            page["data"]["runs"]
                .as_array()
                .expect("runs")
                .iter()
                .map(|r| r["attempt"].clone()),
        );
        match page["data"]["next_cursor"].as_str() {
            Some(cursor) => path = format!("/jobs/flop/runs?limit=1&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(paged, [json!(3), json!(2), json!(1)]);
    // Nothing more: a fourth attempt would be due a second after the third ended.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(stub.attempts("fail").len(), 3);
    assert_eq!(app.run_count("flop").await, 3);
}

/// A target failing once then succeeding: attempt 2 succeeds and is the last; the job's last
/// run is that success, and the first key is the second's.
async fn an_attempt_that_succeeds_ends_the_retries(engine: Engine) {
    let stub = Stub::start().await;
    let app = spawn_app_on_with(engine, scheduler_on()).await;
    let policy = json!({"max_attempts": 5, "initial_delay_seconds": 0});
    app.create_job(&once("flaky", &stub.url("/flaky/1"), policy))
        .await;
    wait_for_ended_attempt(&app, "flaky", 2, Duration::from_secs(10)).await;
    let all = runs(&app, "flaky").await;
    let seen: Vec<(&Value, &Value)> = all.iter().map(|r| (&r["attempt"], &r["status"])).collect();
    assert_eq!(
        seen,
        [
            (&json!(2), &json!("succeeded")),
            (&json!(1), &json!("failed"))
        ]
    );
    let (_, job) = app.get("/jobs/flaky").await;
    assert_eq!(
        (
            &job["data"]["last_run"]["attempt"],
            &job["data"]["last_run"]["status"],
            &job["data"]["next_retry_at"],
            &job["data"]["consecutive_failures"],
        ),
        (&json!(2), &json!("succeeded"), &Value::Null, &json!(0))
    );
    let attempts = stub.attempts("flaky");
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_eq!(attempts[0].0, attempts[1].0, "one key for the occurrence");
    assert_eq!((&*attempts[0].1, &*attempts[1].1), ("1", "2"));
}

/// An attempt cut by a shutdown is `interrupted` with its retry stored; the next server makes
/// the retry at its instant, sent as attempt 2 with the same key, and it succeeds.
async fn a_pending_retry_of_an_interrupted_attempt_happens_after_a_restart(engine: Engine) {
    let stub = Stub::start().await;
    let app = spawn_app_on_with(engine, scheduler_on()).await;
    let policy = json!({"max_attempts": 2, "initial_delay_seconds": 2, "jitter": false});
    // Longer than the tests' 2 s shutdown grace.
    app.create_job(&once("long", &stub.url("/sleep/3000"), policy))
        .await;
    wait_for(
        "the first attempt to start",
        Duration::from_secs(10),
        || async { (stub.attempts("sleep").len() == 1).then_some(()) },
    )
    .await;
    let app = app.restart(AppOptions::default()).await;
    let first = runs(&app, "long").await;
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(
        (&first[0]["attempt"], &first[0]["status"]),
        (&json!(1), &json!("interrupted"))
    );
    let due = instant(&first[0]["retry_at"]);
    assert_eq!(
        due - instant(&first[0]["finished_at"]),
        chrono::Duration::seconds(2)
    );
    let (_, job) = app.get("/jobs/long").await;
    assert_eq!(job["data"]["next_retry_at"], first[0]["retry_at"]);

    let app = app.restart(scheduler_on()).await;
    wait_for_ended_attempt(&app, "long", 2, Duration::from_secs(15)).await;
    let all = runs(&app, "long").await;
    assert_eq!(
        (&all[0]["attempt"], &all[0]["status"], &all[1]["retry_at"]),
        (&json!(2), &json!("succeeded"), &Value::Null)
    );
    assert!(
        instant(&all[0]["started_at"]) >= due,
        "not before its instant"
    );
    let attempts = stub.attempts("sleep");
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_eq!(attempts[0].0, attempts[1].0, "one key for the occurrence");
    assert_eq!((&*attempts[0].1, &*attempts[1].1), ("1", "2"));
}

/// A job shows its whole policy (the default when it has none); PUT changes it; each bad field
/// gets a 422 naming `retry.<field>` and changes nothing.
async fn a_policy_is_shown_changed_and_refused_field_by_field(engine: Engine) {
    let app = spawn_app_on(engine).await;
    let created = app.create_job(&interval_job("j", 3600)).await;
    assert_eq!(
        created["retry"],
        json!({"max_attempts": 1, "initial_delay_seconds": 10, "max_delay_seconds": 3600,
               "multiplier": 2.0, "jitter": true})
    );
    assert_eq!(created["next_retry_at"], Value::Null);
    let sql = "SELECT count(*) FROM jobs WHERE id = 'j' AND retry IS NULL";
    assert_eq!(app.count(sql).await, 1, "no policy stores NULL");
    let mut body = interval_job("j", 3600);
    body["retry"] = json!({"max_attempts": 4, "max_delay_seconds": 60});
    let (status, put) = app.put("/jobs/j", &body).await;
    assert_eq!(status, 200, "{put}");
    assert_eq!(
        put["data"]["retry"],
        json!({"max_attempts": 4, "initial_delay_seconds": 10, "max_delay_seconds": 60,
               "multiplier": 2.0, "jitter": true})
    );
    let cases = [
        (
            json!({"max_attempts": 0}),
            "retry.max_attempts: must be between 1 and 100, got 0",
        ),
        (
            json!({"max_attempts": 101}),
            "retry.max_attempts: must be between 1 and 100, got 101",
        ),
        (
            json!({"initial_delay_seconds": 2_592_001}),
            "retry.initial_delay_seconds: must be at most 2592000, got 2592001",
        ),
        (
            json!({"max_delay_seconds": 0}),
            "retry.max_delay_seconds: must be between 1 and 2592000, got 0",
        ),
        (
            json!({"multiplier": 0.5}),
            "retry.multiplier: must be between 1 and 100, got 0.5",
        ),
    ];
    for (retry, message) in cases {
        let mut bad = interval_job("k", 60);
        bad["retry"] = retry.clone();
        let (status, body) = app.post("/jobs", &bad).await;
        assert_eq!(
            (status, body),
            (
                422,
                json!({"detail": {"code": "VALIDATION_ERROR", "message": message}})
            ),
            "{retry}"
        );
    }
    for retry in [
        json!({"attempts": 3}),
        json!({"max_attempts": "3"}),
        json!(3),
    ] {
        let mut bad = interval_job("k", 60);
        bad["retry"] = retry.clone();
        let (status, body) = app.post("/jobs", &bad).await;
        assert_eq!(status, 422, "{retry}: {body}");
        let message = body["detail"]["message"].as_str().expect("message");
        assert!(message.starts_with("retry"), "{retry}: {message}");
    }
    assert_eq!(
        app.count("SELECT count(*) FROM jobs WHERE id = 'k'").await,
        0
    );
    let (_, job) = app.get("/jobs/j").await;
    assert_eq!(job["data"]["retry"]["max_attempts"], json!(4), "unchanged");
}

/// The `schedlite_retries_pending` gauge as `/metrics` reports it.
async fn pending_gauge(app: &TestApp) -> String {
    let text = app
        .client
        .get(app.url("/metrics"))
        .header("X-API-Key", MONITOR_KEY)
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|l| l.strip_prefix("schedlite_retries_pending "))
        .unwrap_or_else(|| panic!("no schedlite_retries_pending in {text}"))
        .to_string()
}

/// A retry pending for an hour shows in the `schedlite_retries_pending` gauge, and is dropped
/// at once when a PUT lowers `max_attempts` to the attempt that failed: `next_retry_at` goes,
/// the row no longer holds it, the gauge reads 0, and retention may prune it again.
async fn lowering_max_attempts_drops_the_retries_it_no_longer_allows(engine: Engine) {
    let stub = Stub::start().await;
    let app = spawn_app_on_with(engine, scheduler_on()).await;
    let policy = json!({"max_attempts": 3, "initial_delay_seconds": 3600, "jitter": false});
    let body = once("later", &stub.url("/fail"), policy);
    app.create_job(&body).await;
    wait_for("a pending retry", Duration::from_secs(10), || async {
        let (_, job) = app.get("/jobs/later").await;
        (job["data"]["next_retry_at"] != Value::Null).then_some(())
    })
    .await;
    assert_eq!(pending_gauge(&app).await, "1");
    let mut lowered = body.clone();
    lowered["retry"] = json!({"max_attempts": 1});
    // A date in the past is refused on PUT as on POST.
    lowered["trigger"]["run_at"] = json!("2099-01-01T00:00:00Z");
    let (status, put) = app.put("/jobs/later", &lowered).await;
    assert_eq!(
        (status, &put["data"]["next_retry_at"]),
        (200, &Value::Null),
        "{put}"
    );
    let sql = "SELECT count(*) FROM job_runs WHERE job_id = 'later' AND retry_at IS NULL AND retry_delay_ms IS NULL";
    assert_eq!(app.count(sql).await, 1);
    assert_eq!(app.run_count("later").await, 1);
    assert_eq!(pending_gauge(&app).await, "0");
}
