//! Retries under SIGKILL (issue 12, item 1: "the torture test covers retries"): servers whose
//! jobs fail every attempt are killed at random moments and restarted on the same file, while
//! the attempts go on. The target notes each request's `Idempotency-Key` and
//! `Schedlite-Attempt`, so an attempt executed twice leaves a trace.
//!
//! What must hold at the end, each check able to fail: every occurrence has exactly its
//! `max_attempts` rows, numbered 1…N, none running and none with a retry still pending (none
//! lost, however many kills fell between or inside attempts); no (key, attempt) arrived twice;
//! every `failed` row's attempt arrived exactly once; everything that arrived belongs to a row
//! of that attempt (`failed`, or `interrupted` by a kill after the request left).
//!
//! `RETRY_KILL_CYCLES` (default 8), `RETRY_KILL_JOBS` (default 60) and `TORTURE_SEED` (replays
//! a run; printed first).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use sqlx::SqlitePool;

use crate::helpers::child::{Server, migrate};
use crate::helpers::clock::ts;
use crate::helpers::random::{XorShift, env_number, seed_from_env};
use crate::helpers::rows::{assert_integrity_ok, open_pool};
use crate::helpers::stub::Stub;
use crate::helpers::wait_for;

/// Attempts each occurrence gets.
const ATTEMPTS: i64 = 4;

/// Kill, restart, again, while failing attempts are retried; then check every attempt.
#[tokio::test(flavor = "multi_thread")]
async fn retries_killed_at_random_moments_run_every_attempt_once() {
    let cycles: u32 = env_number("RETRY_KILL_CYCLES", 8);
    let jobs: u64 = env_number("RETRY_KILL_JOBS", 60);
    let seed = seed_from_env("TORTURE_SEED");
    eprintln!("retry kills: TORTURE_SEED={seed} RETRY_KILL_CYCLES={cycles} RETRY_KILL_JOBS={jobs}");
    let mut rng = XorShift::new(seed);
    let stub = Stub::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("retries.db");
    migrate(&db);
    let pool = open_pool(&db).await;

    // Arrange: one occurrence per job, spread over three seconds; half the targets fail at
    // once, half after 300 ms (so kills land inside attempts too); short jittered delays.
    let mut server = Server::start(&db, &[]).await;
    let first = Utc::now() + chrono::Duration::seconds(2);
    for i in 0..jobs {
        let at = first + chrono::Duration::milliseconds((3000 * i / jobs) as i64);
        let path = if i % 2 == 0 {
            "/fail"
        } else {
            "/fail-after/300"
        };
        server
            .create_job(&json!({
                "id": format!("r{i:03}"),
                "trigger": {"type": "date", "run_at": ts(at)},
                "action": {"type": "http", "method": "POST", "url": stub.url(path),
                           "timeout_seconds": 120},
                "retry": {"max_attempts": ATTEMPTS, "initial_delay_seconds": 1,
                          "max_delay_seconds": 2, "multiplier": 2.0, "jitter": true}
            }))
            .await;
    }

    // Act: kills at random moments while attempts and retries go on.
    for cycle in 1..=cycles {
        tokio::time::sleep(Duration::from_millis(rng.between(200, 1_500))).await;
        server.kill_hard().await;
        server = Server::start(&db, &[]).await;
        let twice = sent_twice(&stub);
        assert!(
            twice.is_empty(),
            "cycle {cycle}: attempts sent twice: {twice:?}"
        );
    }
    let pending = "SELECT count(*) FROM job_runs WHERE status = 'running' OR retry_at IS NOT NULL";
    let done =
        format!("SELECT count(*) FROM job_runs WHERE attempt = {ATTEMPTS} AND status <> 'running'");
    wait_for(
        "every occurrence's last attempt",
        Duration::from_secs(60),
        || async {
            let left: i64 = count(&pool, pending).await;
            let last: i64 = count(&pool, &done).await;
            (left == 0 && last == jobs as i64).then_some(())
        },
    )
    .await;
    server.signal("TERM");
    let status = server.wait_exit(Duration::from_secs(20)).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "exit 0 on SIGTERM: {status:?}"
    );

    // Assert
    assert_integrity_ok(&pool).await;
    let rows: Vec<(String, String, i64, String)> = sqlx::query_as(
        "SELECT job_id, scheduled_at, attempt, status FROM job_runs ORDER BY job_id, attempt",
    )
    .fetch_all(&pool)
    .await
    .expect("runs");
    let problems = attempt_problems(&rows, &stub);
    assert!(problems.is_empty(), "seed {seed}: {problems:#?}");
    let interrupted = rows.iter().filter(|r| r.3 == "interrupted").count();
    eprintln!(
        "retry kills: seed {seed}: {cycles} kills; {} attempts over {jobs} occurrences, \
         {interrupted} of them interrupted by a kill; {} requests, none twice",
        rows.len(),
        stub.key_counts().values().sum::<u32>(),
    );
}

/// A count on the file.
async fn count(pool: &SqlitePool, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// How many times each (key, attempt) arrived, over both failing routes.
fn arrivals(stub: &Stub) -> HashMap<(String, String), u32> {
    let mut seen = HashMap::new();
    for route in ["fail", "fail-after"] {
        for pair in stub.attempts(route) {
            *seen.entry(pair).or_default() += 1;
        }
    }
    seen
}

/// The (key, attempt) pairs that arrived more than once.
fn sent_twice(stub: &Stub) -> Vec<String> {
    let mut twice: Vec<String> = arrivals(stub)
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|((key, attempt), n)| format!("{key} attempt {attempt} x{n}"))
        .collect();
    twice.sort();
    twice
}

/// What is wrong with the rows `(job_id, scheduled_at, attempt, status)` of every occurrence
/// and the requests the target got.
fn attempt_problems(rows: &[(String, String, i64, String)], stub: &Stub) -> Vec<String> {
    let mut problems = Vec::new();
    let mut by_job: BTreeMap<&str, Vec<(&str, i64, &str)>> = BTreeMap::new();
    for (job, at, attempt, status) in rows {
        by_job.entry(job).or_default().push((at, *attempt, status));
    }
    for (job, attempts) in &by_job {
        let numbers: Vec<i64> = attempts.iter().map(|a| a.1).collect();
        if numbers != (1..=ATTEMPTS).collect::<Vec<_>>() {
            problems.push(format!("{job}: attempts {numbers:?}"));
        }
        if attempts.iter().any(|a| a.0 != attempts[0].0) {
            problems.push(format!(
                "{job}: attempts of several occurrences {attempts:?}"
            ));
        }
        if let Some(a) = attempts
            .iter()
            .find(|a| !["failed", "interrupted"].contains(&a.2))
        {
            problems.push(format!("{job}: attempt {} reads {}", a.1, a.2));
        }
    }
    let status_of: HashMap<(String, String), &str> = rows
        .iter()
        .map(|(job, at, attempt, status)| {
            (
                (format!("{job}@{at}"), attempt.to_string()),
                status.as_str(),
            )
        })
        .collect();
    let sent = arrivals(stub);
    for ((key, attempt), n) in &sent {
        match status_of.get(&(key.clone(), attempt.clone())) {
            _ if *n > 1 => problems.push(format!("{key} attempt {attempt} sent {n} times")),
            Some(_) => {}
            None => problems.push(format!("{key} attempt {attempt} sent for no row")),
        }
    }
    for (pair, status) in &status_of {
        if *status == "failed" && !sent.contains_key(pair) {
            problems.push(format!(
                "{} attempt {} reads failed but was never sent",
                pair.0, pair.1
            ));
        }
    }
    problems.sort();
    problems
}
