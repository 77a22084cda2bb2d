//! `schedlite copy --from URL --to URL` (issue 11, item 5): a SQLite file with jobs of every
//! kind, keys (one revoked), runs and audit rows is copied to a fresh PostgreSQL database and
//! back to a new SQLite file; every job, key, run and audit row read back through the store
//! equals the original. A target that is not empty is refused, and left as it was; so is a
//! source whose schema is behind this binary's, in both directions.

use std::path::Path;
use std::time::Duration;

use schedlite::store::{JobFilter, JobOrder, Store};
use serde_json::{Value, json};

use crate::helpers::cli::{assert_one_line_error, schedlite, stderr, stdout};
use crate::helpers::postgres as test_postgres;
use crate::helpers::*;

/// Everything a store holds, as the contract reads it, with audit details parsed (PostgreSQL
/// keeps them as jsonb, which normalizes the text's spacing, not its value).
async fn contents(
    db: &Path,
) -> (
    Vec<String>,
    Vec<String>,
    Vec<String>,
    Vec<(i64, String, Option<Value>)>,
) {
    let store = Store::open(db, false).await.expect("open");
    let page = store
        .list_jobs(&JobFilter::default(), JobOrder::Id, None, 1000)
        .await
        .expect("jobs");
    let jobs = page.jobs.iter().map(|j| format!("{j:?}")).collect();
    let keys = store.export_keys().await.expect("keys");
    let keys = keys.iter().map(|k| format!("{k:?}")).collect();
    let runs = store.export_runs(0, 10_000).await.expect("runs");
    let runs = runs.iter().map(|r| format!("{r:?}")).collect();
    let audit = store.list_audit(None, None, 1000).await.expect("audit");
    let audit = audit
        .into_iter()
        .map(|a| {
            let detail = a
                .detail
                .as_deref()
                .map(|d| serde_json::from_str(d).expect("json"));
            (
                a.id,
                format!("{} {} {:?} {}", a.at, a.key_name, a.action, a.job_id),
                detail,
            )
        })
        .collect();
    store.close().await;
    (jobs, keys, runs, audit)
}

