//! The jobs API (DESIGN.md, *API*; seed story AC 1–3).

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

crate::both_engines!(
    admin_lists_jobs_with_trigger_details,
    admin_deletes_a_job_and_the_row_is_gone,
    deleting_an_unknown_job_is_404,
    jobs_survive_a_restart_unchanged,
    created_job_reads_back_with_its_definition,
    post_without_id_generates_one,
    invalid_bodies_are_refused_with_the_field_named,
    duplicate_post_conflicts_and_put_is_idempotent,
    preview_marks_the_spring_gap_and_runs_once_on_fall_back,
    preview_marks_the_second_instant_of_a_repeated_hour,
    list_pages_with_a_cursor,
    health_probes_report_the_database
);

/// AC 1: an admin lists jobs with id, next_run_time, trigger_type and trigger_details.
async fn admin_lists_jobs_with_trigger_details(engine: Engine) {
    let app = spawn_app_on(engine).await;
    app.create_job(&interval_job("hourly", 3600)).await;
    app.create_job(&cron_job("six-hourly", "0 */6 * * *", "UTC"))
        .await;
    let (status, body) = app.get("/jobs").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok");
    let jobs = body["data"]["jobs"].as_array().expect("jobs array");
    assert_eq!(jobs.len(), 2);
    let by_id = |id: &str| {
        jobs.iter()
            .find(|j| j["id"] == id)
            .cloned()
            .expect("job listed")
    };
    let hourly = by_id("hourly");
    assert_eq!(hourly["trigger_type"], "interval");
    assert_eq!(hourly["trigger_details"], "every 3600 seconds");
    assert!(
        hourly["next_run_time"]
            .as_str()
            .is_some_and(|t| t.len() == 24 && t.ends_with('Z'))
    );
    let cron = by_id("six-hourly");
    assert_eq!(cron["trigger_type"], "cron");
    assert_eq!(cron["trigger_details"], "0 */6 * * *");
    // Ordered by next run time.
    let times: Vec<&str> = jobs
        .iter()
        .map(|j| j["next_run_time"].as_str().expect("time"))
        .collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted);
}

/// AC 2: delete confirms, and the row is gone from the file.
async fn admin_deletes_a_job_and_the_row_is_gone(engine: Engine) {
    let app = spawn_app_on(engine).await;
    app.create_job(&interval_job("doomed", 60)).await;
    let (status, body) = app.delete("/jobs/doomed").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"status": "ok", "data": {"message": "Job 'doomed' deleted"}})
    );
    app.assert_job_gone("doomed").await;
}

/// AC 3: deleting an unknown id is a 404 JOB_NOT_FOUND.
async fn deleting_an_unknown_job_is_404(engine: Engine) {
    let app = spawn_app_on(engine).await;
    let (status, body) = app.delete("/jobs/nope").await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        json!({"detail": {"code": "JOB_NOT_FOUND", "message": "Job 'nope' not found"}})
    );
}

/// Jobs survive a restart on the same file, unchanged.
async fn jobs_survive_a_restart_unchanged(engine: Engine) {
    let app = spawn_app_on(engine).await;
    app.create_job(&interval_job("a", 3600)).await;
    app.create_job(&cron_job("b", "30 2 * * *", "Europe/Berlin"))
        .await;
    app.create_job(&json!({"id": "c", "name": "Once", "trigger": {"type": "date", "run_at": "2099-01-01T00:00:00Z"},
        "action": {"type": "http", "url": "http://127.0.0.1:9/x", "headers": {"X-A": "1"}}, "max_instances": 3, "coalesce": false}))
        .await;
    let (_, before) = app.get("/jobs").await;
    let app = app.restart(AppOptions::default()).await;
    let (status, after) = app.get("/jobs").await;
    assert_eq!(status, 200);
    assert_eq!(before, after);
    assert_eq!(after["data"]["jobs"].as_array().map(Vec::len), Some(3));
}

