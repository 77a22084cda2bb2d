//! Real processes: crashes (SIGKILL), SIGTERM, two servers on one file (issue 3).
//!
//! Each test runs `schedlite serve` as a child process (`CARGO_BIN_EXE_schedlite`) on a SQLite
//! file in a temp dir, signals it with `kill`, and reads the rows the processes left behind
//! through its own pool. HTTP actions hit a stub on 127.0.0.1 that answers after a chosen delay
//! (30 s for "hanging" runs, so they stay `running` for as long as a test needs). The child
//! processes, the row checks and the stub are in `helpers/` (`child`, `rows`, `stub`); the
//! helpers only these tests use are at the bottom.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{Value, json};
use sqlx::SqlitePool;

use crate::helpers::child::Server;
use crate::helpers::clock::ts;
use crate::helpers::rows::{
    assert_each_owner_claimed, assert_integrity_ok, audit_occurrences, job_definitions, open_pool,
    running_runs, scalar, wait_for_occurrences,
};
use crate::helpers::stub::Stub;
use crate::helpers::wait_for;

/// A server killed with SIGKILL leaves its jobs scheduled, and the next server on the file marks
/// the killed runs `interrupted` within 5 s, with no occurrence doubled and the file intact.
#[tokio::test(flavor = "multi_thread")]
async fn sigkill_with_runs_in_flight_leaves_jobs_scheduled_and_the_next_server_interrupts_them() {
    // Arrange: server A with three jobs whose runs hang.
    let stub = Stub::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("kill.db");
    let mut a = Server::start(&db, &[]).await;
    let jobs = ["hang-0", "hang-1", "hang-2"];
    for id in jobs {
        a.create_job(&hanging_job(id, &stub)).await;
    }
    let pool = open_pool(&db).await;
    let owner_a = a.instance_id(&pool).await;
    let in_flight = wait_for_running(&pool, &owner_a, jobs.len(), &a).await;
    let definitions_before = job_definitions(&pool).await;

    // Act: SIGKILL A, start B on the same file.
    a.kill_hard().await;
    let killed_at = Instant::now();
    let b = Server::start(&db, &[]).await;
    let owner_b = b.instance_id(&pool).await;
    wait_until_none_running_of(&pool, &owner_a, "A's runs to read interrupted").await;
    let recovered_after = killed_at.elapsed();
    eprintln!("A's runs read interrupted {recovered_after:?} after SIGKILL (B started in between)");

    // Assert: the killed runs are interrupted, the jobs unchanged and still firing.
    for run_id in &in_flight {
        let (status, finished_at, error) = run_status(&pool, *run_id).await;
        assert_eq!(status, "interrupted", "run {run_id}: {error:?}");
        assert!(finished_at.is_some(), "run {run_id} has a finished_at");
    }
    assert_eq!(
        job_definitions(&pool).await,
        definitions_before,
        "the job definitions are untouched by the crash"
    );
    assert_eq!(
        scalar(
            &pool,
            "SELECT count(*) FROM jobs WHERE next_run_at IS NULL OR paused != 0"
        )
        .await,
        0,
        "every job is still scheduled"
    );
    let b_runs = wait_for_running(&pool, &owner_b, jobs.len(), &b).await;
    eprintln!(
        "runs in flight: {} killed with A ({owner_a}), {} started by B ({owner_b})",
        in_flight.len(),
        b_runs.len()
    );
    assert_eq!(
        stopped_instances(&pool).await,
        1,
        "A's instance row is marked stopped"
    );
    assert_eq!(
        stub.duplicate_keys(),
        Vec::<String>::new(),
        "idempotency keys"
    );
    assert_integrity_ok(&pool).await;
}

