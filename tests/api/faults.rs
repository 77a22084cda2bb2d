//! Storage faults (issue 5, item 3): a full disk, a database file moved, deleted or replaced
//! underneath the server, and a read-only file at start. Each gets a clear error on the API
//! and on `/healthz`/`/readyz`, no data already written is lost, and the service recovers
//! without a restart where it can.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;

/// Waits (5 s at most) until `/healthz` answers 503; returns its body.
async fn wait_until_healthz_fails(app: &TestApp) -> Value {
    wait_for("healthz notices", Duration::from_secs(5), || async {
        let (status, body) = app.probe("/healthz").await;
        (status == 503).then_some(body)
    })
    .await
}

/// Waits up to `timeout` until `/healthz` answers 200 again.
async fn wait_until_healthz_recovers(app: &TestApp, timeout: Duration) {
    wait_for("healthz recovers", timeout, || async {
        (app.probe("/healthz").await.0 == 200).then_some(())
    })
    .await;
}

/// Waits (5 s at most) until `job` has more than `before` succeeded runs.
async fn wait_until_runs_again(app: &TestApp, job: &str, before: i64) {
    wait_for(
        &format!("{job} runs again"),
        Duration::from_secs(5),
        || async { (app.succeeded_count(job).await > before).then_some(()) },
    )
    .await;
}

/// A full database (capped with max_page_count) refuses writes with 503 DATABASE_UNAVAILABLE,
/// shows it on /healthz and /readyz, keeps what was written, and recovers once space is freed.
#[tokio::test]
async fn a_full_database_refuses_writes_cleanly_and_recovers_when_space_is_freed() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("full.db");
    let mut config = test_config(&db, &scheduler_on());
    config.max_db_pages = Some(90);
    let mut app = start_with(config).await;
    app.dir = Some(dir.into());
    app.create_job(&interval_job("tick", 1)).await;
    wait_for("tick runs", Duration::from_secs(5), || async {
        (app.succeeded_count("tick").await >= 1).then_some(())
    })
    .await;

    let filler = |i: usize| {
        json!({"id": format!("filler-{i}"), "trigger": {"type": "interval", "seconds": 3600},
               "action": {"type": "http", "url": "http://127.0.0.1:9/", "body": "x".repeat(30_000)}})
    };
    let mut created = 0;
    let full_body = loop {
        let (status, body) = app.post("/jobs", &filler(created)).await;
        match status {
            201 => created += 1,
            503 => break body,
            other => panic!("filling: unexpected {other}: {body}"),
        }
        assert!(created < 500, "the cap was never reached");
    };
    assert_eq!(
        full_body["detail"]["code"], "DATABASE_UNAVAILABLE",
        "{full_body}"
    );
    assert!(
        full_body["detail"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("full")),
        "{full_body}"
    );
    assert!(created > 0, "some jobs fitted");

    let (status, body) = wait_for(
        "healthz reports the full disk",
        Duration::from_secs(10),
        || async {
            let (status, body) = app.probe("/healthz").await;
            (status == 503).then_some((status, body))
        },
    )
    .await;
    assert_eq!(status, 503);
    assert!(
        body["data"]["database"]
            .as_str()
            .is_some_and(|m| m.contains("full")),
        "{body}"
    );
    let (status, _) = app.probe("/readyz").await;
    assert_eq!(status, 503);

    // Nothing already written is lost.
    let (status, list) = app.get("/jobs?limit=1000").await;
    assert_eq!(status, 200);
    assert_eq!(
        list["data"]["jobs"].as_array().map(Vec::len),
        Some(created + 1),
        "every stored job is readable"
    );

    // Freeing space lets the service recover by itself.
    for i in 0..created {
        let (status, body) = app.delete(&format!("/jobs/filler-{i}")).await;
        assert_eq!(status, 200, "deleting frees space: {body}");
    }
    wait_until_healthz_recovers(&app, Duration::from_secs(10)).await;
    let before = app.succeeded_count("tick").await;
    wait_until_runs_again(&app, "tick", before).await;
    let sql = "SELECT count(*) FROM job_runs WHERE job_id = 'tick' AND status = 'running'";
    assert!(app.count(sql).await <= 1);
    app.stop().await;
}