/// Create returns the stored job; GET returns the same with its definition.
async fn created_job_reads_back_with_its_definition(engine: Engine) {
    let app = spawn_app_on(engine).await;
    let created = app
        .create_job(&json!({"id": "full", "name": "Nightly backup",
            "trigger": {"type": "cron", "expr": "0 3 * * *", "timezone": "Europe/Berlin"},
            "action": {"type": "noop"}, "misfire_grace_seconds": 30, "coalesce": false,
            "max_instances": 2, "jitter_seconds": 5}))
        .await;
    let (status, got) = app.get("/jobs/full").await;
    assert_eq!(status, 200);
    assert_eq!(got["data"], created);
    assert_eq!(
        created["trigger"],
        json!({"type": "cron", "expr": "0 3 * * *", "timezone": "Europe/Berlin"})
    );
    assert_eq!(created["name"], "Nightly backup");
    assert_eq!(created["misfire_grace_seconds"], 30);
    assert_eq!(created["coalesce"], false);
    assert_eq!(created["max_instances"], 2);
    assert_eq!(created["last_run"], Value::Null);
    // Berlin 03:00 is 01:00 or 02:00 UTC.
    let next = created["next_run_time"].as_str().expect("next run");
    assert!(
        next.ends_with(":00:00.000Z") && (next.contains("T01:") || next.contains("T02:")),
        "{next}"
    );
}

/// An id is generated when POST leaves it out.
async fn post_without_id_generates_one(engine: Engine) {
    let app = spawn_app_on(engine).await;
    let job = app
        .create_job(
            &json!({"trigger": {"type": "interval", "seconds": 5}, "action": {"type": "noop"}}),
        )
        .await;
    let id = job["id"].as_str().expect("id");
    assert!(id.starts_with("job-") && id.len() > 4, "{id}");
}

/// Bad triggers and bodies get 422 with the DESIGN.md code and a message naming the field;
/// nothing is stored.
async fn invalid_bodies_are_refused_with_the_field_named(engine: Engine) {
    let app = spawn_app_on(engine).await;
    let noop = json!({"type": "noop"});
    let cases: Vec<(&str, Value, u16, &str, &str)> = vec![
        (
            "bad cron",
            json!({"trigger": {"type": "cron", "expr": "61 * * * *"}, "action": noop}),
            422,
            "INVALID_TRIGGER",
            "trigger.expr",
        ),
        (
            "unknown timezone",
            json!({"trigger": {"type": "cron", "expr": "0 3 * * *", "timezone": "Mars/Olympus"}, "action": noop}),
            422,
            "INVALID_TRIGGER",
            "trigger.timezone",
        ),
        (
            "date in the past",
            json!({"trigger": {"type": "date", "run_at": "2001-01-01T00:00:00Z"}, "action": noop}),
            422,
            "INVALID_TRIGGER",
            "trigger.run_at",
        ),
        (
            "end before start",
            json!({"trigger": {"type": "interval", "seconds": 5, "start_at": "2099-01-02T00:00:00Z", "end_at": "2099-01-01T00:00:00Z"}, "action": noop}),
            422,
            "INVALID_TRIGGER",
            "end_at",
        ),
        (
            "missing trigger",
            json!({"action": noop}),
            422,
            "VALIDATION_ERROR",
            "trigger",
        ),
        (
            "missing action",
            json!({"trigger": {"type": "interval", "seconds": 5}}),
            422,
            "VALIDATION_ERROR",
            "action",
        ),
        (
            "wrong type",
            json!({"trigger": {"type": "interval", "seconds": "often"}, "action": noop}),
            422,
            "VALIDATION_ERROR",
            "trigger.seconds",
        ),
        (
            "negative interval",
            json!({"trigger": {"type": "interval", "seconds": -5}, "action": noop}),
            422,
            "VALIDATION_ERROR",
            "trigger.seconds",
        ),
        (
            "zero interval",
            json!({"trigger": {"type": "interval", "seconds": 0}, "action": noop}),
            422,
            "INVALID_TRIGGER",
            "trigger.seconds",
        ),
        (
            "unknown field",
            json!({"trigger": {"type": "interval", "seconds": 5}, "action": noop, "colour": "red"}),
            422,
            "VALIDATION_ERROR",
            "colour",
        ),
        (
            "unknown trigger type",
            json!({"trigger": {"type": "weekly"}, "action": noop}),
            422,
            "VALIDATION_ERROR",
            "trigger",
        ),
        (
            "bad id",
            json!({"id": "a/b", "trigger": {"type": "interval", "seconds": 5}, "action": noop}),
            422,
            "VALIDATION_ERROR",
            "id",
        ),
        (
            "huge max_instances",
            json!({"trigger": {"type": "interval", "seconds": 5}, "action": noop, "max_instances": 99999999999u64}),
            422,
            "VALIDATION_ERROR",
            "max_instances",
        ),
        (
            "command disabled",
            json!({"trigger": {"type": "interval", "seconds": 5}, "action": {"type": "command", "program": "true"}}),
            422,
            "COMMAND_JOBS_DISABLED",
            "allow-command-jobs",
        ),
        (
            "bad url",
            json!({"trigger": {"type": "interval", "seconds": 5}, "action": {"type": "http", "url": "ftp://x"}}),
            422,
            "VALIDATION_ERROR",
            "action.url",
        ),
    ];
    for (what, body, status, code, needle) in cases {
        let (got_status, got) = app.post("/jobs", &body).await;
        assert_eq!(got_status, status, "{what}: {got}");
        assert_eq!(got["detail"]["code"], code, "{what}: {got}");
        let message = got["detail"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(needle),
            "{what}: message {message:?} should name {needle:?}"
        );
    }
    assert_eq!(
        app.count("SELECT count(*) FROM jobs").await,
        0,
        "nothing stored"
    );
}

