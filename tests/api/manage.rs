//! Job management (issue 4): pause, resume, run now, filters, paging under change, audit, and a
//! table of malformed requests that must all get a 4xx in the error shape.

use std::time::Duration;

use chrono::{DateTime, Utc};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::clock::from_now;
use crate::helpers::*;

crate::both_engines!(
    pause_survives_a_restart_and_the_job_does_not_run,
    resume_computes_the_next_run_from_now,
    run_now_on_a_paused_job_runs_once_and_leaves_it_paused,
    run_now_without_a_scheduler_is_refused,
    replacing_a_job_keeps_its_history,
    list_filters_by_paused_and_trigger_type,
    paging_under_concurrent_changes_returns_each_stable_job_once,
    every_change_is_audited_with_the_key_name,
    malformed_requests_get_a_4xx_in_the_error_shape
);

/// A paused job stays paused across a restart and does not run.
async fn pause_survives_a_restart_and_the_job_does_not_run(engine: Engine) {
    let app = spawn_app_on_with(engine, scheduler_on()).await;
    app.create_job(&interval_job("tick", 1)).await;
    let (status, body) = app
        .call(Method::POST, "/jobs/tick/pause", Some(ADMIN_KEY), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["paused"], true);
    assert_eq!(body["data"]["next_run_time"], Value::Null);
    let app = app.restart(scheduler_on()).await;
    let (_, body) = app.get("/jobs/tick").await;
    assert_eq!(body["data"]["paused"], true);
    // A second job proves the loop is alive while the paused one stays silent.
    app.create_job(&json!({"id": "witness", "trigger": {"type": "date", "run_at": from_now(chrono::Duration::milliseconds(300))}, "action": {"type": "noop"}}))
        .await;
    wait_for("the witness ran", Duration::from_secs(5), || async {
        (app.run_count("witness").await == 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(app.run_count("tick").await, 0, "a paused job never runs");
}

/// Resuming after 10 s of pause of a 1 s job gives one next run, not a burst of ten.
async fn resume_computes_the_next_run_from_now(engine: Engine) {
    let app = spawn_app_on_with(engine, scheduler_on()).await;
    app.create_job(&interval_job("tick", 1)).await;
    wait_for("a first run", Duration::from_secs(5), || async {
        (app.run_count("tick").await >= 1).then_some(())
    })
    .await;
    app.call(Method::POST, "/jobs/tick/pause", Some(ADMIN_KEY), None)
        .await;
    let before = app.run_count("tick").await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(
        app.run_count("tick").await,
        before,
        "nothing ran while paused"
    );
    let (status, body) = app
        .call(Method::POST, "/jobs/tick/resume", Some(ADMIN_KEY), None)
        .await;
    assert_eq!(status, 200, "{body}");
    let next = body["data"]["next_run_time"]
        .as_str()
        .expect("next run")
        .to_string();
    let next = chrono::DateTime::parse_from_rfc3339(&next).expect("time");
    let lead = next.signed_duration_since(chrono::Utc::now());
    assert!(
        lead > chrono::Duration::milliseconds(-100) && lead <= chrono::Duration::seconds(1),
        "next run within a second: {lead}"
    );
    wait_for("a run after resume", Duration::from_secs(5), || async {
        (app.run_count("tick").await > before).then_some(())
    })
    .await;
    let sql = "SELECT count(*) FROM job_runs WHERE job_id = 'tick' AND (status IN ('missed', 'skipped') OR occurrences > 1)";
    assert_eq!(
        app.count(sql).await,
        0,
        "no misfire burst and no catch-up after resume"
    );
}

/// Run-now on a paused job runs it once, records it as manual, and leaves it paused.
async fn run_now_on_a_paused_job_runs_once_and_leaves_it_paused(engine: Engine) {
    let app = spawn_app_on_with(engine, scheduler_on()).await;
    let mut body = interval_job("manual", 3600);
    body["paused"] = json!(true);
    app.create_job(&body).await;
    let (status, resp) = app
        .call(Method::POST, "/jobs/manual/run", Some(ADMIN_KEY), None)
        .await;
    assert_eq!(status, 202, "{resp}");
    assert_eq!(resp["data"]["run"]["kind"], "manual");
    let run_id = resp["data"]["run"]["id"].as_i64().expect("run id");
    wait_for(
        "the manual run succeeded",
        Duration::from_secs(5),
        || async {
            let sql = format!(
                "SELECT count(*) FROM job_runs WHERE id = {run_id} AND status = 'succeeded'"
            );
            (app.count(&sql).await == 1).then_some(())
        },
    )
    .await;
    let (_, job) = app.get("/jobs/manual").await;
    assert_eq!(job["data"]["paused"], true);
    assert_eq!(job["data"]["next_run_time"], Value::Null);
    assert_eq!(job["data"]["last_run"]["status"], "succeeded");
    assert_eq!(app.run_count("manual").await, 1);
    let (status, body) = app
        .call(Method::POST, "/jobs/nope/run", Some(ADMIN_KEY), None)
        .await;
    assert_eq!(
        (status, body["detail"]["code"].clone()),
        (404, json!("JOB_NOT_FOUND"))
    );
}

/// Without a scheduler in the process, run-now is a 503 and leaves no row behind.
async fn run_now_without_a_scheduler_is_refused(engine: Engine) {
    let app = spawn_app_on(engine).await;
    app.create_job(&interval_job("j", 3600)).await;
    let (status, body) = app
        .call(Method::POST, "/jobs/j/run", Some(ADMIN_KEY), None)
        .await;
    assert_eq!(
        (status, body["detail"]["code"].clone()),
        (503, json!("SCHEDULER_NOT_RUNNING"))
    );
    assert_eq!(app.run_count("j").await, 0);
}

/// PUT on an existing job keeps its run history and recomputes its next run.
async fn replacing_a_job_keeps_its_history(engine: Engine) {
    let app = spawn_app_on_with(engine, scheduler_on()).await;
    app.create_job(&interval_job("r", 1)).await;
    wait_for("a run", Duration::from_secs(5), || async {
        (app.run_count("r").await >= 1).then_some(())
    })
    .await;
    let (status, body) = app.put("/jobs/r", &cron_job("r", "0 0 1 1 *", "UTC")).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["data"]["next_run_time"]
            .as_str()
            .is_some_and(|t| t.ends_with("-01-01T00:00:00.000Z")),
        "{body}"
    );
    assert!(app.run_count("r").await >= 1, "history kept");
}

/// `paused` and `trigger_type` filter the list.
async fn list_filters_by_paused_and_trigger_type(engine: Engine) {
    let app = spawn_app_on(engine).await;
    app.create_job(&interval_job("i1", 60)).await;
    app.create_job(&cron_job("c1", "0 3 * * *", "UTC")).await;
    let mut paused = cron_job("c2", "0 4 * * *", "UTC");
    paused["paused"] = json!(true);
    app.create_job(&paused).await;
    let ids = |body: &Value| -> Vec<String> {
        body["data"]["jobs"]
            .as_array()
            .expect("jobs")
            .iter()
            .map(|j| j["id"].as_str().expect("id").to_string())
            .collect()
    };
    let (_, body) = app.get("/jobs?paused=true").await;
    assert_eq!(ids(&body), vec!["c2"]);
    let (_, body) = app.get("/jobs?trigger_type=cron&paused=false").await;
    assert_eq!(ids(&body), vec!["c1"]);
    let (_, body) = app.get("/jobs?trigger_type=interval").await;
    assert_eq!(ids(&body), vec!["i1"]);
    let (status, _) = app.get("/jobs?trigger_type=weekly").await;
    assert_eq!(status, 422);
    let (status, _) = app.get("/jobs?paused=maybe").await;
    assert_eq!(status, 422);
}

/// Paging through 2,500 jobs while others are created and deleted returns every job that
/// existed throughout exactly once.
async fn paging_under_concurrent_changes_returns_each_stable_job_once(engine: Engine) {
    let app = spawn_app_on(engine).await;
    // Insert the stable jobs directly (the API path is tested elsewhere; this keeps the test fast).
    on_pool!(&app.pool, pool => {
    let mut tx = pool.begin().await.expect("tx");
    for i in 0..2500 {
        let sql = format!(
            "INSERT INTO jobs (id, trigger_type, cron_expr, timezone, action, next_run_at, created_at, updated_at)
             VALUES ('stable-{i:04}', 'cron', '{m} {h} * * *', 'UTC', '{{\"type\":\"noop\"}}', '2099-01-01T{h:02}:{m:02}:00.000Z',
                     '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')",
            m = i % 60,
            h = (i / 60) % 24
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut *tx)
            .await
            .expect("insert");
    }
    tx.commit().await.expect("commit");
    });
    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut page = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/jobs?limit=100&cursor={c}"),
            None => "/jobs?limit=100".to_string(),
        };
        let (status, body) = app.get(&path).await;
        assert_eq!(status, 200, "{body}");
        for job in body["data"]["jobs"].as_array().expect("jobs") {
            seen.push(job["id"].as_str().expect("id").to_string());
        }
        // Between pages: churn that lands before, inside and after the current position.
        for k in 0..3 {
            let id = format!("churn-{page}-{k}");
            let minute = (page * 7 + k * 13) % 60;
            app.create_job(&cron_job(&id, &format!("{minute} * * * *"), "UTC"))
                .await;
            if page > 0 {
                app.delete(&format!("/jobs/churn-{}-{k}", page - 1)).await;
            }
        }
        page += 1;
        match body["data"]["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let stable: Vec<&String> = seen.iter().filter(|id| id.starts_with("stable-")).collect();
    let mut unique = stable.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 2500, "every stable job seen");
    assert_eq!(stable.len(), 2500, "no stable job seen twice");
}

/// Every change made through the API is audited with the key name that made it.
async fn every_change_is_audited_with_the_key_name(engine: Engine) {
    let app = spawn_app_on_with(engine, scheduler_on()).await;
    app.create_job(&interval_job("a", 3600)).await;
    app.put("/jobs/a", &interval_job("a", 1800)).await;
    app.call(Method::POST, "/jobs/a/pause", Some(ADMIN_KEY), None)
        .await;
    app.call(Method::POST, "/jobs/a/resume", Some(ADMIN_KEY), None)
        .await;
    app.call(Method::POST, "/jobs/a/run", Some(ADMIN_KEY), None)
        .await;
    app.delete("/jobs/a").await;
    let (status, body) = app.get("/audit?job_id=a").await;
    assert_eq!(status, 200, "{body}");
    let entries = body["data"]["entries"].as_array().expect("entries");
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().expect("action"))
        .collect();
    assert_eq!(
        actions,
        vec!["delete", "run", "resume", "pause", "replace", "create"]
    );
    assert!(
        entries.iter().all(|e| e["key_name"] == "env-admin"),
        "{entries:?}"
    );
    let sql = "SELECT count(*) FROM audit_log WHERE key_name = 'env-admin' AND job_id = 'a'";
    assert_eq!(app.count(sql).await, 6);
    let (status, _) = app
        .call(Method::GET, "/audit", Some(MONITOR_KEY), None)
        .await;
    assert_eq!(status, 403);
}

