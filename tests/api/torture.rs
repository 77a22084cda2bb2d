//! Crash torture (issue "Reliability", item 1; issue 10, item 1): a server with every-second
//! HTTP jobs is killed with SIGKILL at random moments and restarted on the same file, cycle
//! after cycle. The jobs call an HTTP target owned by the test ([`Stub`]) that counts the
//! `Idempotency-Key` of every request, so an action executed twice leaves a trace.
//!
//! What must hold, each check able to fail:
//! - after every restart: the file is intact, the dead process's runs are recovered within
//!   5 s, the job definitions are unchanged, every other instance is marked stopped, no key
//!   has arrived twice, and the new server claims at least one run within 5 s;
//! - at the end: every instant from each job's start to the final stop is accounted for (run,
//!   `missed` with its reason, or `interrupted`) with no gap and no overlap, and each job's
//!   `next_run_at` lies within one interval of the final stop (a history that simply stops,
//!   a lost tail, fails); a `skipped` row only while the job's previous run was still going; every `succeeded` row's key arrived exactly once, and every key that
//!   arrived belongs to a `succeeded` row or to one `interrupted` by a kill after it was sent.
//!
//! `TORTURE_CYCLES` (default 20; the long mode is 200), `TORTURE_JOBS` (default 300) and
//! `TORTURE_SEED` (replays a run; printed first). [`run_torture`] is also run against a server
//! built with a deliberately broken claim (`mutation.rs`), where it must fail, and against one
//! with crash points, where half the kills land inside the claim transaction, before an
//! outcome write or inside recovery (`failpoints.rs`).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::SqlitePool;

use crate::helpers::child::{Server, migrate};
use crate::helpers::clock::{next_whole_second, parse_ts, ts};
use crate::helpers::random::{XorShift, env_number, seed_from_env};
use crate::helpers::rows::{
    assert_integrity_ok, audit_occurrences, insert_interval_jobs, job_definitions, open_pool,
    print_counts, running_runs, stale_skips,
};
use crate::helpers::stub::Stub;

/// Every job fires every second.
pub(crate) const STEP: chrono::Duration = chrono::Duration::seconds(1);

/// How far ahead of its instant the scheduler may claim an occurrence (`scheduler::LOOKAHEAD`),
/// plus slack for the order of clock reads.
const CLAIM_AHEAD: chrono::Duration = chrono::Duration::milliseconds(50);

/// Returns `Err` with the message when the condition does not hold: a failed check, as
/// opposed to a broken test environment (which panics).
macro_rules! ensure {
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            return Err(format!($($arg)+));
        }
    };
}

/// SIGKILL at random moments, restart, check, again: nothing lost, doubled or changed.
#[tokio::test(flavor = "multi_thread")]
async fn a_server_killed_at_random_moments_loses_and_doubles_no_occurrence_and_sends_no_key_twice()
{
    let cycles: u32 = env_number("TORTURE_CYCLES", 20);
    let outcome = run_torture(env!("CARGO_BIN_EXE_schedlite"), cycles, &[]).await;
    if let Err(failed) = outcome {
        panic!("torture: {failed}");
    }
}

/// Crash points that aborted a server, by name, with how many times each landed.
pub(crate) type Landed = BTreeMap<&'static str, u32>;