/// Malformed JSON is a 400 in the error shape; a body over the limit is a 413.
#[tokio::test]
async fn malformed_and_oversized_bodies_are_refused() {
    let app = spawn_app().await;
    let resp = app
        .client
        .post(app.url("/jobs"))
        .header("X-API-Key", ADMIN_KEY)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("sent");
    let (status, body) = parse(resp).await;
    assert_eq!(status, 400);
    assert_eq!(body["detail"]["code"], "INVALID_JSON");
    let big = json!({"trigger": {"type": "interval", "seconds": 5}, "action": {"type": "noop"}, "name": "x".repeat(100_000)});
    let (status, body) = app.post("/jobs", &big).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["detail"]["code"], "PAYLOAD_TOO_LARGE");
}

/// A body that is a JSON array where an object is documented is a 422 naming the body, never
/// read field by field as serde's derived structs would (`[null, null]` was an empty pause),
/// and nothing changes.
#[tokio::test]
async fn an_array_is_not_an_object_body() {
    let app = spawn_app().await;
    app.create_job(&interval_job("arr", 60)).await;
    for (path, body) in [
        ("/jobs/arr/pause", json!([null, null])),
        ("/jobs/arr/skip", json!([1, "r"])),
        ("/jobs", json!(["x", {"type": "noop"}])),
    ] {
        let (status, answer) = app.post(path, &body).await;
        assert_eq!(
            (status, answer["detail"].clone()),
            (
                422,
                json!({"code": "VALIDATION_ERROR",
                    "message": "body: invalid type: sequence, expected an object"})
            ),
            "{path} {body}"
        );
    }
    let (_, job) = app.get("/jobs/arr").await;
    assert_eq!(
        (&job["data"]["paused"], &job["data"]["skip"]),
        (&json!(false), &Value::Null)
    );
}

/// A duplicate id on POST is a 409; PUT twice with one body leaves one job.
async fn duplicate_post_conflicts_and_put_is_idempotent(engine: Engine) {
    let app = spawn_app_on(engine).await;
    app.create_job(&interval_job("dup", 60)).await;
    let (status, body) = app.post("/jobs", &interval_job("dup", 60)).await;
    assert_eq!(status, 409);
    assert_eq!(
        body,
        json!({"detail": {"code": "JOB_ALREADY_EXISTS", "message": "Job 'dup' already exists"}})
    );

    let put_body = cron_job("declared", "0 3 * * *", "UTC");
    let (first, _) = app.put("/jobs/declared", &put_body).await;
    let (second, body) = app.put("/jobs/declared", &put_body).await;
    assert_eq!((first, second), (201, 200), "{body}");
    assert_eq!(
        app.count("SELECT count(*) FROM jobs WHERE id = 'declared'")
            .await,
        1
    );
    let (status, _) = app
        .put("/jobs/declared", &cron_job("other", "0 3 * * *", "UTC"))
        .await;
    assert_eq!(status, 422, "body id must match the path");
}