/// SIGTERM while an action hangs: the process exits 0 soon after the shutdown grace, its run
/// reads `interrupted` (never `running`) and its instance row is marked stopped.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_a_long_run_exits_zero_after_the_grace_and_interrupts_the_run() {
    // Arrange: one job whose run hangs, a 2 s shutdown grace.
    let stub = Stub::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("term.db");
    let mut server = Server::start(&db, &["--shutdown-grace-seconds", "2"]).await;
    server.create_job(&hanging_job("long", &stub)).await;
    let pool = open_pool(&db).await;
    let owner = server.instance_id(&pool).await;
    let in_flight = wait_for_running(&pool, &owner, 1, &server).await;

    // Act
    let termed_at = Instant::now();
    server.signal("TERM");
    let status = server.wait_exit(Duration::from_secs(8)).await;
    let took = termed_at.elapsed();
    eprintln!("exited with {status:?} {took:?} after SIGTERM (grace 2 s)");

    // Assert
    let status = status
        .unwrap_or_else(|| panic!("still running 8 s after SIGTERM; logs:\n{}", server.logs()));
    assert!(
        status.success(),
        "exit 0 on SIGTERM, got {status:?}; logs:\n{}",
        server.logs()
    );
    assert!(
        took < Duration::from_secs(5),
        "exits within ~5 s of SIGTERM with a 2 s grace, took {took:?}"
    );
    for run_id in &in_flight {
        // The action hangs for 30 s and the grace is 2 s: the only right verdict.
        let (status, finished_at, error) = run_status(&pool, *run_id).await;
        assert_eq!(status, "interrupted", "run {run_id} ({error:?})");
        assert!(finished_at.is_some(), "run {run_id} has a finished_at");
    }
    assert_eq!(running_runs(&pool).await, 0, "no run is left running");
    assert_eq!(
        live_instances(&pool).await,
        0,
        "the instance row has stopped_at set"
    );
    assert_eq!(
        scalar(&pool, "SELECT count(*) FROM jobs WHERE next_run_at IS NULL").await,
        0,
        "the job stays scheduled for the next start"
    );
}

/// SIGTERM while an action needs less than the shutdown grace: the action finishes and is
/// recorded `succeeded`, and the process exits 0 without waiting out the whole grace.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_lets_a_run_shorter_than_the_grace_finish_and_records_its_outcome() {
    // Arrange: one job whose run takes 1.5 s, a 5 s shutdown grace.
    let stub = Stub::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("grace.db");
    let mut server = Server::start(&db, &["--shutdown-grace-seconds", "5"]).await;
    server
        .create_job(&sleeping_job("short", &stub, 1_500))
        .await;
    let pool = open_pool(&db).await;
    let owner = server.instance_id(&pool).await;
    let in_flight = wait_for_running(&pool, &owner, 1, &server).await;

    // Act
    let termed_at = Instant::now();
    server.signal("TERM");
    let status = server.wait_exit(Duration::from_secs(10)).await;
    let took = termed_at.elapsed();
    eprintln!("exited with {status:?} {took:?} after SIGTERM (run 1.5 s, grace 5 s)");

    // Assert
    assert!(
        status.is_some_and(|s| s.success()),
        "exit 0 on SIGTERM, got {status:?}; logs:\n{}",
        server.logs()
    );
    assert!(
        took < Duration::from_secs(4),
        "the drain ends when the run ends, not at the end of the grace: took {took:?}"
    );
    for run_id in &in_flight {
        let (status, http_status): (String, Option<i64>) =
            sqlx::query_as("SELECT status, http_status FROM job_runs WHERE id = ?")
                .bind(run_id)
                .fetch_one(&pool)
                .await
                .expect("run row");
        assert_eq!(
            (status.as_str(), http_status),
            ("succeeded", Some(200)),
            "run {run_id} finished within the grace"
        );
    }
    assert_eq!(running_runs(&pool).await, 0, "no run is left running");
    assert_eq!(
        live_instances(&pool).await,
        0,
        "the instance row has stopped_at set"
    );
}