/// A database file moved away underneath the server stops the scheduler's writes and shows on
/// the probes; moving it back recovers without a restart, with nothing lost.
#[tokio::test]
async fn a_database_file_moved_away_stops_writes_and_recovers_when_restored() {
    let app = spawn_app_with(scheduler_on()).await;
    app.create_job(&interval_job("tick", 1)).await;
    wait_for("tick runs", Duration::from_secs(5), || async {
        (app.succeeded_count("tick").await >= 1).then_some(())
    })
    .await;
    let aside = app.db_path.with_extension("aside");
    std::fs::rename(&app.db_path, &aside).expect("move away");

    let body = wait_until_healthz_fails(&app).await;
    assert!(
        body["data"]["database"]
            .as_str()
            .is_some_and(|m| m.contains("deleted")),
        "{body}"
    );
    let (status, body) = app.probe("/readyz").await;
    assert_eq!(status, 503, "{body}");
    // The loop has stopped claiming: no new run while the file is away.
    let frozen = app.succeeded_count("tick").await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        app.succeeded_count("tick").await <= frozen + 1,
        "at most a run already in flight finishes"
    );
    let (status, body) = app.post("/jobs", &interval_job("while-away", 60)).await;
    assert_eq!(
        (status, body["detail"]["code"].as_str()),
        (503, Some("DATABASE_UNAVAILABLE")),
        "a write to a file that is gone: {body}"
    );

    std::fs::rename(&aside, &app.db_path).expect("move back");
    wait_until_healthz_recovers(&app, Duration::from_secs(5)).await;
    let resumed = app.succeeded_count("tick").await;
    wait_until_runs_again(&app, "tick", resumed).await;
    let (status, _) = app.get("/jobs/tick").await;
    assert_eq!(status, 200);
}

/// A file replaced by another one is reported as replaced.
#[tokio::test]
async fn a_replaced_database_file_is_reported() {
    let app = spawn_app_with(scheduler_on()).await;
    let aside = app.db_path.with_extension("aside");
    std::fs::rename(&app.db_path, &aside).expect("move away");
    std::fs::copy(&aside, &app.db_path).expect("a copy in its place");
    let body = wait_until_healthz_fails(&app).await;
    assert!(
        body["data"]["database"]
            .as_str()
            .is_some_and(|m| m.contains("replaced")),
        "{body}"
    );
}

/// An immutable (read-only) database file is refused at start with a one-line error, not a
/// panic. Root ignores file modes, so the file is made immutable with `chattr +i`; where the
/// filesystem does not support that, the test says `skipped: …` (a failure under `CI=true`).
#[test]
fn a_read_only_database_file_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("ro.db");
    let migrate = std::process::Command::new(env!("CARGO_BIN_EXE_schedlite"))
        .args(["migrate"])
        .env("SCHEDLITE_DB", &db)
        .output()
        .expect("migrate");
    assert!(migrate.status.success());
    let chattr = std::process::Command::new("chattr")
        .arg("+i")
        .arg(&db)
        .output();
    match chattr {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            let why = String::from_utf8_lossy(&out.stderr).trim().to_string();
            return skip_or_fail(&format!("chattr +i failed ({why}): read-only start"));
        }
        Err(e) => return skip_or_fail(&format!("chattr cannot run ({e}): read-only start")),
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_schedlite"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("SCHEDLITE_DB", &db)
        .env("SCHEDLITE_ADMIN_KEY", ADMIN_KEY)
        .output()
        .expect("serve");
    let _ = std::process::Command::new("chattr")
        .arg("-i")
        .arg(&db)
        .status();
    assert!(!out.status.success(), "serve must refuse a read-only file");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].contains("read-only") || errors[0].contains("readonly"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A hand edit that stores a value of the wrong type in one due job pauses that job and names
/// it in the log; every other job keeps firing, one whose name holds line breaks, quotes and
/// braces too (the claim reads its due rows one per line).
#[tokio::test]
async fn a_badly_hand_edited_job_is_paused_and_the_others_keep_firing() {
    let app = spawn_app_with(scheduler_on()).await;
    app.create_job(&interval_job("good", 1)).await;
    app.create_job(&interval_job("bad", 1)).await;
    // CHECK (misfire_grace_seconds >= 0) lets text through, as SQLite compares text above numbers.
    sqlx::query("UPDATE jobs SET misfire_grace_seconds = '60s' WHERE id = 'bad'")
        .execute(app.pool.sqlite())
        .await
        .expect("hand edit");
    sqlx::query(
        "UPDATE jobs SET name = 'two' || char(10) || 'lines \"}' || char(13, 10) WHERE id = 'good'",
    )
    .execute(app.pool.sqlite())
    .await
    .expect("a name with line breaks");
    let before = app.succeeded_count("good").await;
    wait_for("good keeps running", Duration::from_secs(6), || async {
        (app.succeeded_count("good").await >= before + 2).then_some(())
    })
    .await;
    let (paused, next): (i64, Option<String>) =
        sqlx::query_as("SELECT paused, next_run_at FROM jobs WHERE id = 'bad'")
            .fetch_one(app.pool.sqlite())
            .await
            .expect("bad row");
    assert_eq!(
        (paused, next),
        (1, None),
        "the unreadable job is paused, its definition kept"
    );
    let grace: String =
        sqlx::query_scalar("SELECT misfire_grace_seconds FROM jobs WHERE id = 'bad'")
            .fetch_one(app.pool.sqlite())
            .await
            .expect("definition");
    assert_eq!(grace, "60s", "the operator's edit is left for them to fix");
}