/// One torture run of `cycles` kills with the server binary `bin`: `Ok` when every check
/// passed, `Err` naming the first that failed. With `aims` (crash points of a build with the
/// `failpoints` feature), every second cycle arms one of them in turn instead of a random
/// SIGKILL, and the result counts those that landed.
pub(crate) async fn run_torture(
    bin: &str,
    cycles: u32,
    aims: &[&'static str],
) -> Result<Landed, String> {
    // Arrange: HTTP jobs every second, their instants spread over the second (so claims, and
    // kills inside them, happen all the time), inserted with SQL in a migrated file.
    let jobs: usize = env_number("TORTURE_JOBS", 300);
    let seed = seed_from_env("TORTURE_SEED");
    eprintln!("torture: TORTURE_SEED={seed} TORTURE_CYCLES={cycles} TORTURE_JOBS={jobs}");
    let mut rng = XorShift::new(seed);
    let stub = Stub::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("torture.db");
    migrate(&db);
    let pool = open_pool(&db).await;
    let start_at = next_whole_second(Utc::now()) + STEP;
    let stagger = STEP / i32::try_from(jobs).expect("jobs");
    // The stub answers at once; the generous timeout only keeps a machine overloaded by other
    // work from turning a slow answer into `timed_out` (seen at load average 15–21), which is
    // not what this test judges.
    let action = json!({"type": "http", "method": "POST", "url": stub.url("/ok"),
        "timeout_seconds": 120})
    .to_string();
    let ids = insert_interval_jobs(&pool, "torture", jobs, 1, (start_at, stagger), &action).await;
    let definitions = job_definitions(&pool).await;
    let began = Instant::now();

    // Act + checks after every restart.
    let mut recoveries = Vec::new();
    let mut landed = Landed::new();
    for cycle in 1..=cycles {
        if !aims.is_empty() && cycle % 2 == 0 {
            let aim = aims[(cycle as usize / 2) % aims.len()];
            // Recovery runs once, at start; the others are passed a few times first, so the
            // server is ready and has claimed before it dies.
            let passes = if aim.starts_with("recovery") {
                0
            } else {
                rng.between(5, 40)
            };
            let arm = format!("{aim}={passes}*off->return");
            if aimed_cycle(bin, &db, &pool, &definitions, cycle, (aim, &arm)).await? {
                *landed.entry(aim).or_default() += 1;
            }
            ensure!(
                stub.duplicate_keys().is_empty(),
                "cycle {cycle}: keys sent more than once: {:?}",
                stub.duplicate_keys()
            );
            continue;
        }
        let (mut server, recovery) = restart(bin, &db, &pool, &definitions, cycle).await?;
        recoveries.push(recovery);
        ensure!(
            stub.duplicate_keys().is_empty(),
            "cycle {cycle}: keys sent more than once: {:?}",
            stub.duplicate_keys()
        );
        tokio::time::sleep(Duration::from_millis(rng.between(0, 1_500))).await;
        server.kill_hard().await;
    }

    // The last server recovers, runs a while and stops cleanly.
    let (mut server, recovery) = restart(bin, &db, &pool, &definitions, cycles + 1).await?;
    recoveries.push(recovery);
    tokio::time::sleep(Duration::from_millis(rng.between(2_000, 3_000))).await;
    let stop_at = Utc::now();
    server.signal("TERM");
    let status = server.wait_exit(Duration::from_secs(20)).await;
    ensure!(
        status.is_some_and(|s| s.success()),
        "the last server exits 0 on SIGTERM, got {status:?}; logs:\n{}",
        server.log_tail(30)
    );

    // Checks on the whole history.
    print_counts(&pool).await;
    ensure!(
        running_runs(&pool).await == 0,
        "a run is left running after the clean stop"
    );
    ensure!(
        job_definitions(&pool).await == definitions,
        "job definitions changed"
    );
    assert_integrity_ok(&pool).await;
    // Nothing is missed (a restart takes far less than the 60 s grace). An occurrence may be
    // skipped only while the job's previous run was still going (an HTTP call slower than the
    // interval on a loaded machine; `max_instances` is 1), never after it had finished.
    let audit = audit_occurrences(&pool, &ids, 1, &["succeeded", "interrupted", "skipped"]).await;
    ensure!(
        audit.problems.is_empty(),
        "occurrences lost, doubled or mislabelled (seed {seed}, {} problems in all): {:#?}",
        audit.problems.len(),
        audit.first_problems(20)
    );
    let stale = stale_skips(&pool).await;
    ensure!(
        stale == 0,
        "{stale} occurrences were skipped although the job's previous run had finished"
    );
    let tail = tail_problems(&pool, stop_at).await;
    ensure!(
        tail.is_empty(),
        "a job's history does not reach the final stop at {} (seed {seed}, {} jobs): {:#?}",
        ts(stop_at),
        tail.len(),
        &tail[..tail.len().min(20)]
    );
    let keys = key_problems(&pool, &stub).await?;
    let slowest = recoveries.iter().max().copied().unwrap_or_default();
    eprintln!(
        "torture: seed {seed}: {cycles} cycles survived in {:?}; slowest recovery {slowest:?}; \
         {} occurrences over {} jobs checked; {} requests, {keys} of them for runs then \
         interrupted by a kill; crash points that landed: {landed:?}",
        began.elapsed(),
        audit.occurrences,
        ids.len(),
        stub.key_counts().len(),
    );
    Ok(landed)
}

/// One cycle whose server has the crash point `aim` armed (`arm`, a `FAILPOINTS` value): the
/// server dies there, either before it is ready (recovery at start) or after the checks of
/// [`restart`]; if the point never triggers within 5 s, it is killed like any other. Returns
/// whether it died at the point; dying anywhere else is a failure.
async fn aimed_cycle(
    bin: &str,
    db: &Path,
    pool: &SqlitePool,
    definitions: &BTreeMap<String, String>,
    cycle: u32,
    (aim, arm): (&str, &str),
) -> Result<bool, String> {
    let marker = format!("crash point {aim}: aborting");
    let mut server = match Server::launch(bin, db, &[], &[("FAILPOINTS", arm)]).await {
        Err(logs) => {
            ensure!(
                logs.contains(&marker),
                "cycle {cycle}: the server armed with {arm} exited before it was ready, but not \
                 there; logs:\n{logs}"
            );
            return Ok(true);
        }
        Ok(server) => server,
    };
    let owner = server.instance_id(pool).await;
    wait_until_only_owner_runs(pool, &owner, &server, cycle).await?;
    check_file_after_restart(pool, definitions, &owner, cycle, &server).await?;
    wait_until_claimed(pool, &owner, &server, cycle).await?;
    if server.wait_exit(Duration::from_secs(5)).await.is_none() {
        server.kill_hard().await;
        return Ok(false);
    }
    ensure!(
        server.logs().contains(&marker),
        "cycle {cycle}: the server armed with {arm} died, but not there; logs:\n{}",
        server.log_tail(30)
    );
    Ok(true)
}

/// Starts a server on `db`, waits until it has recovered the runs of the dead ones and claimed
/// a run of its own, and checks the file. Returns the server and how long recovery took.
async fn restart(
    bin: &str,
    db: &Path,
    pool: &SqlitePool,
    definitions: &BTreeMap<String, String>,
    cycle: u32,
) -> Result<(Server, Duration), String> {
    let server = Server::start_bin(bin, db, &[], &[]).await;
    let owner = server.instance_id(pool).await;
    let recovery = wait_until_only_owner_runs(pool, &owner, &server, cycle).await?;
    check_file_after_restart(pool, definitions, &owner, cycle, &server).await?;
    wait_until_claimed(pool, &owner, &server, cycle).await?;
    Ok((server, recovery))
}

/// Waits (5 s at most) until every `running` run belongs to `owner`, the live server: the runs
/// of the killed ones are recovered. Returns how long that took.
async fn wait_until_only_owner_runs(
    pool: &SqlitePool,
    owner: &str,
    server: &Server,
    cycle: u32,
) -> Result<Duration, String> {
    let since = Instant::now();
    let deadline = since + Duration::from_secs(5);
    loop {
        let foreign: Vec<(Option<String>, i64)> = sqlx::query_as(
            "SELECT owner_id, count(*) FROM job_runs WHERE status = 'running'
             AND (owner_id IS NULL OR owner_id != ?) GROUP BY owner_id",
        )
        .bind(owner)
        .fetch_all(pool)
        .await
        .expect("running runs by owner");
        if foreign.is_empty() {
            return Ok(since.elapsed());
        }
        ensure!(
            Instant::now() < deadline,
            "cycle {cycle}: 5 s after restart, runs of dead owners still read running: \
             {foreign:?}; logs:\n{}",
            server.log_tail(30)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits (5 s at most: five instants of every job) until `owner` has claimed a run: a
/// restarted server that stops firing fails here.
async fn wait_until_claimed(
    pool: &SqlitePool,
    owner: &str,
    server: &Server,
    cycle: u32,
) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let claimed: i64 = sqlx::query_scalar("SELECT count(*) FROM job_runs WHERE owner_id = ?")
            .bind(owner)
            .fetch_one(pool)
            .await
            .expect("runs of the owner");
        if claimed > 0 {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "cycle {cycle}: the restarted server claimed no run in 5 s; logs:\n{}",
            server.log_tail(30)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What must hold once a restarted server has recovered: the file is intact, the definitions
/// are the ones created, and every other instance is marked stopped.
async fn check_file_after_restart(
    pool: &SqlitePool,
    definitions: &BTreeMap<String, String>,
    owner: &str,
    cycle: u32,
    server: &Server,
) -> Result<(), String> {
    assert_integrity_ok(pool).await;
    let now = job_definitions(pool).await;
    if &now != definitions {
        let changed: Vec<_> = definitions
            .iter()
            .filter(|(id, def)| now.get(*id) != Some(def))
            .take(3)
            .collect();
        return Err(format!(
            "cycle {cycle}: the jobs table changed ({} jobs now, {} created); first changes: \
             {changed:?}",
            now.len(),
            definitions.len()
        ));
    }
    let alive: Vec<String> =
        sqlx::query_scalar("SELECT id FROM instances WHERE stopped_at IS NULL AND id != ?")
            .bind(owner)
            .fetch_all(pool)
            .await
            .expect("instances");
    ensure!(
        alive.is_empty(),
        "cycle {cycle}: dead instances {alive:?} not marked stopped after restart; logs:\n{}",
        server.log_tail(30)
    );
    Ok(())
}

/// The jobs whose `next_run_at` is not within one interval of `stop_at`: every occurrence due
/// before the stop was claimed (the last covered one is at most one interval before it), and
/// none was claimed further ahead than the scheduler's lookahead.
async fn tail_problems(pool: &SqlitePool, stop_at: DateTime<Utc>) -> Vec<String> {
    let jobs: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT id, next_run_at FROM jobs ORDER BY id")
            .fetch_all(pool)
            .await
            .expect("jobs");
    tail_problems_in(&jobs, (stop_at, stop_at))
}

/// [`tail_problems`] on `(id, next_run_at)` rows already read, from either engine, for a stop
/// seen at `(earliest, latest)` by the clocks of the servers (one instant when they share a
/// clock): `next_run_at` after `earliest - STEP` and at most `latest + STEP` plus the lookahead.
pub(crate) fn tail_problems_in(
    jobs: &[(String, Option<String>)],
    (earliest, latest): (DateTime<Utc>, DateTime<Utc>),
) -> Vec<String> {
    jobs.iter()
        .filter_map(|(id, next)| {
            let ok = next
                .as_deref()
                .map(parse_ts)
                .is_some_and(|next| next > earliest - STEP && next <= latest + STEP + CLAIM_AHEAD);
            (!ok).then(|| format!("{id}: next_run_at {next:?}"))
        })
        .collect()
}

/// Compares the keys the target got with the rows: every `succeeded` row's key arrived exactly
/// once; every key that arrived belongs to a row, `succeeded` or `interrupted` (a kill after
/// the request left); no key arrived twice. Returns how many keys belong to interrupted rows.
async fn key_problems(pool: &SqlitePool, stub: &Stub) -> Result<usize, String> {
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT job_id, scheduled_at, status FROM job_runs")
            .fetch_all(pool)
            .await
            .expect("runs");
    let (problems, interrupted) = key_problems_in(&rows, &stub.key_counts());
    ensure!(
        problems.is_empty(),
        "keys and rows disagree ({} problems): {:#?}",
        problems.len(),
        &problems[..problems.len().min(20)]
    );
    Ok(interrupted)
}

/// [`key_problems`] on `(job_id, scheduled_at, status)` rows already read (from either engine,
/// `scheduled_at` in the stored text) and the keys `sent` with their counts: the problems,
/// sorted, and how many keys belong to interrupted rows.
pub(crate) fn key_problems_in(
    rows: &[(String, String, String)],
    sent: &HashMap<String, u32>,
) -> (Vec<String>, usize) {
    let status_of: HashMap<String, &str> = rows
        .iter()
        .map(|(job, at, status)| (format!("{job}@{at}"), status.as_str()))
        .collect();
    let mut problems = Vec::new();
    let mut interrupted = 0;
    for (key, n) in sent {
        match status_of.get(key) {
            _ if *n > 1 => problems.push(format!("{key} sent {n} times")),
            Some(&"succeeded") => {}
            Some(&"interrupted") => interrupted += 1,
            Some(other) => problems.push(format!("{key} sent for a {other} row")),
            None => problems.push(format!("{key} sent for no row")),
        }
    }
    for (key, status) in &status_of {
        if *status == "succeeded" && !sent.contains_key(key) {
            problems.push(format!("{key} reads succeeded but was never sent"));
        }
    }
    problems.sort();
    (problems, interrupted)
}