/// SIGINT (Ctrl-C) is a graceful stop like SIGTERM (DESIGN.md, *Firing semantics*): with a
/// 3 s grace, a run needing 1.5 s finishes and is recorded `succeeded`, a run hanging for 30 s
/// is marked `interrupted` at the end of the grace, the instance is marked stopped and the
/// process exits 0. Two date jobs at one instant, so these two rows are the only ones.
#[tokio::test(flavor = "multi_thread")]
async fn sigint_is_a_graceful_stop_like_sigterm() {
    // Arrange: both runs in flight.
    let stub = Stub::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("int.db");
    let mut server = Server::start(&db, &["--shutdown-grace-seconds", "3"]).await;
    let at = Utc::now() + chrono::Duration::seconds(3);
    for (id, ms) in [("short", 1_500), ("long", 30_000)] {
        server
            .create_job(&json!({
                "id": id,
                "trigger": {"type": "date", "run_at": ts(at)},
                "action": {"type": "http", "method": "GET", "timeout_seconds": 60,
                           "url": stub.url(&format!("/sleep/{ms}"))}
            }))
            .await;
    }
    let pool = open_pool(&db).await;
    let owner = server.instance_id(&pool).await;
    wait_for_running(&pool, &owner, 2, &server).await;
    wait_for(
        "both requests to reach the target",
        Duration::from_secs(5),
        || async { (stub.keys("sleep").len() == 2).then_some(()) },
    )
    .await;

    // Act
    let interrupted_at = Instant::now();
    server.signal("INT");
    let status = server.wait_exit(Duration::from_secs(10)).await;
    let took = interrupted_at.elapsed();
    eprintln!("exited with {status:?} {took:?} after SIGINT (grace 3 s)");

    // Assert
    assert!(
        status.is_some_and(|s| s.success()),
        "exit 0 on SIGINT, got {status:?}; logs:\n{}",
        server.logs()
    );
    assert!(
        took >= Duration::from_millis(2_900) && took < Duration::from_secs(6),
        "waits out the 3 s grace for the hanging run, then exits: took {took:?}"
    );
    let rows: Vec<(String, String, Option<i64>)> =
        sqlx::query_as("SELECT job_id, status, http_status FROM job_runs ORDER BY job_id")
            .fetch_all(&pool)
            .await
            .expect("rows");
    assert_eq!(
        rows,
        vec![
            ("long".to_string(), "interrupted".to_string(), None),
            ("short".to_string(), "succeeded".to_string(), Some(200)),
        ]
    );
    assert_eq!(
        live_instances(&pool).await,
        0,
        "the instance is marked stopped"
    );
    assert!(
        server.logs().contains("Ctrl-C received: shutting down"),
        "the log names the signal:\n{}",
        server.log_tail(20)
    );
}

/// Two servers on one file for ~10 s with 50 every-second jobs: every occurrence of every job
/// between its first and last row is accounted for exactly once, and nothing is lost at the end.
#[tokio::test(flavor = "multi_thread")]
async fn two_servers_on_one_file_account_for_every_occurrence_of_fifty_jobs_exactly_once() {
    // Arrange: 50 noop jobs every second, created through A; then B on the same file.
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("two.db");
    let (mut a, mut b, ids) = two_servers_with_noop_jobs(&db, "tick", 50).await;
    let pool = open_pool(&db).await;
    let owners = [a.instance_id(&pool).await, b.instance_id(&pool).await];

    // Act: let them fire until every job has at least 10 occurrences recorded, then SIGTERM both.
    wait_for_occurrences(&pool, 10).await;
    a.signal("TERM");
    b.signal("TERM");
    for server in [&mut a, &mut b] {
        assert_exits_zero(server, Duration::from_secs(15)).await;
    }

    // Assert: noop runs never overlap and nothing was killed, so every occurrence succeeded.
    assert_each_owner_claimed(&pool, &owners).await;
    assert_eq!(
        running_runs(&pool).await,
        0,
        "no run is left running after a clean stop"
    );
    assert_every_occurrence_once(&pool, &ids, &["succeeded"]).await;
    assert_integrity_ok(&pool).await;
}

