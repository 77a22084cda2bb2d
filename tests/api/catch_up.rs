//! Catch-up after downtime (issue 14, item 5): with `catch_up: "ask"` a stretch of occurrences
//! missed beyond grace waits, across restarts, in one `awaiting_approval` row until
//! `POST /jobs/{id}/catch-up`; `all` then runs every one in order with `max_instances`
//! respected, `latest` runs the last and records the rest `missed`, `none` records them all.
//! The `all` policy runs a stretch without asking, `none` runs nothing late. Two processes start
//! each approved occurrence once. Bad input gets a 422 naming the field.
//!
//! Downtime is real: the server is stopped for a few seconds with a grace of 1 s, so how many
//! occurrences a stretch holds depends on the machine; the tests read it from the job and check
//! every one of them.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::helpers::clock::parse_ts;
use crate::helpers::engine::fresh;
use crate::helpers::stub::Stub;
use crate::helpers::*;

crate::both_engines!(
    ask_holds_a_stretch_across_a_restart_until_all_runs_it_in_order,
    latest_and_none_record_what_they_do_not_run_as_missed,
    the_all_and_none_policies_decide_without_asking,
    two_processes_start_each_approved_occurrence_once,
    bad_catch_up_input_is_refused_naming_the_field,
);

/// Long enough for a 1 s job with a 1 s grace to miss at least two occurrences beyond grace.
const DOWNTIME: Duration = Duration::from_millis(4500);

/// A fresh database on `engine` served with the scheduler on.
async fn app_on(engine: Engine) -> TestApp {
    let (db, guard) = fresh(engine).await;
    let mut app = start_with(test_config(&db, &scheduler_on())).await;
    app.dir = Some(guard);
    app
}

/// An every-second job with a grace of 1 s and `policy`, calling the stub's `/sleep/{ms}`.
fn every_second(id: &str, policy: &str, stub: &Stub, ms: u64, max_instances: u32) -> Value {
    let mut job = interval_job(id, 1);
    job["misfire_grace_seconds"] = json!(1);
    job["catch_up"] = json!(policy);
    job["max_instances"] = json!(max_instances);
    job["action"] = json!({"type": "http", "url": stub.url(&format!("/sleep/{ms}"))});
    job
}

/// Waits for a first finished run, stops `app` for [`DOWNTIME`] and starts it again on the
/// same database.
async fn go_down(app: TestApp, job: &str) -> TestApp {
    down_and_up(app, job).await.0
}

/// [`go_down`], also returning when the server had stopped and when it was started again.
async fn down_and_up(mut app: TestApp, job: &str) -> (TestApp, DateTime<Utc>, DateTime<Utc>) {
    wait_for("a first run", Duration::from_secs(10), || async {
        (app.succeeded_count(job).await >= 1).then_some(())
    })
    .await;
    app.stop().await;
    let stopped = Utc::now();
    tokio::time::sleep(DOWNTIME).await; // The downtime under test.
    let guard = app.dir.take();
    let restarted = Utc::now();
    let mut next = start_with(test_config(&app.db_path, &scheduler_on())).await;
    next.dir = guard;
    (next, stopped, restarted)
}

/// The job's `awaiting_approval`, once it is set.
async fn awaiting(app: &TestApp, job: &str) -> Value {
    wait_for(
        "a stretch awaiting approval",
        Duration::from_secs(10),
        || async {
            let (status, body) = app.get(&format!("/jobs/{job}")).await;
            assert_eq!(status, 200, "{body}");
            let waiting = body["data"]["awaiting_approval"].clone();
            (!waiting.is_null()).then_some(waiting)
        },
    )
    .await
}

/// Every run of `job`, oldest occurrence first.
async fn runs(app: &TestApp, job: &str) -> Vec<Value> {
    let (status, page) = app.get(&format!("/jobs/{job}/runs?limit=1000")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page["data"]["next_cursor"].is_null(), "one page holds them");
    let mut runs = page["data"]["runs"].as_array().expect("runs").clone();
    runs.reverse();
    runs
}

fn at(run: &Value, field: &str) -> DateTime<Utc> {
    parse_ts(
        run[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} in {run}")),
    )
}

/// The occurrences of an every-second stretch from `first` to `last`.
fn instants(first: DateTime<Utc>, last: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let n = (last - first).num_seconds();
    (0..=n)
        .map(|k| first + chrono::Duration::seconds(k))
        .collect()
}

/// The runs of `job` whose occurrence lies in `first..=last`.
async fn runs_within(
    app: &TestApp,
    job: &str,
    first: DateTime<Utc>,
    last: DateTime<Utc>,
) -> Vec<Value> {
    runs(app, job)
        .await
        .into_iter()
        .filter(|r| (first..=last).contains(&at(r, "scheduled_at")))
        .collect()
}