/// Preview of a daily 02:30 Berlin job across both DST changes of 2026.
async fn preview_marks_the_spring_gap_and_runs_once_on_fall_back(engine: Engine) {
    let app = spawn_app_on(engine).await;
    app.create_job(&cron_job("berlin", "30 2 * * *", "Europe/Berlin"))
        .await;
    // Saturday before the last Sunday of March 2026 (29 March).
    let (status, body) = app
        .get("/jobs/berlin/preview?count=3&from=2026-03-28T00:00:00Z")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["times"],
        json!([
            {"utc": "2026-03-28T01:30:00.000Z", "local": "2026-03-28T02:30:00.000+01:00", "dst": null},
            {"utc": "2026-03-29T01:00:00.000Z", "local": "2026-03-29T03:00:00.000+02:00", "dst": "shifted"},
            {"utc": "2026-03-30T00:30:00.000Z", "local": "2026-03-30T02:30:00.000+02:00", "dst": null},
        ])
    );
    let (_, body) = app
        .get("/jobs/berlin/preview?count=3&from=2026-10-24T12:00:00Z")
        .await;
    assert_eq!(
        body["data"]["times"],
        json!([
            {"utc": "2026-10-25T00:30:00.000Z", "local": "2026-10-25T02:30:00.000+02:00", "dst": null},
            {"utc": "2026-10-26T01:30:00.000Z", "local": "2026-10-26T02:30:00.000+01:00", "dst": null},
            {"utc": "2026-10-27T01:30:00.000Z", "local": "2026-10-27T02:30:00.000+01:00", "dst": null},
        ])
    );
    let (status, body) = app.get("/jobs/berlin/preview?count=0").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["detail"]["code"], "VALIDATION_ERROR");
}

/// Preview of an hourly Berlin job across the fall-back of 25 October 2026 (03:00 CEST becomes
/// 02:00 CET): an hourly schedule fires at every real instant that matches, so 02:30 happens
/// twice, and the second one is marked `repeated` (DESIGN.md, *Time* and *API*). The exact body.
async fn preview_marks_the_second_instant_of_a_repeated_hour(engine: Engine) {
    let app = spawn_app_on(engine).await;
    app.create_job(&cron_job("hourly", "30 * * * *", "Europe/Berlin"))
        .await;
    let (status, body) = app
        .get("/jobs/hourly/preview?count=4&from=2026-10-24T23:00:00Z")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"status": "ok", "data": {
            "job_id": "hourly",
            "timezone": "Europe/Berlin",
            "from": "2026-10-24T23:00:00.000Z",
            "times": [
                {"utc": "2026-10-24T23:30:00.000Z", "local": "2026-10-25T01:30:00.000+02:00", "dst": null},
                {"utc": "2026-10-25T00:30:00.000Z", "local": "2026-10-25T02:30:00.000+02:00", "dst": null},
                {"utc": "2026-10-25T01:30:00.000Z", "local": "2026-10-25T02:30:00.000+01:00", "dst": "repeated"},
                {"utc": "2026-10-25T02:30:00.000Z", "local": "2026-10-25T03:30:00.000+01:00", "dst": null},
            ]
        }})
    );
}