/// Two servers on one file with 20 every-second jobs, one killed with SIGKILL midway: the
/// survivor goes on firing, and every occurrence before, across and after the crash has exactly
/// one row (the killed process's runs in flight read `interrupted`).
#[tokio::test(flavor = "multi_thread")]
async fn killing_one_of_two_servers_loses_and_doubles_no_occurrence() {
    // Arrange: 20 noop jobs every second through A; then B on the same file.
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("crash.db");
    let (mut a, mut b, ids) = two_servers_with_noop_jobs(&db, "beat", 20).await;
    let pool = open_pool(&db).await;
    let owners = [a.instance_id(&pool).await, b.instance_id(&pool).await];

    // Act: 4 occurrences each, SIGKILL A, 4 more each with B alone, SIGTERM B.
    wait_for_occurrences(&pool, 4).await;
    a.kill_hard().await;
    wait_for_occurrences(&pool, 8).await;
    b.signal("TERM");
    assert_exits_zero(&mut b, Duration::from_secs(15)).await;

    // Assert
    assert_each_owner_claimed(&pool, &owners).await;
    assert_eq!(
        running_runs(&pool).await,
        0,
        "A's runs in flight were recovered as interrupted, B's finished"
    );
    // A's row is marked stopped only if A had runs in flight when it died (recovery looks at
    // the owners of running runs), which depends on timing with noop actions: not asserted.
    let stopped: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT id, stopped_at FROM instances ORDER BY started_at")
            .fetch_all(&pool)
            .await
            .expect("instances");
    eprintln!("instances (id, stopped_at): {stopped:?}");
    assert!(
        stopped
            .iter()
            .any(|(id, at)| *id == owners[1] && at.is_some()),
        "B's instance row is marked stopped after SIGTERM: {stopped:?}"
    );
    // Only A's runs in flight at the kill may read anything but succeeded.
    assert_every_occurrence_once(&pool, &ids, &["succeeded", "interrupted"]).await;
    assert_integrity_ok(&pool).await;
}

/// A second server starting leaves the first one's live runs alone; once the first is killed,
/// the second marks those runs `interrupted` within 5 s.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_server_leaves_live_runs_alone_and_recovers_them_once_the_first_is_killed() {
    // Arrange: A with three hanging runs in flight, then B on the same file.
    let stub = Stub::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("second.db");
    let mut a = Server::start(&db, &[]).await;
    let jobs = ["live-0", "live-1", "live-2"];
    for id in jobs {
        a.create_job(&hanging_job(id, &stub)).await;
    }
    let pool = open_pool(&db).await;
    let owner_a = a.instance_id(&pool).await;
    let in_flight = wait_for_running(&pool, &owner_a, jobs.len(), &a).await;
    let b = Server::start(&db, &[]).await;
    let owner_b = b.instance_id(&pool).await;

    // Assert (absence, over a bounded 3 s): A's runs stay running while A lives.
    let watch_until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < watch_until {
        for run_id in &in_flight {
            let (status, _, error) = run_status(&pool, *run_id).await;
            assert_eq!(
                status, "running",
                "run {run_id} of live A was touched after B started ({error:?})"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        stopped_instances(&pool).await,
        0,
        "nobody is marked stopped while both live"
    );

    // Act: SIGKILL A.
    a.kill_hard().await;
    let killed_at = Instant::now();
    wait_until_none_running_of(&pool, &owner_a, "B to interrupt A's runs").await;
    eprintln!(
        "B interrupted A's runs {:?} after SIGKILL",
        killed_at.elapsed()
    );

    // Assert
    for run_id in &in_flight {
        let (status, finished_at, error) = run_status(&pool, *run_id).await;
        assert_eq!(status, "interrupted", "run {run_id}: {error:?}");
        assert!(finished_at.is_some(), "run {run_id} has a finished_at");
    }
    // B interrupts A's runs, then marks A stopped: two statements, so the mark is awaited.
    wait_for(
        "B to mark A's instance stopped",
        Duration::from_secs(5),
        || {
            let (pool, owner_a) = (&pool, &owner_a);
            async move {
                let stopped: Option<String> =
                    sqlx::query_scalar("SELECT stopped_at FROM instances WHERE id = ?")
                        .bind(owner_a)
                        .fetch_one(pool)
                        .await
                        .expect("A's instance row");
                stopped
            }
        },
    )
    .await;
    let b_runs = wait_for_running(&pool, &owner_b, jobs.len(), &b).await;
    eprintln!("B then started {} runs of its own", b_runs.len());
    assert_eq!(
        stub.duplicate_keys(),
        Vec::<String>::new(),
        "idempotency keys"
    );
}

// ---------------------------------------------------------------------------------------------
// Helpers only these tests use (the shared ones are in helpers/).
// ---------------------------------------------------------------------------------------------

/// An every-second job whose HTTP action hangs on the stub for 30 s (timeout 60 s, so it stays
/// running for the whole test).
fn hanging_job(id: &str, stub: &Stub) -> Value {
    sleeping_job(id, stub, 30_000)
}

/// An every-second job whose HTTP action gets its answer after `ms` milliseconds.
fn sleeping_job(id: &str, stub: &Stub, ms: u64) -> Value {
    json!({
        "id": id,
        "trigger": {"type": "interval", "seconds": 1},
        "action": {"type": "http", "method": "GET", "url": stub.url(&format!("/sleep/{ms}")), "timeout_seconds": 60}
    })
}

/// Starts server A on `db`, creates `n` every-second noop jobs `{prefix}-00`… through it, then
/// starts server B on the same file. Returns A, B and the job ids.
async fn two_servers_with_noop_jobs(
    db: &Path,
    prefix: &str,
    n: usize,
) -> (Server, Server, Vec<String>) {
    let a = Server::start(db, &[]).await;
    let ids: Vec<String> = (0..n).map(|i| format!("{prefix}-{i:02}")).collect();
    for id in &ids {
        a.create_job(&json!({"id": id, "trigger": {"type": "interval", "seconds": 1}, "action": {"type": "noop"}}))
            .await;
    }
    let b = Server::start(db, &[]).await;
    (a, b, ids)
}

/// Waits up to `timeout` for `server` to exit (after a SIGTERM) and asserts it exited 0.
async fn assert_exits_zero(server: &mut Server, timeout: Duration) {
    let status = server.wait_exit(timeout).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "exit 0 on SIGTERM, got {status:?}; logs:\n{}",
        server.logs()
    );
}

