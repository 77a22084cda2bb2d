//! Several processes on one file (DESIGN.md, *Firing semantics*). A serving process on another
//! host: its pid means nothing here, so its runs are trusted while its heartbeat is fresh and
//! recovered as `interrupted` once the heartbeat is older than `--heartbeat-expiry-seconds`
//! (default 10 s on SQLite). The other host is faked with an `instances` row (another hostname,
//! a live pid of this host) and a `running` run it owns. And `max_instances` across two real
//! processes.

use std::time::{Duration, Instant};

use chrono::Utc;
use sqlx::SqlitePool;

use crate::helpers::child::{Server, migrate};
use crate::helpers::clock::{parse_ts, ts};
use crate::helpers::rows::{NOOP, insert_interval_jobs, open_pool};

/// The faked instance on another host.
const OTHER: &str = "other-host-instance";

/// Registers [`OTHER`] with a heartbeat `age` old and gives it a `running` run of a job due in
/// an hour (so the server under test never claims it). Returns the run's id.
async fn fake_other_host(pool: &SqlitePool, age: chrono::Duration) -> i64 {
    let hour = (
        Utc::now() + chrono::Duration::hours(1),
        chrono::Duration::zero(),
    );
    let ids = insert_interval_jobs(pool, "far", 1, 3600, hour, NOOP).await;
    let beat = ts(Utc::now() - age);
    // pid 1 is alive on this host: only the hostname keeps the server from asking /proc.
    sqlx::query(
        "INSERT INTO instances (id, pid, hostname, proc_start, started_at, heartbeat_at)
         VALUES (?, 1, 'some-other-host', NULL, ?, ?)",
    )
    .bind(OTHER)
    .bind(&beat)
    .bind(&beat)
    .execute(pool)
    .await
    .expect("instance row");
    sqlx::query_scalar(
        "INSERT INTO job_runs (job_id, scheduled_at, occurrences, kind, status, started_at, owner_id)
         VALUES (?, ?, 1, 'scheduled', 'running', ?, ?) RETURNING id",
    )
    .bind(&ids[0])
    .bind(ts(Utc::now() - chrono::Duration::hours(2)))
    .bind(&beat)
    .bind(OTHER)
    .fetch_one(pool)
    .await
    .expect("run row")
}

/// (status, finished_at, error) of the run, and the faked instance's `stopped_at`.
async fn state(
    pool: &SqlitePool,
    run: i64,
) -> (String, Option<String>, Option<String>, Option<String>) {
    let (status, finished, error): (String, Option<String>, Option<String>) =
        sqlx::query_as("SELECT status, finished_at, error FROM job_runs WHERE id = ?")
            .bind(run)
            .fetch_one(pool)
            .await
            .expect("run");
    let stopped: Option<String> =
        sqlx::query_scalar("SELECT stopped_at FROM instances WHERE id = ?")
            .bind(OTHER)
            .fetch_one(pool)
            .await
            .expect("instance");
    (status, finished, error, stopped)
}