/// A SQLite file holding jobs of every kind (one with health rules and history limits of its
/// own), two finished manual runs, and a revoked key.
async fn populated_file() -> TestApp {
    let mut app = spawn_app_with(scheduler_on()).await;
    app.create_job(&cron_job("nightly", "0 3 * * *", "Europe/Berlin"))
        .await;
    app.create_job(&interval_job("every-hour", 3600)).await;
    app.create_job(
        &json!({"id": "once", "trigger": {"type": "date", "run_at": "2099-01-01T00:00:00Z"},
        "action": {"type": "http", "method": "POST", "url": "http://127.0.0.1:9/hook",
                   "headers": {"X-Team": "ops"}, "body": "{}", "timeout_seconds": 5},
        "misfire_grace_seconds": 5, "coalesce": false, "max_instances": 3, "jitter_seconds": 2}),
    )
    .await;
    app.create_job(
        &json!({"id": "held", "trigger": {"type": "interval", "seconds": 60},
        "action": {"type": "noop"}, "paused": true,
        "expect": {"max_consecutive_failures": 3}, "history": {"keep_days": 7, "keep_runs": 50}}),
    )
    .await;
    for _ in 0..2 {
        let (status, body) = app.post("/jobs/every-hour/run", &json!({})).await;
        assert_eq!(status, 202, "{body}");
    }
    wait_for(
        "two finished manual runs",
        Duration::from_secs(10),
        || async { (app.succeeded_count("every-hour").await == 2).then_some(()) },
    )
    .await;
    let created = schedlite(
        &["keys", "create", "--name", "ci", "--role", "monitor"],
        &app.db_path,
    );
    assert!(created.status.success(), "{}", stderr(&created));
    let revoked = schedlite(&["keys", "revoke", "ci"], &app.db_path);
    assert!(revoked.status.success(), "{}", stderr(&revoked));
    app.stop().await;
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_to_postgres_and_back_leaves_every_row_equal() {
    let Some(pg) = test_postgres::create().await else {
        return;
    };
    let app = populated_file().await;
    let original = contents(&app.db_path).await;
    assert_eq!(original.0.len(), 4, "jobs");
    assert_eq!(original.2.len(), 2, "runs");

    let to_pg = schedlite(
        &[
            "copy",
            "--from",
            app.db_path.to_str().unwrap(),
            "--to",
            &pg.url,
        ],
        &app.db_path,
    );
    assert!(to_pg.status.success(), "{}", stderr(&to_pg));
    let pg_path = Path::new(&pg.url);
    assert_eq!(contents(pg_path).await, original, "on PostgreSQL");

    let back = app.dir.as_ref().expect("dir").path().join("back.db");
    let to_file = schedlite(
        &["copy", "--from", &pg.url, "--to", back.to_str().unwrap()],
        &app.db_path,
    );
    assert!(to_file.status.success(), "{}", stderr(&to_file));
    assert_eq!(
        stdout(&to_file).trim(),
        format!(
            "copied 4 jobs, 3 keys, 2 runs and {} audit rows from {} to {}; counts and job checksums verified",
            original.3.len(),
            pg.url,
            back.display()
        )
    );
    assert_eq!(contents(&back).await, original, "back on SQLite");

    // A server on the copy serves the jobs, and the original admin key works there.
    let mut restored = start_on(back, AppOptions::default()).await;
    let (status, job) = restored.get("/jobs/once").await;
    assert_eq!(status, 200, "{job}");
    // Header values are write-only: the stored "ops" was compared with the store above.
    assert_eq!(
        job["data"]["action"]["headers"],
        json!({"X-Team": "<redacted>"})
    );
    restored.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_is_not_empty_is_refused_and_left_alone() {
    let Some(pg) = test_postgres::create().await else {
        return;
    };
    let app = populated_file().await;
    let first = schedlite(
        &[
            "copy",
            "--from",
            app.db_path.to_str().unwrap(),
            "--to",
            &pg.url,
        ],
        &app.db_path,
    );
    assert!(first.status.success(), "{}", stderr(&first));
    let before = contents(Path::new(&pg.url)).await;

    let again = schedlite(
        &[
            "copy",
            "--from",
            app.db_path.to_str().unwrap(),
            "--to",
            &pg.url,
        ],
        &app.db_path,
    );
    assert_one_line_error(
        &again,
        &[
            "the target is not empty (4 jobs, 3 keys, 2 runs,",
            "copy only into a new, empty database",
        ],
        "copy into a non-empty database",
    );
    assert_eq!(
        contents(Path::new(&pg.url)).await,
        before,
        "the target is unchanged"
    );

    // Onto itself: the same refusal, before anything is written.
    let onto_itself = schedlite(
        &[
            "copy",
            "--from",
            app.db_path.to_str().unwrap(),
            "--to",
            app.db_path.to_str().unwrap(),
        ],
        &app.db_path,
    );
    assert_one_line_error(
        &onto_itself,
        &["the target is not empty"],
        "copy onto itself",
    );
}

/// The version before the newest one this binary knows: a database one migration behind.
fn one_behind(versions: impl Iterator<Item = i64>) -> i64 {
    let mut versions: Vec<i64> = versions.collect();
    versions.sort_unstable();
    versions[versions.len() - 2]
}

/// A source whose schema is behind this binary's is refused in both directions with one line
/// naming both versions and the fix, before the target is touched: a new SQLite file is not
/// created, a PostgreSQL database gets no table. The source stays at its version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_whose_schema_is_behind_is_refused_in_both_directions() {
    let Some(pg) = test_postgres::create().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    let latest = Store::latest_known_version();

    // SQLite, one migration behind → PostgreSQL.
    let old_file = dir.path().join("old.db");
    let behind = one_behind(schedlite::store::sqlite::MIGRATOR.iter().map(|m| m.version));
    let pool = crate::helpers::rows::create_pool(&old_file).await;
    schedlite::store::sqlite::MIGRATOR
        .run_to(behind, &pool)
        .await
        .expect("migrate the file to the version before the newest");
    pool.close().await;
    let out = schedlite(
        &[
            "copy",
            "--from",
            old_file.to_str().unwrap(),
            "--to",
            &pg.url,
        ],
        &old_file,
    );
    let needles = [
        format!("the source's schema is at version {behind}, this binary's at {latest}"),
        "run `schedlite --db <source> migrate` first".to_string(),
    ];
    let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
    assert_one_line_error(&out, &needles, "copy from an old SQLite file");
    let target = Store::open(Path::new(&pg.url), false).await.expect("open");
    assert_eq!(
        target.schema_version().await.expect("version"),
        0,
        "the target is untouched"
    );
    target.close().await;
    let source = Store::open(&old_file, false).await.expect("open");
    assert_eq!(source.schema_version().await.expect("version"), behind);
    source.close().await;

    // PostgreSQL, one migration behind → SQLite.
    let Some(old_pg) = test_postgres::create().await else {
        return;
    };
    let behind = one_behind(schedlite_postgres::MIGRATOR.iter().map(|m| m.version));
    let pool = sqlx::PgPool::connect(&old_pg.url).await.expect("pool");
    schedlite_postgres::MIGRATOR
        .run_to(behind, &pool)
        .await
        .expect("migrate the database to the version before the newest");
    pool.close().await;
    let new_file = dir.path().join("new.db");
    let out = schedlite(
        &[
            "copy",
            "--from",
            &old_pg.url,
            "--to",
            new_file.to_str().unwrap(),
        ],
        &new_file,
    );
    let needles = [
        format!("the source's schema is at version {behind}, this binary's at {latest}"),
        "run `schedlite --db <source> migrate` first".to_string(),
    ];
    let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
    assert_one_line_error(&out, &needles, "copy from an old PostgreSQL database");
    assert!(!new_file.exists(), "the target file was not created");
    let source = Store::open(Path::new(&old_pg.url), false)
        .await
        .expect("open");
    assert_eq!(source.schema_version().await.expect("version"), behind);
    source.close().await;
}
