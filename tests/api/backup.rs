//! Online backup (issue 12, item 6): `POST /admin/backup` and `schedlite backup DEST` make a
//! consistent copy while the service fires a burst; each copy passes `integrity_check`, holds
//! every job and starts as a working server. Bad destinations are refused and nothing is
//! overwritten.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
use reqwest::Method;

use crate::helpers::cli::{assert_one_line_error, schedlite, stdout};
use crate::helpers::rows::{NOOP, insert_interval_jobs, job_definitions, open_pool};
use crate::helpers::*;

/// Jobs firing every second while the backups are taken.
const BURST_JOBS: usize = 1_000;

/// Checks that `copy` is a sound SQLite file holding exactly `jobs`, then starts a server on
/// it and reads one job through the API.
async fn assert_copy_is_complete(copy: &Path, jobs: &BTreeMap<String, String>) {
    let pool = open_pool(copy).await;
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&pool)
        .await
        .expect("integrity_check");
    assert_eq!(integrity, "ok", "{}", copy.display());
    assert_eq!(&job_definitions(&pool).await, jobs, "every job, as defined");
    pool.close().await;

    let mut restored = start_on(copy.to_path_buf(), AppOptions::default()).await;
    let (status, list) = restored.get("/jobs?limit=1000").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(
        list["data"]["jobs"].as_array().map(Vec::len),
        Some(BURST_JOBS),
        "a server on the copy serves the jobs"
    );
    let (status, job) = restored.get("/jobs/burst-00007").await;
    assert_eq!(status, 200, "{job}");
    restored.stop().await;
}

/// Both ways of taking a backup, during a burst of 1,000 jobs every second.
#[tokio::test]
async fn backups_taken_during_a_burst_are_complete_and_start_as_servers() {
    let app = spawn_app_with(scheduler_on()).await;
    let dir = app.dir.as_ref().expect("temp dir").path().to_path_buf();
    let at_once = (Utc::now(), chrono::Duration::zero());
    insert_interval_jobs(app.pool.sqlite(), "burst", BURST_JOBS, 1, at_once, NOOP).await;
    wait_for("the burst fires", Duration::from_secs(10), || async {
        (app.count("SELECT count(*) FROM job_runs").await >= BURST_JOBS as i64).then_some(())
    })
    .await;
    let jobs = job_definitions(app.pool.sqlite()).await;

    // Through the API, while the scheduler keeps writing.
    let (status, body) = app
        .call(Method::POST, "/admin/backup", Some(ADMIN_KEY), None)
        .await;
    assert_eq!(status, 201, "{body}");
    let api_copy = PathBuf::from(body["data"]["path"].as_str().expect("path"));
    assert_eq!(api_copy.parent(), Some(dir.join("backups").as_path()));
    assert_eq!(
        body["data"]["bytes"].as_u64(),
        Some(std::fs::metadata(&api_copy).expect("copy exists").len())
    );

    // Through the CLI, from another process, at the same time as the scheduler.
    let cli_copy = dir.join("cli-copy.db");
    let out = schedlite(&["backup", cli_copy.to_str().expect("utf-8")], &app.db_path);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).starts_with("backed up "), "{out:?}");

    // The backups held read snapshots while the scheduler wrote; it goes on firing.
    wait_for("the next round fires", Duration::from_secs(10), || async {
        let runs = app.count("SELECT count(*) FROM job_runs").await;
        (runs >= 2 * BURST_JOBS as i64).then_some(())
    })
    .await;
    for copy in [&api_copy, &cli_copy] {
        assert_copy_is_complete(copy, &jobs).await;
    }
}

/// A monitor key cannot take a backup; the CLI refuses an existing destination (leaving it
/// untouched), a missing directory and a missing database, each with one line.
#[tokio::test]
async fn bad_backup_requests_are_refused_and_nothing_is_overwritten() {
    let app = spawn_app().await;
    let (status, body) = app
        .call(Method::POST, "/admin/backup", Some(MONITOR_KEY), None)
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["detail"]["code"], "FORBIDDEN");
    let dir = app.dir.as_ref().expect("temp dir").path().to_path_buf();
    assert!(!dir.join("backups").exists(), "nothing was written");

    let existing = dir.join("precious.txt");
    std::fs::write(&existing, b"keep me").expect("file");
    let out = schedlite(&["backup", existing.to_str().expect("utf-8")], &app.db_path);
    assert_one_line_error(&out, &["precious.txt", "already exists"], "existing dest");
    assert_eq!(std::fs::read(&existing).expect("still there"), b"keep me");

    let nowhere = dir.join("no-such-dir").join("copy.db");
    let out = schedlite(&["backup", nowhere.to_str().expect("utf-8")], &app.db_path);
    assert_one_line_error(
        &out,
        &["copy.db", "directory does not exist"],
        "missing dir",
    );

    let missing_db = dir.join("missing.db");
    let out = schedlite(
        &["backup", dir.join("x.db").to_str().expect("utf-8")],
        &missing_db,
    );
    assert_one_line_error(&out, &["missing.db", "no such file"], "missing database");
    assert!(!missing_db.exists(), "backup never creates the database");
}