/// Waits (`timeout`) until the run reads `interrupted`; returns its state.
async fn wait_interrupted(
    pool: &SqlitePool,
    run: i64,
    timeout: Duration,
) -> (String, Option<String>, Option<String>, Option<String>) {
    let deadline = Instant::now() + timeout;
    loop {
        let now = state(pool, run).await;
        if now.0 != "running" {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "still running after {timeout:?}: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A heartbeat a minute old on another host is past the default expiry: the run is
/// interrupted and the instance marked stopped as soon as a server starts.
#[tokio::test(flavor = "multi_thread")]
async fn a_dead_process_on_another_host_is_recovered_with_the_default_expiry() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("hosts.db");
    migrate(&db);
    let pool = open_pool(&db).await;
    let run = fake_other_host(&pool, chrono::Duration::seconds(60)).await;

    let _server = Server::start(&db, &[]).await;
    let (status, finished, error, stopped) =
        wait_interrupted(&pool, run, Duration::from_secs(5)).await;
    assert_eq!(status, "interrupted", "{error:?}");
    assert!(finished.is_some(), "an interrupted run has a finished_at");
    assert!(
        error.as_deref().is_some_and(|e| e.contains(OTHER)),
        "the reason names the dead instance: {error:?}"
    );
    assert!(stopped.is_some(), "the dead instance is marked stopped");
}

/// A fresh heartbeat on another host is trusted until it is older than
/// `--heartbeat-expiry-seconds` (3 here), and not a moment longer than a heartbeat period
/// after that.
#[tokio::test(flavor = "multi_thread")]
async fn a_live_heartbeat_on_another_host_is_trusted_until_the_expiry() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("hosts.db");
    migrate(&db);
    let pool = open_pool(&db).await;
    let run = fake_other_host(&pool, chrono::Duration::zero()).await;
    let beat: String = sqlx::query_scalar("SELECT heartbeat_at FROM instances WHERE id = ?")
        .bind(OTHER)
        .fetch_one(&pool)
        .await
        .expect("heartbeat");
    let expires = parse_ts(&beat) + chrono::Duration::seconds(3);

    let _server = Server::start(&db, &["--heartbeat-expiry-seconds", "3"]).await;
    // Absence over a bounded window: until 0.5 s before the expiry the run stays running.
    while Utc::now() < expires - chrono::Duration::milliseconds(500) {
        let now = state(&pool, run).await;
        assert_eq!(now.0, "running", "recovered before the expiry: {now:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, finished, _, stopped) = wait_interrupted(&pool, run, Duration::from_secs(5)).await;
    assert_eq!(status, "interrupted");
    let finished = parse_ts(&finished.expect("finished_at"));
    assert!(
        finished >= expires,
        "interrupted at {} before the heartbeat expired at {}",
        ts(finished),
        ts(expires)
    );
    assert!(stopped.is_some(), "the dead instance is marked stopped");
}

/// The expiry is refused outside 2..=3600 seconds with one line naming the flag.
#[test]
fn a_bad_heartbeat_expiry_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = crate::helpers::cli::schedlite(
        &["serve", "--heartbeat-expiry-seconds", "1"],
        &dir.path().join("x.db"),
    );
    assert!(!out.status.success());
    let err = crate::helpers::cli::stderr(&out);
    assert!(err.contains("--heartbeat-expiry-seconds"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// `max_instances: 1` holds across two processes on one file: server A starts a 3 s command
/// of an every-second job, then gets SIGTERM and stops claiming while the command finishes in
/// its shutdown grace; server B, sharing the file, must skip the occurrences due meanwhile
/// (A's run reads `running` in the file) and run the job again only once A's run is over.
#[tokio::test(flavor = "multi_thread")]
async fn max_instances_holds_across_two_processes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("two.db");
    let mut a = Server::start(&db, &["--allow-command-jobs"]).await;
    a.create_job(&serde_json::json!({"id": "slow",
        "trigger": {"type": "interval", "seconds": 1},
        "action": {"type": "command", "program": "sleep", "args": ["3"], "timeout_seconds": 10},
        "max_instances": 1}))
        .await;
    let pool = open_pool(&db).await;
    let owner_a = a.instance_id(&pool).await;
    let count = |sql: &'static str, owner: String| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(owner)
                .fetch_one(&pool)
                .await
                .expect("count")
        }
    };
    crate::helpers::wait_for("A runs the job", Duration::from_secs(5), || async {
        let sql = "SELECT count(*) FROM job_runs WHERE status = 'running' AND owner_id = ?";
        (count(sql, owner_a.clone()).await > 0).then_some(())
    })
    .await;
    let mut b = Server::start(&db, &["--allow-command-jobs"]).await;
    let owner_b = b.instance_id(&pool).await;
    a.signal("TERM");
    let status = a.wait_exit(Duration::from_secs(15)).await;
    assert!(status.is_some_and(|s| s.success()), "A exits 0: {status:?}");
    crate::helpers::wait_for("B runs the job", Duration::from_secs(10), || async {
        let sql = "SELECT count(*) FROM job_runs WHERE status = 'succeeded' AND owner_id = ?";
        (count(sql, owner_b.clone()).await > 0).then_some(())
    })
    .await;
    b.signal("TERM");
    let status = b.wait_exit(Duration::from_secs(15)).await;
    assert!(status.is_some_and(|s| s.success()), "B exits 0: {status:?}");

    /// status, started_at, finished_at, error, owner_id
    type Row = (
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT status, started_at, finished_at, error, owner_id FROM job_runs
         WHERE job_id = 'slow' ORDER BY scheduled_at",
    )
    .fetch_all(&pool)
    .await
    .expect("runs");
    let mut ran: Vec<(String, String)> = rows
        .iter()
        .filter(|r| r.0 == "succeeded")
        .map(|r| {
            (
                r.1.clone().expect("started"),
                r.2.clone().expect("finished"),
            )
        })
        .collect();
    ran.sort();
    for pair in ran.windows(2) {
        assert!(
            pair[0].1 <= pair[1].0,
            "runs overlap across processes: {pair:?}; {rows:?}"
        );
    }
    let skipped_by_b = rows
        .iter()
        .filter(|r| r.0 == "skipped" && r.4.as_deref() == Some(owner_b.as_str()))
        .count();
    assert!(
        skipped_by_b > 0,
        "B skipped while A's run went on: {rows:?}"
    );
    assert!(
        rows.iter()
            .filter(|r| r.0 == "skipped")
            .all(|r| r.3.as_deref().is_some_and(|e| e.contains("max_instances"))),
        "{rows:?}"
    );
}