/// `ask` holds the stretch in one row across a second restart, runs nothing of it meanwhile,
/// and after `all` runs each occurrence once, oldest first, one at a time (`max_instances` 1),
/// each with its own `Idempotency-Key`; the decision is audited and cannot be taken twice.
async fn ask_holds_a_stretch_across_a_restart_until_all_runs_it_in_order(engine: Engine) {
    let stub = Stub::start().await;
    let app = app_on(engine).await;
    let created = app
        .create_job(&every_second("nightly", "ask", &stub, 300, 1))
        .await;
    assert_eq!(
        (&created["catch_up"], &created["awaiting_approval"]),
        (&json!("ask"), &Value::Null)
    );
    let app = go_down(app, "nightly").await;
    let waiting = awaiting(&app, "nightly").await;
    let (first, last) = (at(&waiting, "first"), at(&waiting, "last"));
    let stretch = instants(first, last);
    assert!(stretch.len() >= 2, "a stretch beyond grace: {waiting}");
    assert_eq!(waiting["occurrences"], json!(stretch.len()), "{waiting}");
    assert_eq!(
        app.count("SELECT count(*) FROM catch_ups WHERE state = 'awaiting_approval'")
            .await,
        1,
        "one row for the stretch"
    );

    let app = app.restart(scheduler_on()).await;
    let (_, job) = app.get("/jobs/nightly").await;
    assert_eq!(
        job["data"]["awaiting_approval"], waiting,
        "kept across a restart"
    );
    assert_eq!(
        runs_within(&app, "nightly", first, last).await,
        Vec::<Value>::new(),
        "nothing of it ran or was recorded while it waited"
    );

    let (status, body) = app
        .post(
            "/jobs/nightly/catch-up",
            &json!({"decision": "all", "reason": "backfill"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let n = stretch.len();
    assert_eq!(
        body["data"],
        json!({"job_id": "nightly", "decision": "all", "occurrences": n, "to_run": n, "missed": 0})
    );
    let done = wait_for("the stretch run", Duration::from_secs(30), || async {
        let within = runs_within(&app, "nightly", first, last).await;
        let finished = within.iter().all(|r| r["status"] == "succeeded");
        (within.len() == n && finished).then_some(within)
    })
    .await;
    let ran: Vec<DateTime<Utc>> = done.iter().map(|r| at(r, "scheduled_at")).collect();
    assert_eq!(ran, stretch, "each occurrence once");
    for pair in done.windows(2) {
        assert!(
            at(&pair[1], "started_at") >= at(&pair[0], "finished_at"),
            "in order, one at a time: {pair:?}"
        );
    }
    let keys = stub.keys("sleep");
    for instant in &stretch {
        let key = format!("nightly@{}", crate::helpers::clock::ts(*instant));
        assert_eq!(keys.iter().filter(|k| **k == key).count(), 1, "{key}");
    }
    let (_, job) = app.get("/jobs/nightly").await;
    assert_eq!(job["data"]["awaiting_approval"], Value::Null);
    wait_for("the queue emptied", Duration::from_secs(5), || async {
        (app.count("SELECT count(*) FROM catch_ups").await == 0).then_some(())
    })
    .await;
    let (_, audit) = app.get("/audit?job_id=nightly").await;
    let decided: Vec<&Value> = audit["data"]["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["action"] == "catch_up")
        .collect();
    assert_eq!(decided.len(), 1, "{audit}");
    assert_eq!(
        decided[0]["detail"],
        json!({"decision": "all", "occurrences": n, "to_run": n, "missed": 0, "reason": "backfill"})
    );
    let (status, body) = app
        .post("/jobs/nightly/catch-up", &json!({"decision": "all"}))
        .await;
    assert_eq!(
        (status, &body["detail"]["code"]),
        (409, &json!("NOTHING_TO_APPROVE")),
        "{body}"
    );
    let mut app = app;
    app.stop().await;
}

/// `latest` runs the last occurrence of the stretch and records the others as one `missed` row
/// naming the decision; after a second downtime `none` records the whole stretch so.
async fn latest_and_none_record_what_they_do_not_run_as_missed(engine: Engine) {
    let stub = Stub::start().await;
    let app = app_on(engine).await;
    app.create_job(&every_second("report", "ask", &stub, 10, 1))
        .await;
    let app = go_down(app, "report").await;
    let waiting = awaiting(&app, "report").await;
    let (first, last) = (at(&waiting, "first"), at(&waiting, "last"));
    let n = instants(first, last).len();
    let (status, body) = app
        .post("/jobs/report/catch-up", &json!({"decision": "latest"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"],
        json!({"job_id": "report", "decision": "latest", "occurrences": n, "to_run": 1, "missed": n - 1})
    );
    let within = wait_for("the latest run", Duration::from_secs(10), || async {
        let within = runs_within(&app, "report", first, last).await;
        (within.len() == 2 && within[1]["status"] == "succeeded").then_some(within)
    })
    .await;
    let last_but_one = last - chrono::Duration::seconds(1);
    let why = format!(
        "{} occurrences missed beyond the grace; not caught up (decision `latest` by env-admin)",
        n - 1
    );
    let error = if n == 2 {
        "missed beyond the grace; not caught up (decision `latest` by env-admin)".to_string()
    } else {
        why
    };
    assert_eq!(
        (
            &within[0]["status"],
            &within[0]["occurrences"],
            at(&within[0], "scheduled_at"),
            &within[0]["error"]
        ),
        (&json!("missed"), &json!(n - 1), first, &json!(error))
    );
    if n > 2 {
        assert_eq!(at(&within[0], "last_scheduled_at"), last_but_one);
    }
    assert_eq!(at(&within[1], "scheduled_at"), last);

    let app = go_down(app, "report").await;
    let waiting = awaiting(&app, "report").await;
    let (first, last) = (at(&waiting, "first"), at(&waiting, "last"));
    let n = instants(first, last).len();
    let (status, body) = app
        .post(
            "/jobs/report/catch-up",
            &json!({"decision": "none", "reason": "stale data"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["data"]["to_run"], &body["data"]["missed"]),
        (&json!(0), &json!(n))
    );
    let within = runs_within(&app, "report", first, last).await;
    assert_eq!(within.len(), 1, "{within:?}");
    assert_eq!(
        (&within[0]["status"], &within[0]["occurrences"]),
        (&json!("missed"), &json!(n))
    );
    let error = within[0]["error"].as_str().expect("error");
    assert!(
        error.ends_with("not caught up (decision `none` by env-admin: stale data)"),
        "{error}"
    );
    let mut app = app;
    app.stop().await;
}

/// `all` runs the missed stretch by itself, in order (and the occurrences within grace behind
/// it), with nothing recorded missed; `none` runs nothing that was due while it was down.
async fn the_all_and_none_policies_decide_without_asking(engine: Engine) {
    let stub = Stub::start().await;
    let app = app_on(engine).await;
    app.create_job(&every_second("all", "all", &stub, 10, 1))
        .await;
    app.create_job(&every_second("none", "none", &stub, 10, 1))
        .await;
    wait_for("both ran", Duration::from_secs(10), || async {
        (app.succeeded_count("none").await >= 1).then_some(())
    })
    .await;
    let (app, stopped, restarted) = down_and_up(app, "all").await;
    let ran = wait_for(
        "the downtime caught up",
        Duration::from_secs(20),
        || async {
            let all = runs(&app, "all").await;
            let caught = all
                .iter()
                .filter(|r| at(r, "scheduled_at") < restarted)
                .all(|r| r["status"] == "succeeded");
            // Every instant up to the restart has a row: the queue is drained one at a time,
            // and an on-time occurrence may start before its last one.
            let first = all.first().map(|r| at(r, "scheduled_at"))?;
            let seconds = (restarted - first).num_milliseconds().div_euclid(1000);
            let rows = all
                .iter()
                .filter(|r| at(r, "scheduled_at") < restarted)
                .count();
            let complete = i64::try_from(rows).ok() == Some(seconds + 1);
            let after = all.iter().any(|r| at(r, "scheduled_at") > restarted);
            (caught && complete && after).then_some(all)
        },
    )
    .await;
    let instants_ran: Vec<DateTime<Utc>> = ran.iter().map(|r| at(r, "scheduled_at")).collect();
    let span = instants(instants_ran[0], *instants_ran.last().expect("runs"));
    let before: Vec<&DateTime<Utc>> = instants_ran.iter().filter(|t| **t < restarted).collect();
    let expected: Vec<&DateTime<Utc>> = span.iter().filter(|t| **t < restarted).collect();
    assert_eq!(before, expected, "every occurrence ran, none missed");
    assert!(
        ran.iter().all(|r| r["status"] != "missed"),
        "nothing missed: {ran:?}"
    );

    let none = runs(&app, "none").await;
    let missed: Vec<&Value> = none.iter().filter(|r| r["status"] == "missed").collect();
    assert_eq!(missed.len(), 1, "one missed row: {none:?}");
    let (from, to) = (
        at(missed[0], "scheduled_at"),
        at(missed[0], "last_scheduled_at"),
    );
    assert!(from > stopped && to > from, "{from} {to}");
    assert!(
        none.iter()
            .filter(|r| r["status"] != "missed")
            .all(|r| !(stopped..restarted).contains(&at(r, "scheduled_at"))),
        "nothing due while it was down ran, not even within grace: {none:?}"
    );
    let mut app = app;
    app.stop().await;
}

/// Two processes serve the database when a stretch is approved with `max_instances` 2: each
/// occurrence runs exactly once (one request per key), never more than two at a time.
async fn two_processes_start_each_approved_occurrence_once(engine: Engine) {
    let stub = Stub::start().await;
    let app = app_on(engine).await;
    app.create_job(&every_second("shared", "ask", &stub, 400, 2))
        .await;
    let a = go_down(app, "shared").await;
    let mut b = start_with(test_config(&a.db_path, &scheduler_on())).await;
    let waiting = awaiting(&a, "shared").await;
    let (first, last) = (at(&waiting, "first"), at(&waiting, "last"));
    let stretch = instants(first, last);
    let (status, body) = b
        .post("/jobs/shared/catch-up", &json!({"decision": "all"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let done = wait_for("the stretch run", Duration::from_secs(30), || async {
        let within = runs_within(&a, "shared", first, last).await;
        let finished = within.iter().all(|r| r["status"] == "succeeded");
        (within.len() == stretch.len() && finished).then_some(within)
    })
    .await;
    let ran: Vec<DateTime<Utc>> = done.iter().map(|r| at(r, "scheduled_at")).collect();
    assert_eq!(ran, stretch);
    let keys = stub.keys("sleep");
    for instant in &stretch {
        let key = format!("shared@{}", crate::helpers::clock::ts(*instant));
        assert_eq!(keys.iter().filter(|k| **k == key).count(), 1, "{key}");
    }
    // The most runs going at one instant: a sweep over starts and ends (an end first when
    // one run ends as another starts).
    let mut events: Vec<(DateTime<Utc>, i32)> = done
        .iter()
        .flat_map(|r| [(at(r, "started_at"), 1), (at(r, "finished_at"), -1)])
        .collect();
    events.sort();
    let most = events
        .iter()
        .scan(0, |going, (_, step)| {
            *going += step;
            Some(*going)
        })
        .max();
    assert!(most <= Some(2), "at most 2 at a time ({most:?}): {done:?}");
    b.stop().await;
    let mut a = a;
    a.stop().await;
}

/// An unknown policy or decision, a missing decision, an unknown field and a long reason are
/// 422s naming the field; nothing awaiting is a 409; an unknown job a 404; a viewer a 403.
async fn bad_catch_up_input_is_refused_naming_the_field(engine: Engine) {
    let app = spawn_app_on(engine).await;
    let mut job = interval_job("j", 60);
    job["catch_up"] = json!("sometimes");
    let (status, body) = app.post("/jobs", &job).await;
    assert_eq!(
        (status, &body["detail"]["message"]),
        (
            422,
            &json!("catch_up: must be `coalesce`, `all`, `none` or `ask`, got `sometimes`")
        )
    );
    job["catch_up"] = json!("ask");
    app.create_job(&job).await;
    let cases = [
        (
            json!({"decision": "maybe"}),
            "decision: must be `all`, `latest` or `none`, got `maybe`",
        ),
        (json!({}), "missing field `decision`"),
        (
            json!({"decision": "all", "when": "now"}),
            "unknown field `when`",
        ),
        (
            json!({"decision": "all", "reason": "x".repeat(1001)}),
            "reason: must be at most 1000 characters",
        ),
    ];
    for (body, message) in cases {
        let (status, answer) = app.post("/jobs/j/catch-up", &body).await;
        assert_eq!(status, 422, "{body}: {answer}");
        let text = answer["detail"]["message"].as_str().expect("message");
        assert!(text.contains(message), "{body}: {text}");
    }
    let (status, answer) = app
        .post("/jobs/j/catch-up", &json!({"decision": "all"}))
        .await;
    assert_eq!(
        answer["detail"],
        json!({"code": "NOTHING_TO_APPROVE", "message": "Job 'j' has no missed occurrences awaiting approval"})
    );
    assert_eq!(status, 409);
    let (status, _) = app
        .post("/jobs/nope/catch-up", &json!({"decision": "all"}))
        .await;
    assert_eq!(status, 404);
    let viewer = app.create_key("looker", "viewer");
    let (status, _) = app
        .call(
            reqwest::Method::POST,
            "/jobs/j/catch-up",
            Some(&viewer),
            Some(&json!({"decision": "all"})),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'catch_up'")
            .await,
        0
    );
}
