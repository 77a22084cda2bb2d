//! Alerts (issue 14, item 2): each change of a job's health is recorded once, listed by
//! `GET /alerts`, and POSTed with an `Idempotency-Key` to the job's webhook or the server's;
//! a webhook that fails is tried again with backoff, across a restart; two processes on one
//! database send each alert once; a flapping job alerts once per minimum interval, each alert a
//! real transition from the one before; bad webhooks and queries get a 422 naming the field.

use std::time::Duration;

use reqwest::Method;
use schedlite::Config;
use serde_json::{Value, json};

use crate::helpers::clock::parse_ts;
use crate::helpers::engine::fresh;
use crate::helpers::stub::{Hook, Stub};
use crate::helpers::*;

crate::both_engines!(
    a_job_without_a_success_alerts_late_then_ok,
    a_failed_delivery_is_retried_with_backoff_across_a_restart,
    two_processes_send_each_alert_once_and_a_flapping_job_alerts_once_per_interval,
    webhooks_and_alert_queries_are_checked,
);

/// A configuration with the scheduler on, the server's webhook and the minimum interval.
fn alerting(db: &std::path::Path, webhook: Option<String>, min_interval: Duration) -> Config {
    let mut config = test_config(db, &scheduler_on());
    config.alert_webhook = webhook;
    config.alert_min_interval = min_interval;
    config
}

/// A fresh database on `engine` served with [`alerting`]'s configuration.
async fn alerting_app(engine: Engine, webhook: Option<String>, min: Duration) -> TestApp {
    let (db, guard) = fresh(engine).await;
    let mut app = start_with(alerting(&db, webhook, min)).await;
    app.dir = Some(guard);
    app
}

/// Every alert, oldest first.
async fn alerts(app: &TestApp) -> Vec<Value> {
    let (status, body) = app.get("/alerts?limit=1000").await;
    assert_eq!(status, 200, "{body}");
    let mut alerts = body["data"]["alerts"].as_array().expect("alerts").clone();
    alerts.reverse();
    alerts
}

/// Waits until the stub has taken `n` alerts (answered 200).
async fn taken(stub: &Stub, n: usize, within: Duration) -> Vec<Hook> {
    wait_for(&format!("{n} alerts taken"), within, || async {
        let hooks = stub.hooks();
        (hooks.iter().filter(|h| h.status == 200).count() >= n).then_some(hooks)
    })
    .await
}

/// A job that expects a success every 2 s and never gets one alerts `late` on its own webhook,
/// once; a success brings an alert back to `ok`. Both are listed, sent once each, with the key
/// the listing names.
async fn a_job_without_a_success_alerts_late_then_ok(engine: Engine) {
    let stub = Stub::start().await;
    let app = alerting_app(engine, None, Duration::ZERO).await;
    let mut job = interval_job("quiet", 3600);
    job["expect"] = json!({"success_within_seconds": 2, "alert_webhook": stub.url("/hook/0")});
    let created = app.create_job(&job).await;
    assert_eq!(
        created["expect"],
        json!({"success_within_seconds": 2, "max_consecutive_failures": null,
               "max_run_seconds": null, "alert_webhook": stub.url("/hook/0")}),
        "the webhook is shown"
    );

    let late = taken(&stub, 1, Duration::from_secs(10)).await.remove(0);
    let id = late.body["id"].as_i64().expect("alert id");
    assert_eq!(late.key, format!("schedlite-alert-{id}"));
    let at = late.body["at"].clone();
    assert_eq!(
        late.body,
        json!({"id": id, "job": "quiet", "from": "ok", "to": "late",
               "reason": "no success within 2 s (none yet)", "at": at})
    );
    let (_, got) = app.get("/jobs/quiet").await;
    assert_eq!(got["data"]["health"], "late");

    let (status, body) = app
        .call(Method::POST, "/jobs/quiet/run", Some(ADMIN_KEY), None)
        .await;
    assert_eq!(status, 202, "{body}");
    let hooks = taken(&stub, 2, Duration::from_secs(10)).await;
    assert_eq!(
        (
            &hooks[1].body["from"],
            &hooks[1].body["to"],
            &hooks[1].body["reason"]
        ),
        (&json!("late"), &json!("ok"), &json!("back to ok"))
    );

    let listed = alerts(&app).await;
    assert_eq!(
        listed[0],
        json!({"id": id, "job_id": "quiet", "from": "ok", "to": "late",
               "reason": "no success within 2 s (none yet)", "at": at,
               "delivery": {"state": "sent", "attempts": 1, "next_attempt_at": null,
                            "sent_at": listed[0]["delivery"]["sent_at"], "last_error": null}})
    );
    assert!(listed[0]["delivery"]["sent_at"].is_string());
    assert_eq!(listed[1]["to"], "ok");
    assert_eq!(stub.duplicate_keys(), Vec::<String>::new());
    let mut keys: Vec<String> = stub.hooks().into_iter().map(|h| h.key).collect();
    keys.dedup();
    assert_eq!(keys.len(), stub.hooks().len(), "no alert sent twice");
}