/// At least 40 malformed requests each get a 4xx in the error shape, never a 500, and the
/// database is unchanged.
async fn malformed_requests_get_a_4xx_in_the_error_shape(engine: Engine) {
    let app = spawn_app_on(engine).await;
    app.create_job(&interval_job("existing", 60)).await;
    let before = job_stamps(&app.pool).await;
    let noop = json!({"type": "noop"});
    let iv = json!({"type": "interval", "seconds": 60});
    let deep = "[".repeat(10_000);
    let raw: Vec<(&str, Method, &str, &str)> = vec![
        ("not json", Method::POST, "/jobs", "{"),
        ("json array", Method::POST, "/jobs", "[]"),
        ("json string", Method::POST, "/jobs", "\"job\""),
        ("null body", Method::POST, "/jobs", "null"),
        ("empty body", Method::POST, "/jobs", ""),
        (
            "trailing garbage",
            Method::POST,
            "/jobs",
            "{\"trigger\":{\"type\":\"interval\",\"seconds\":5},\"action\":{\"type\":\"noop\"}} x",
        ),
        (
            "invalid utf-8 escape",
            Method::POST,
            "/jobs",
            "{\"id\":\"\\ud800\"}",
        ),
        ("deep nesting", Method::POST, "/jobs", &deep),
    ];
    let bodies: Vec<(&str, Method, String, Value)> = vec![
        (
            "id with slash",
            Method::POST,
            "/jobs".into(),
            json!({"id": "a/b", "trigger": iv, "action": noop}),
        ),
        (
            "id dot dot",
            Method::POST,
            "/jobs".into(),
            json!({"id": "..", "trigger": iv, "action": noop}),
        ),
        (
            "id unicode",
            Method::POST,
            "/jobs".into(),
            json!({"id": "jöb", "trigger": iv, "action": noop}),
        ),
        (
            "id empty",
            Method::POST,
            "/jobs".into(),
            json!({"id": "", "trigger": iv, "action": noop}),
        ),
        (
            "id too long",
            Method::POST,
            "/jobs".into(),
            json!({"id": "x".repeat(129), "trigger": iv, "action": noop}),
        ),
        (
            "id number",
            Method::POST,
            "/jobs".into(),
            json!({"id": 7, "trigger": iv, "action": noop}),
        ),
        (
            "name too long",
            Method::POST,
            "/jobs".into(),
            json!({"name": "n".repeat(300), "trigger": iv, "action": noop}),
        ),
        (
            "trigger string",
            Method::POST,
            "/jobs".into(),
            json!({"trigger": "hourly", "action": noop}),
        ),
        (
            "trigger no type",
            Method::POST,
            "/jobs".into(),
            json!({"trigger": {"seconds": 5}, "action": noop}),
        ),
        (
            "trigger type number",
            Method::POST,
            "/jobs".into(),
            json!({"trigger": {"type": 3}, "action": noop}),
        ),
        (
            "negative interval",
            Method::POST,
            "/jobs".into(),
            json!({"trigger": {"type": "interval", "seconds": -1}, "action": noop}),
        ),
        (
            "huge interval",
            Method::POST,
            "/jobs".into(),
            json!({"trigger": {"type": "interval", "seconds": 1e30}, "action": noop}),
        ),
        (
            "interval overflow",
            Method::POST,
            "/jobs".into(),
            json!({"trigger": {"type": "interval", "seconds": u64::MAX}, "action": noop}),
        ),
        (
            "float interval",
            Method::POST,
            "/jobs".into(),
            json!({"trigger": {"type": "interval", "seconds": 1.5}, "action": noop}),
        ),
        (
            "interval extra field",
            Method::POST,
            "/jobs".into(),
            json!({"trigger": {"type": "interval", "seconds": 5, "every": 2}, "action": noop}),
        ),
        (
            "bad start_at",
            Method::POST,
            "/jobs".into(),
            json!({"trigger": {"type": "interval", "seconds": 5, "start_at": "tomorrow"}, "action": noop}),
        ),
        (
            "cron empty",
            Method::POST,
            "/jobs".into(),
            json!({"trigger": {"type": "cron", "expr": ""}, "action": noop}),
        ),
        (
            "cron too many fields",
            Method::POST,
            "/jobs".into(),
            json!({"trigger": {"type": "cron", "expr": "* * * * * * *"}, "action": noop}),
        ),
        (
            "cron never",
            Method::POST,
            "/jobs".into(),
            json!({"trigger": {"type": "cron", "expr": "0 0 30 2 *"}, "action": noop}),
        ),
        (
            "cron unicode",
            Method::POST,
            "/jobs".into(),
            json!({"trigger": {"type": "cron", "expr": "０ * * * *"}, "action": noop}),
        ),
        (
            "timezone empty",
            Method::POST,
            "/jobs".into(),
            json!({"trigger": {"type": "cron", "expr": "0 * * * *", "timezone": ""}, "action": noop}),
        ),
        (
            "date year 10000",
            Method::POST,
            "/jobs".into(),
            json!({"trigger": {"type": "date", "run_at": "10000-01-01T00:00:00Z"}, "action": noop}),
        ),
        (
            "date no zone",
            Method::POST,
            "/jobs".into(),
            json!({"trigger": {"type": "date", "run_at": "2099-01-01T00:00:00"}, "action": noop}),
        ),
        (
            "action missing type",
            Method::POST,
            "/jobs".into(),
            json!({"trigger": iv, "action": {}}),
        ),
        (
            "action unknown type",
            Method::POST,
            "/jobs".into(),
            json!({"trigger": iv, "action": {"type": "email"}}),
        ),
        (
            "noop with field",
            Method::POST,
            "/jobs".into(),
            json!({"trigger": iv, "action": {"type": "noop", "x": 1}}),
        ),
        (
            "http no url",
            Method::POST,
            "/jobs".into(),
            json!({"trigger": iv, "action": {"type": "http"}}),
        ),
        (
            "http bad method",
            Method::POST,
            "/jobs".into(),
            json!({"trigger": iv, "action": {"type": "http", "url": "http://127.0.0.1:1/", "method": "BREW"}}),
        ),
        (
            "http zero timeout",
            Method::POST,
            "/jobs".into(),
            json!({"trigger": iv, "action": {"type": "http", "url": "http://127.0.0.1:1/", "timeout_seconds": 0}}),
        ),
        (
            "http too many headers",
            Method::POST,
            "/jobs".into(),
            json!({"trigger": iv, "action": {"type": "http", "url": "http://127.0.0.1:1/",
            "headers": (0..40).map(|i| (format!("x-h{i}"), json!("v"))).collect::<serde_json::Map<_, _>>()}}),
        ),
        (
            "http bad header name",
            Method::POST,
            "/jobs".into(),
            json!({"trigger": iv, "action": {"type": "http", "url": "http://127.0.0.1:1/", "headers": {"bad header": "v"}}}),
        ),
        (
            "grace negative",
            Method::POST,
            "/jobs".into(),
            json!({"trigger": iv, "action": noop, "misfire_grace_seconds": -1}),
        ),
        (
            "grace huge",
            Method::POST,
            "/jobs".into(),
            json!({"trigger": iv, "action": noop, "misfire_grace_seconds": 4_000_000_000u64}),
        ),
        (
            "max_instances zero",
            Method::POST,
            "/jobs".into(),
            json!({"trigger": iv, "action": noop, "max_instances": 0}),
        ),
        (
            "coalesce string",
            Method::POST,
            "/jobs".into(),
            json!({"trigger": iv, "action": noop, "coalesce": "yes"}),
        ),
        (
            "paused number",
            Method::POST,
            "/jobs".into(),
            json!({"trigger": iv, "action": noop, "paused": 1}),
        ),
        (
            "jitter too big",
            Method::POST,
            "/jobs".into(),
            json!({"trigger": iv, "action": noop, "jitter_seconds": 999_999}),
        ),
        (
            "unknown top field",
            Method::POST,
            "/jobs".into(),
            json!({"trigger": iv, "action": noop, "owner": "me"}),
        ),
        (
            "duplicate id",
            Method::POST,
            "/jobs".into(),
            json!({"id": "existing", "trigger": iv, "action": noop}),
        ),
        (
            "put id mismatch",
            Method::PUT,
            "/jobs/existing".into(),
            json!({"id": "other", "trigger": iv, "action": noop}),
        ),
        (
            "put bad path id",
            Method::PUT,
            "/jobs/b%20d".into(),
            json!({"trigger": iv, "action": noop}),
        ),
        (
            "put unicode path",
            Method::PUT,
            "/jobs/%C3%A9".into(),
            json!({"trigger": iv, "action": noop}),
        ),
    ];
    let queries: Vec<(&str, &str)> = vec![
        ("limit zero", "/jobs?limit=0"),
        ("limit huge", "/jobs?limit=99999999999999"),
        ("limit text", "/jobs?limit=ten"),
        ("unknown param", "/jobs?colour=red"),
        ("bad cursor", "/jobs?cursor=%%%"),
        ("preview count huge", "/jobs/existing/preview?count=100000"),
        ("preview bad from", "/jobs/existing/preview?from=yesterday"),
        ("runs bad cursor", "/jobs/existing/runs?cursor=abc"),
        ("get dot dot", "/jobs/.."),
        ("get unknown", "/jobs/%E2%98%83"),
    ];
    let mut total = 0;
    let check = |what: &str, status: u16, body: &Value| {
        assert!(
            (400..500).contains(&status),
            "{what}: status {status}, body {body}"
        );
        let code = body["detail"]["code"].as_str().unwrap_or_default();
        assert!(
            !code.is_empty() && code == code.to_uppercase(),
            "{what}: code in the error shape: {body}"
        );
        assert!(
            body["detail"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{what}: message: {body}"
        );
    };
    for (what, method, path, body) in raw {
        let resp = app
            .client
            .request(method, app.url(path))
            .header("X-API-Key", ADMIN_KEY)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("sent");
        let (status, json) = parse(resp).await;
        check(what, status, &json);
        total += 1;
    }
    for (what, method, path, body) in bodies {
        let (status, json) = app.call(method, &path, Some(ADMIN_KEY), Some(&body)).await;
        check(what, status, &json);
        total += 1;
    }
    for (what, path) in queries {
        let (status, json) = app.get(path).await;
        check(what, status, &json);
        total += 1;
    }
    // Wrong content type, and a body over the limit.
    let resp = app
        .client
        .post(app.url("/jobs"))
        .header("X-API-Key", ADMIN_KEY)
        .header("content-type", "text/plain")
        .body(json!({"trigger": iv, "action": noop}).to_string())
        .send()
        .await
        .expect("sent");
    let (status, json) = parse(resp).await;
    check("text/plain", status, &json);
    let (status, json) = app
        .post(
            "/jobs",
            &json!({"trigger": iv, "action": noop, "name": "x".repeat(1 << 20)}),
        )
        .await;
    check("oversized", status, &json);
    total += 2;
    assert!(total >= 40, "{total} cases");
    let after = job_stamps(&app.pool).await;
    assert_eq!(before, after, "the database is unchanged");
    assert_eq!(app.count("SELECT count(*) FROM jobs").await, 1);
}

/// Every job's id, `updated_at` and `next_run_at`: what any change to a job moves.
async fn job_stamps(pool: &Pool) -> Vec<(String, DateTime<Utc>, Option<DateTime<Utc>>)> {
    let sql = "SELECT id, updated_at, next_run_at FROM jobs ORDER BY id";
    on_pool!(pool, p => sqlx::query_as(sql).fetch_all(p).await).expect("job stamps")
}

/// A manual run asked for at the exact instant of a scheduled occurrence takes the next
/// millisecond, so the occurrence keeps its own row when it is claimed.
#[tokio::test]
async fn a_manual_run_never_takes_the_instant_of_a_scheduled_occurrence() {
    use chrono::{TimeZone, Utc};
    use schedlite::actions::Action;
    use schedlite::model::{JobSettings, NewJob};
    use schedlite::schedule::Trigger;
    use schedlite::store::Store;

    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(&dir.path().join("m.db"), true)
        .await
        .expect("open");
    store.migrate().await.expect("migrate");
    let job = NewJob {
        id: "every-second".into(),
        name: None,
        trigger: Trigger::cron("* * * * * *", "UTC").expect("cron"),
        action: Action::Noop,
        settings: JobSettings::default(),
        paused: true,
        expect: None,
        history: None,
        retry: Default::default(),
        exclusive: None,
    };
    let on_the_second = Utc
        .with_ymd_and_hms(2030, 1, 1, 0, 0, 0)
        .single()
        .expect("instant");
    store
        .insert_job(&job, None, on_the_second, "tester")
        .await
        .expect("insert");
    let run = store
        .insert_manual_run("every-second", on_the_second, "owner-1", "tester")
        .await
        .expect("manual run")
        .expect("job exists");
    assert_eq!(
        run.scheduled_at,
        on_the_second + chrono::Duration::milliseconds(1)
    );
    let audited = store
        .list_audit(Some("every-second"), None, 10)
        .await
        .expect("audit");
    assert_eq!(audited.first().map(|e| e.action.as_str()), Some("run"));
    store.close().await;
}

/// A process another one wrongly marked stopped (a stall past the heartbeat expiry) is
/// unmarked by its own next heartbeat, so its later runs are not recovered under it.
#[tokio::test]
async fn a_heartbeat_clears_a_wrong_stop_mark() {
    use chrono::Utc;
    use schedlite::store::Store;

    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(&dir.path().join("h.db"), true)
        .await
        .expect("open");
    store.migrate().await.expect("migrate");
    let now = Utc::now();
    store
        .register_instance("stalled", 4242, "elsewhere", None, now)
        .await
        .expect("register");
    store
        .mark_instance_stopped("stalled", now)
        .await
        .expect("mark");
    let ids =
        |list: Vec<schedlite::store::Instance>| list.into_iter().map(|i| i.id).collect::<Vec<_>>();
    assert!(ids(store.unstopped_instances("me").await.expect("list")).is_empty());
    store
        .heartbeat("stalled", now + chrono::Duration::seconds(1))
        .await
        .expect("heartbeat");
    assert_eq!(
        ids(store.unstopped_instances("me").await.expect("list")),
        vec!["stalled"]
    );
    store.close().await;
}