/// Instances not marked stopped.
async fn live_instances(pool: &SqlitePool) -> i64 {
    scalar(
        pool,
        "SELECT count(*) FROM instances WHERE stopped_at IS NULL",
    )
    .await
}

/// Instances marked stopped.
async fn stopped_instances(pool: &SqlitePool) -> i64 {
    scalar(
        pool,
        "SELECT count(*) FROM instances WHERE stopped_at IS NOT NULL",
    )
    .await
}

/// Waits (5 s at most) until no run of `owner` reads `running` (they were recovered).
async fn wait_until_none_running_of(pool: &SqlitePool, owner: &str, what: &str) {
    wait_for(what, Duration::from_secs(5), || async move {
        running_of(pool, owner).await.is_empty().then_some(())
    })
    .await;
}

/// Ids of the runs of `owner` that read `running`.
async fn running_of(pool: &SqlitePool, owner: &str) -> Vec<i64> {
    sqlx::query_scalar(
        "SELECT id FROM job_runs WHERE status = 'running' AND owner_id = ? ORDER BY id",
    )
    .bind(owner)
    .fetch_all(pool)
    .await
    .expect("running runs")
}

/// Waits (10 s at most) until `owner` has at least `n` runs in flight; returns their ids.
async fn wait_for_running(pool: &SqlitePool, owner: &str, n: usize, server: &Server) -> Vec<i64> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ids = running_of(pool, owner).await;
        if ids.len() >= n {
            return ids;
        }
        assert!(
            Instant::now() < deadline,
            "{owner} has {} runs running, wanted {n}; logs:\n{}",
            ids.len(),
            server.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Status, finished_at and error of one run.
async fn run_status(pool: &SqlitePool, run_id: i64) -> (String, Option<String>, Option<String>) {
    sqlx::query_as("SELECT status, finished_at, error FROM job_runs WHERE id = ?")
        .bind(run_id)
        .fetch_one(pool)
        .await
        .expect("run row")
}

/// Every occurrence of every job in `ids` (every second) between its start and its
/// `next_run_at` has exactly one row, and every row reads one of `statuses`
/// ([`audit_occurrences`] finds nothing wrong).
async fn assert_every_occurrence_once(pool: &SqlitePool, ids: &[String], statuses: &[&str]) {
    let audit = audit_occurrences(pool, ids, 1, statuses).await;
    eprintln!("{} occurrences over {} jobs", audit.occurrences, ids.len());
    assert_eq!(
        audit.problems,
        Vec::<String>::new(),
        "occurrences lost, doubled or with an unexpected status"
    );
}