/// The server's webhook answers 503 twice: the alert is tried again after 1 s and after 2 s
/// more, with the same key, and a restart between the attempts loses nothing.
async fn a_failed_delivery_is_retried_with_backoff_across_a_restart(engine: Engine) {
    let stub = Stub::start().await;
    let hook = stub.url("/hook/2");
    let minute = Duration::from_secs(60);
    let mut app = alerting_app(engine, Some(hook.clone()), minute).await;
    let mut job = interval_job("broken-target", 1);
    job["action"] = json!({"type": "http", "url": stub.url("/fail")});
    job["expect"] = json!({"max_consecutive_failures": 2});
    app.create_job(&job).await;
    wait_for("a first attempt", Duration::from_secs(15), || async {
        (!stub.hooks().is_empty()).then_some(())
    })
    .await;
    app.stop().await;
    let guard = app.dir.take();
    let mut app = start_with(alerting(&app.db_path, Some(hook), minute)).await;
    app.dir = guard;

    let hooks = taken(&stub, 1, Duration::from_secs(15)).await;
    let statuses: Vec<u16> = hooks.iter().map(|h| h.status).collect();
    assert_eq!(statuses, [503, 503, 200]);
    assert!(hooks.iter().all(|h| h.key == hooks[0].key), "one key");
    let gaps = [hooks[1].at - hooks[0].at, hooks[2].at - hooks[1].at];
    assert!(
        gaps[0] >= Duration::from_millis(900) && gaps[1] >= Duration::from_millis(1900),
        "backoff of 1 s then 2 s: {gaps:?}"
    );
    let listed = alerts(&app).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        (&listed[0]["from"], &listed[0]["to"], &listed[0]["reason"]),
        (
            &json!("ok"),
            &json!("failing"),
            &json!("2 runs in a row failed or timed out (max_consecutive_failures 2)")
        )
    );
    assert_eq!(
        (
            &listed[0]["delivery"]["state"],
            &listed[0]["delivery"]["attempts"]
        ),
        (&json!("sent"), &json!(3))
    );
    assert_eq!(hooks[0].body, hooks[2].body, "the same alert each time");
    app.stop().await;
}