/// Pages of GET /jobs follow the cursor and cover every job exactly once.
async fn list_pages_with_a_cursor(engine: Engine) {
    let app = spawn_app_on(engine).await;
    for i in 0..25 {
        app.create_job(&interval_job(&format!("job-{i:02}"), 60 + i))
            .await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/jobs?limit=10&cursor={c}"),
            None => "/jobs?limit=10".to_string(),
        };
        let (status, body) = app.get(&path).await;
        assert_eq!(status, 200, "{body}");
        for job in body["data"]["jobs"].as_array().expect("jobs") {
            seen.push(job["id"].as_str().expect("id").to_string());
        }
        match body["data"]["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 25);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 25, "no job twice");
    let (status, body) = app.get("/jobs?limit=5000").await;
    assert_eq!(
        (status, body["detail"]["code"].clone()),
        (422, json!("VALIDATION_ERROR"))
    );
    let (status, _) = app.get("/jobs?cursor=garbage").await;
    assert_eq!(status, 422);
}

/// Unknown routes are a JSON 404 and wrong methods a JSON 405.
#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_error_shape() {
    let app = spawn_app().await;
    let (status, body) = app.get("/nothing-here").await;
    assert_eq!(status, 404);
    assert_eq!(body["detail"]["code"], "NOT_FOUND");
    let (status, body) = app
        .call(Method::PATCH, "/jobs", Some(ADMIN_KEY), None)
        .await;
    assert_eq!(status, 405);
    assert_eq!(body["detail"]["code"], "METHOD_NOT_ALLOWED");
}

/// healthz and readyz need no key and report the database.
async fn health_probes_report_the_database(engine: Engine) {
    let app = spawn_app_on(engine).await;
    app.create_job(&interval_job("h", 60)).await;
    let (status, body) = app.probe("/healthz").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["database"], "ok");
    assert_eq!(body["data"]["job_count"], 1);
    assert_eq!(
        body["data"]["schema_version"],
        body["data"]["schema_latest_known"]
    );
    assert_eq!(app.probe("/readyz").await.0, 200);
}

/// `POST /triggers/preview` (the form's live preview) gives an unsaved trigger's fire times
/// exactly as the job preview gives them for the same trigger and instant, writes nothing,
/// answers a bad trigger with the 422 `POST /jobs` gives, and is admin-only.
#[tokio::test]
async fn a_trigger_is_previewed_before_it_is_saved() {
    let app = spawn_app().await;
    let trigger = json!({"type": "cron", "expr": "30 2 * 3 0", "timezone": "Europe/Berlin"});
    let (status, body) = app
        .post(
            "/triggers/preview",
            &json!({"trigger": trigger, "count": 12}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        app.count("SELECT count(*) FROM jobs").await,
        0,
        "nothing written"
    );
    assert_eq!(body["data"]["timezone"], "Europe/Berlin");
    let from = body["data"]["from"].as_str().expect("from");
    app.create_job(&json!({"id": "twin", "trigger": trigger, "action": {"type": "noop"}}))
        .await;
    let (_, saved) = app
        .get(&format!("/jobs/twin/preview?count=12&from={from}"))
        .await;
    assert_eq!(body["data"]["times"], saved["data"]["times"]);
    let times = body["data"]["times"].as_array().expect("times");
    assert_eq!(times.len(), 12);
    assert!(times.iter().any(|t| t["dst"] == "shifted"), "{body}");

    let bad = json!({"type": "cron", "expr": "30 2 * 13 0", "timezone": "Europe/Berlin"});
    let (status, refused) = app
        .post("/triggers/preview", &json!({"trigger": bad}))
        .await;
    let (_, as_job) = app
        .post(
            "/jobs",
            &json!({"trigger": bad, "action": {"type": "noop"}}),
        )
        .await;
    assert_eq!(
        (status, &refused),
        (422, &as_job),
        "the same answer as POST /jobs"
    );
    assert_eq!(refused["detail"]["code"], "INVALID_TRIGGER");
    let cases = [
        (
            json!({"trigger": trigger, "count": 0}),
            "count: must be between 1 and 1000, got 0",
        ),
        (json!({"trigger": {"type": "interval"}}), ""),
        (json!({"trigger": trigger, "extra": 1}), ""),
    ];
    for (request, message) in cases {
        let (status, answer) = app.post("/triggers/preview", &request).await;
        assert_eq!(status, 422, "{request}: {answer}");
        if !message.is_empty() {
            assert_eq!(answer["detail"]["message"], message, "{request}");
        }
    }
    let (status, _) = app
        .call(
            Method::POST,
            "/triggers/preview",
            Some(MONITOR_KEY),
            Some(&json!({"trigger": trigger})),
        )
        .await;
    assert_eq!(status, 403);
}