/// Two processes serve one database, and a job flaps between `failing` and `ok` every second:
/// alerts come at most once per 2 s minimum interval, each from the health alerted before, and
/// each is sent exactly once although both processes look and send.
async fn two_processes_send_each_alert_once_and_a_flapping_job_alerts_once_per_interval(
    engine: Engine,
) {
    let stub = Stub::start().await;
    let hook = Some(stub.url("/hook/0"));
    let interval = Duration::from_secs(2);
    let mut a = alerting_app(engine, hook.clone(), interval).await;
    let mut b = start_with(alerting(&a.db_path, hook, interval)).await;
    let mut job = interval_job("flap", 1);
    job["action"] = json!({"type": "http", "url": stub.url("/alternate")});
    job["expect"] = json!({"max_consecutive_failures": 1});
    a.create_job(&job).await;
    wait_for("four alerts", Duration::from_secs(30), || async {
        (a.count("SELECT count(*) FROM alerts").await >= 4).then_some(())
    })
    .await;
    let (status, _) = a.delete("/jobs/flap").await;
    assert_eq!(status, 200);
    wait_for("every alert delivered", Duration::from_secs(10), || async {
        let sql = "SELECT count(*) FROM alerts WHERE delivery <> 'sent'";
        (a.count(sql).await == 0).then_some(())
    })
    .await;
    b.stop().await;

    let listed = alerts(&a).await;
    let mut before = json!("ok");
    let mut last_at: Option<chrono::DateTime<chrono::Utc>> = None;
    for alert in &listed {
        assert_eq!(
            alert["from"], before,
            "each alert follows the one before: {listed:?}"
        );
        assert_ne!(alert["from"], alert["to"]);
        let at = parse_ts(alert["at"].as_str().expect("at"));
        if let Some(last) = last_at {
            assert!(at - last >= chrono::Duration::seconds(2), "{listed:?}");
        }
        assert_eq!(alert["delivery"]["attempts"], 1, "{alert}");
        (before, last_at) = (alert["to"].clone(), Some(at));
    }
    let hooks = stub.hooks();
    let mut keys: Vec<String> = hooks.iter().map(|h| h.key.clone()).collect();
    keys.sort();
    let mut wanted: Vec<String> = listed
        .iter()
        .map(|a| format!("schedlite-alert-{}", a["id"]))
        .collect();
    wanted.sort();
    assert_eq!(
        keys, wanted,
        "each alert sent once, by one of the two processes"
    );
    a.stop().await;
}

/// A webhook that is not an http(s) URL is refused naming `expect.alert_webhook`; the listing
/// checks its query and its readers.
async fn webhooks_and_alert_queries_are_checked(engine: Engine) {
    let app = spawn_app_on(engine).await;
    let cases = [
        (
            json!("ftp://example.com/hook"),
            "expect.alert_webhook: scheme must be http or https, got \"ftp\"",
        ),
        (json!("hooks"), "expect.alert_webhook: not a URL: "),
        (json!(5), "expect.alert_webhook: "),
    ];
    for (webhook, message) in cases {
        let mut body = interval_job("w", 60);
        body["expect"] = json!({"alert_webhook": webhook});
        let (status, answer) = app.post("/jobs", &body).await;
        assert_eq!(
            (status, &answer["detail"]["code"]),
            (422, &json!("VALIDATION_ERROR")),
            "{webhook}: {answer}"
        );
        let text = answer["detail"]["message"].as_str().expect("message");
        assert!(text.starts_with(message), "{webhook}: {text}");
    }
    assert_eq!(app.count("SELECT count(*) FROM jobs").await, 0);

    let queries = [
        (
            "/alerts?limit=0",
            "limit: must be between 1 and 1000, got 0",
        ),
        (
            "/alerts?cursor=nope",
            "cursor: is not a cursor returned by this API",
        ),
        ("/alerts?colour=red", "unknown field `colour`"),
    ];
    for (path, message) in queries {
        let (status, answer) = app.get(path).await;
        assert_eq!(status, 422, "{path}: {answer}");
        let text = answer["detail"]["message"].as_str().expect("message");
        assert!(text.contains(message), "{path}: {text}");
    }
    let (status, body) = app.get("/alerts").await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"status": "ok", "data": {"alerts": [], "next_cursor": null}})
        )
    );
    let (status, _) = app.call(Method::GET, "/alerts", None, None).await;
    assert_eq!(status, 401);
    let (status, _) = app
        .call(Method::GET, "/alerts", Some(MONITOR_KEY), None)
        .await;
    assert_eq!(status, 403, "a monitor key reads metrics, not alerts");
}
